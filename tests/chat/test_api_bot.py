"""chat.apis_bot, the tenant REST API for a widget's bot settings and automations: read,
change through the dashboard's services and their rules, list by cursor, enable/disable;
roles, another workspace's ids, problem details, the OpenAPI document."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from chat.models import AutomationRule, BotSettings
from chat.selectors import automations_for
from tenants.models import Tenant
from tests.chat.factories import AutomationFiringFactory, AutomationRuleFactory
from tests.knowledge.factories import KnowledgeBaseFactory
from tests.tenants.factories import ApiKeyFactory, MembershipFactory
from tests.widget_builder.factories import WidgetFactory
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


def _client(tenant, user=None, secret=None) -> Client:
    client = Client(HTTP_HOST=tenant.host)
    if user is not None:
        client.force_login(user)
    if secret is not None:
        client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return client


def _send(client, method, path, body=None):
    return getattr(client, method)(path, json.dumps(body or {}), content_type="application/json")


def _errors(response) -> dict:
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == PROBLEM
    return response.json()["errors"]


def _first(seeded) -> Widget:
    with tenant_context(seeded.tenant):
        return Widget.objects.order_by("id").first()


def _bot_path(widget) -> str:
    return f"/api/v1/widgets/{widget.pk}/bot"


def _rules_path(widget) -> str:
    return f"/api/v1/widgets/{widget.pk}/automations"


def _rule(seeded, widget=None, **fields) -> AutomationRule:
    with tenant_context(seeded.tenant):
        return AutomationRuleFactory(widget=widget or Widget.objects.order_by("id").first(), **fields)


def _theirs(tenant_a, tenant_b) -> Widget:
    """A widget of workspace B whose id names none in A (each schema counts its own ids)."""
    with tenant_context(tenant_a.tenant):
        mine = set(Widget.objects.values_list("pk", flat=True))
    with tenant_context(tenant_b.tenant):
        while (theirs := WidgetFactory(name="MARKER-B widget")).pk in mine:
            pass
    return theirs


# --- bot settings --------------------------------------------------------------------------


def test_bot_settings_read_the_defaults_then_change(tenant_a):
    widget = _first(tenant_a)
    owner = _client(tenant_a, tenant_a.owner)
    read = owner.get(_bot_path(widget))
    assert read.status_code == 200, read.content
    assert read.json()["provider"] == "platform" and read.json()["updated_at"] is None
    with tenant_context(tenant_a.tenant):
        assert not BotSettings.objects.filter(widget=widget).exists()  # reading creates nothing
        kb = KnowledgeBaseFactory(name="Docs")
    changed = _send(
        owner,
        "patch",
        _bot_path(widget),
        {
            "persona": "You answer for Acme.",
            "temperature": 0.1,
            "knowledge_bases": [kb.pk],
            "attachment_kinds": ["pdf"],
            "handoff_phrases": {"en": ["speak to sales"]},
            "files_as_context": True,
        },
    )
    assert changed.status_code == 200, changed.content
    body = changed.json()
    assert read.json()["files_as_context"] is False and body["files_as_context"] is True  # off by default
    assert body["persona"] == "You answer for Acme." and body["knowledge_bases"] == [kb.pk]
    assert body["attachment_kinds"] == ["pdf"] and body["handoff_phrases"] == {"en": ["speak to sales"]}
    assert body["updated_at"] and body["max_answer_tokens"] == 600  # left out: kept
    with tenant_context(tenant_a.tenant):
        stored = BotSettings.objects.get(widget=widget)
        assert stored.temperature == 0.1 and list(stored.knowledge_bases.all()) == [kb]
        assert stored.files_as_context is True


def test_bot_settings_keep_the_services_rules(tenant_a, settings):
    settings.LLM_ALLOW_PRIVATE_BASE_URLS = False
    widget = _first(tenant_a)
    owner = _client(tenant_a, tenant_a.owner)
    path = _bot_path(widget)
    assert _errors(_send(owner, "patch", path, {"temperature": 3}))["temperature"][0]["code"] == "max_value"
    assert (
        _errors(_send(owner, "patch", path, {"provider": "nope"}))["provider"][0]["code"] == "invalid_choice"
    )
    assert _errors(_send(owner, "patch", path, {"knowledge_bases": [999999]}))["knowledge_bases"]
    assert "handoff_phrases" in _errors(_send(owner, "patch", path, {"handoff_phrases": {"xx": ["hi"]}}))
    # an own key needs a plan that allows it (the workspace is on Free)
    own = _send(owner, "patch", path, {"provider": "anthropic", "key_source": "own", "api_key": "sk-ant-1"})
    assert _errors(own)["key_source"][0]["code"] == "plan_upgrade_required"
    Tenant.objects.filter(pk=tenant_a.tenant.pk).update(plan="pro")
    assert _errors(_send(owner, "patch", path, {"provider": "openai", "key_source": "own"}))["api_key"]
    saved = _send(
        owner, "patch", path, {"provider": "openai", "key_source": "own", "api_key": "sk-secret-7781"}
    )
    assert saved.status_code == 200 and saved.json()["has_api_key"] is True
    assert "sk-secret" not in saved.content.decode() and saved.json()["api_key_hint"]
    local = {"provider": "openai_compatible", "base_url": "http://127.0.0.1:11434/v1"}
    assert _errors(_send(owner, "patch", path, local))["base_url"][0]["code"] == "unsafe_address"
    with tenant_context(tenant_a.tenant):
        assert BotSettings.objects.get(widget=widget).provider == "openai"


# --- automations ---------------------------------------------------------------------------


def test_automations_create_list_update_toggle_delete(tenant_a):
    widget = _first(tenant_a)
    owner = _client(tenant_a, tenant_a.owner)
    created = _send(
        owner,
        "post",
        _rules_path(widget),
        {"kind": "keyword", "name": "Hours", "pattern": "hours, open", "reply": "9 to 17."},
    )
    assert created.status_code == 201, created.content
    rule = created.json()
    assert rule["widget_id"] == widget.pk and rule["is_enabled"] and rule["fire_count"] == 0
    path = f"{_rules_path(widget)}/{rule['id']}"
    assert owner.get(path).json()["name"] == "Hours"
    updated = _send(owner, "patch", path, {"reply": "8 to 18."})
    assert updated.status_code == 200 and updated.json()["reply"] == "8 to 18."
    assert updated.json()["pattern"] == "hours, open"
    disabled = _send(owner, "post", path + "/disable")
    assert disabled.status_code == 200 and disabled.json()["is_enabled"] is False
    with tenant_context(tenant_a.tenant):
        assert rule["id"] not in {r.pk for r in automations_for(widget)}
    assert _send(owner, "post", path + "/disable").json()["is_enabled"] is False  # again: unchanged
    assert _send(owner, "post", path + "/enable").json()["is_enabled"] is True
    listed = owner.get(_rules_path(widget) + "?is_enabled=true&kind=keyword").json()["results"]
    assert [r["id"] for r in listed] == [rule["id"]]
    assert owner.delete(path).status_code == 204
    assert owner.get(path).status_code == 404


def test_automation_list_counts_firings_and_pages(tenant_a):
    widget = _first(tenant_a)
    with tenant_context(tenant_a.tenant):
        other = WidgetFactory(name="other")
    rules = [_rule(tenant_a, widget, position=n) for n in range(5)]
    _rule(tenant_a, other)
    with tenant_context(tenant_a.tenant):
        AutomationFiringFactory(rule=rules[0])
        AutomationFiringFactory(rule=rules[0])
    owner = _client(tenant_a, tenant_a.owner)
    for ordering in ("position", "-created_at", "name"):
        seen: list[int] = []
        path = f"{_rules_path(widget)}?limit=2&ordering={ordering}"
        for _ in range(10):
            body = owner.get(path).json()
            seen += [row["id"] for row in body["results"]]
            if body["next_cursor"] is None:
                break
            path = f"{_rules_path(widget)}?limit=2&ordering={ordering}&cursor={body['next_cursor']}"
        assert len(seen) == len(set(seen)) == 5 and set(seen) == {r.pk for r in rules}, ordering
    first = owner.get(_rules_path(widget)).json()["results"][0]
    assert first["id"] == rules[0].pk and first["fire_count"] == 2 and first["last_fired_at"]
    errors = _errors(owner.get(f"{_rules_path(widget)}?ordering=reply&kind=x&cursor=zz"))
    assert set(errors) == {"ordering", "kind", "cursor"}


def test_automation_input_is_422_per_field(tenant_a):
    widget = _first(tenant_a)
    owner = _client(tenant_a, tenant_a.owner)
    path = _rules_path(widget)
    errors = _errors(_send(owner, "post", path, {}))
    assert {"kind", "name", "reply"} <= set(errors)
    bad_regex = {"kind": "regex", "name": "R", "pattern": "(?<=x)y", "reply": "r"}
    assert _errors(_send(owner, "post", path, bad_regex))["pattern"][0]["code"] == "invalid_pattern"
    no_keywords = {"kind": "keyword", "name": "K", "pattern": " , ", "reply": "r"}
    assert _errors(_send(owner, "post", path, no_keywords))["pattern"][0]["code"] == "invalid_pattern"
    assert _errors(_send(owner, "post", path, {**no_keywords, "position": -1}))["position"]
    rule = _rule(tenant_a, widget)
    refused = _send(owner, "patch", f"{path}/{rule.pk}", {"kind": "regex", "pattern": "(a"})
    assert _errors(refused)["pattern"][0]["code"] == "invalid_pattern"
    with tenant_context(tenant_a.tenant):
        assert AutomationRule.objects.get(pk=rule.pk).kind == "keyword"


def test_another_workspaces_widget_or_another_widgets_rule_is_404(tenant_a, tenant_b):
    with tenant_context(tenant_a.tenant):
        sibling = WidgetFactory(name="sibling")  # first: B's widget is then given an id A has not
    sibling_rule = _rule(tenant_a, sibling)
    theirs = _theirs(tenant_a, tenant_b)
    their_rule = _rule(tenant_b, theirs, reply="MARKER-B reply")
    owner = _client(tenant_a, tenant_a.owner)
    mine = _first(tenant_a)
    calls = [
        owner.get(_bot_path(theirs)),
        _send(owner, "patch", _bot_path(theirs), {"persona": "x"}),
        owner.get(_rules_path(theirs)),
        _send(owner, "post", _rules_path(theirs), {"kind": "greeting", "name": "g", "reply": "r"}),
        owner.get(f"{_rules_path(theirs)}/{their_rule.pk}"),
        owner.get(f"{_rules_path(mine)}/{sibling_rule.pk}"),
        _send(owner, "patch", f"{_rules_path(mine)}/{sibling_rule.pk}", {"name": "moved"}),
        _send(owner, "post", f"{_rules_path(mine)}/{sibling_rule.pk}/disable"),
        owner.delete(f"{_rules_path(mine)}/{sibling_rule.pk}"),
    ]
    for response in calls:
        assert response.status_code == 404 and response["Content-Type"] == PROBLEM, response.content
        assert "MARKER-B" not in response.content.decode()
    with tenant_context(tenant_a.tenant):
        assert AutomationRule.objects.get(pk=sibling_rule.pk).is_enabled
    with tenant_context(tenant_b.tenant):
        assert not BotSettings.objects.filter(widget=theirs).exists()


# --- who may --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "caller", ["owner", "admin", "agent", "key:admin", "key:agent", "stranger", "anonymous"]
)
def test_role_matrix(tenant_a, tenant_b, caller):
    widget = _first(tenant_a)
    rule = _rule(tenant_a, widget)
    if caller.startswith("key:"):
        client = _client(tenant_a, secret=ApiKeyFactory(tenant=tenant_a.tenant, role=caller[4:]).secret)
    elif caller == "stranger":
        client = _client(tenant_a, tenant_b.owner)
    elif caller == "anonymous":
        client = _client(tenant_a)
    elif caller == "owner":
        client = _client(tenant_a, tenant_a.owner)
    else:
        client = _client(tenant_a, MembershipFactory(tenant=tenant_a.tenant, role=caller).user)
    rule_path = f"{_rules_path(widget)}/{rule.pk}"
    responses = [
        client.get(_bot_path(widget)),
        _send(client, "patch", _bot_path(widget), {"persona": "Changed"}),
        client.get(_rules_path(widget)),
        _send(client, "post", _rules_path(widget), {"kind": "greeting", "name": "Hi", "reply": "Hello"}),
        client.get(rule_path),
        _send(client, "patch", rule_path, {"name": "Renamed"}),
        _send(client, "post", rule_path + "/disable"),
        _send(client, "post", rule_path + "/enable"),
        client.delete(rule_path),
    ]
    # The bot and automations pages are the managers' (reading included).
    expected = {"anonymous": {401}, "stranger": {404}, "agent": {403}, "key:agent": {403}}.get(
        caller, {200, 201, 204}
    )
    for response in responses:
        assert response.status_code in expected, (caller, response.request["PATH_INFO"], response.status_code)
        if response.status_code >= 400:
            assert response["Content-Type"] == PROBLEM
    if expected == {403}:
        with tenant_context(tenant_a.tenant):
            assert AutomationRule.objects.get(pk=rule.pk).name == rule.name
            assert not BotSettings.objects.filter(widget=widget).exists()


def test_openapi_schema_lists_the_bot_and_automation_endpoints(tenant_a, tmp_path):
    call_command(
        "spectacular",
        "--urlconf",
        "saas.urls_tenant",
        "--validate",
        "--fail-on-warn",
        "--file",
        str(tmp_path / "schema.yml"),
    )
    connection.set_schema_to_public()
    schema = _client(tenant_a).get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    base = "/api/v1/widgets/{widget_id}"
    for path, methods in (
        (base + "/bot", {"get", "patch"}),
        (base + "/automations", {"get", "post"}),
        (base + "/automations/{rule_id}", {"get", "patch", "delete"}),
        (base + "/automations/{rule_id}/enable", {"post"}),
        (base + "/automations/{rule_id}/disable", {"post"}),
    ):
        assert methods <= set(schema["paths"][path]), path
    assert (
        schema["paths"][base + "/automations/{rule_id}/enable"]["post"]["operationId"]
        == "widget_automations_enable"
    )
    assert schema["paths"][base + "/automations/{rule_id}/disable"]["post"]["operationId"] == (
        "widget_automations_disable"
    )
    patch = schema["paths"][base + "/bot"]["patch"]
    assert "examples" in patch["requestBody"]["content"]["application/json"]
    assert {"200", "404", "422"} <= set(patch["responses"])
