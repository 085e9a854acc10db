"""widget_builder.apis, the tenant REST API for widgets: list by cursor, create (the plan's
cap), read, update validated as the builder validates, publish, delete, rotate the identity
secret; roles, another workspace's ids, problem details, the OpenAPI document."""

from __future__ import annotations

import base64
import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from chat.models import AutomationRule
from tenants.models import Tenant, WidgetRoute
from tests.chat.factories import ContactFactory, ConversationFactory
from tests.hosts import PUBLIC_HOST
from tests.tenants.factories import ApiKeyFactory, MembershipFactory
from tests.widget_builder.factories import WidgetFactory
from tests.widget_builder.test_views import PNG_1PX
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"
BASE = "/api/v1/widgets"


def _client(tenant, user=None, secret=None) -> Client:
    client = Client(HTTP_HOST=tenant.host)
    if user is not None:
        client.force_login(user)
    if secret is not None:
        client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return client


def _post(client, path, body=None):
    return client.post(path, json.dumps(body or {}), content_type="application/json")


def _patch(client, path, body):
    return client.patch(path, json.dumps(body), content_type="application/json")


def _errors(response) -> dict:
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == PROBLEM
    return response.json()["errors"]


def _widget(seeded, **fields) -> Widget:
    with tenant_context(seeded.tenant):
        return WidgetFactory(**fields)


def _first(seeded) -> Widget:
    with tenant_context(seeded.tenant):
        return Widget.objects.order_by("id").first()


def _reload(seeded, widget) -> Widget:
    with tenant_context(seeded.tenant):
        return Widget.objects.get(pk=widget.pk)


def _plan(seeded, plan: str) -> None:
    Tenant.objects.filter(pk=seeded.tenant.pk).update(plan=plan)


# --- reading -------------------------------------------------------------------------------


def test_list_and_read_this_workspaces_widgets(tenant_a, tenant_b):
    mine = _widget(tenant_a, name="Help center")
    theirs = _first(tenant_b)
    owner = _client(tenant_a, tenant_a.owner)
    body = owner.get(BASE).json()
    assert {row["id"] for row in body["results"]} == {_first(tenant_a).pk, mine.pk}
    assert body["next_cursor"] is None
    one = owner.get(f"{BASE}/{mine.pk}")
    assert one.status_code == 200 and one.json()["name"] == "Help center"
    assert one.json()["status"] == "draft" and one.json()["key"] == mine.key
    assert "identity_secret" not in one.json() and mine.identity_secret not in one.content.decode()
    assert _first(tenant_a).pk in {row["id"] for row in body["results"]}
    assert theirs.key not in json.dumps(body)


def test_list_pages_with_a_cursor_in_each_ordering(tenant_a):
    for name in ("delta", "alpha", "echo", "charlie", "bravo"):
        _widget(tenant_a, name=name)
    owner = _client(tenant_a, tenant_a.owner)
    for ordering in ("name", "-name", "created_at", "-updated_at"):
        seen: list[str] = []
        path = f"{BASE}?limit=2&ordering={ordering}"
        for _ in range(10):
            body = owner.get(path).json()
            seen += [row["name"] for row in body["results"]]
            if body["next_cursor"] is None:
                break
            path = f"{BASE}?limit=2&ordering={ordering}&cursor={body['next_cursor']}"
        assert len(seen) == len(set(seen)) == 6, ordering
    names = [row["name"] for row in owner.get(f"{BASE}?ordering=name").json()["results"]]
    assert names[1:] == ["alpha", "bravo", "charlie", "delta", "echo"]


def test_bad_list_parameters_are_422_per_field(tenant_a):
    owner = _client(tenant_a, tenant_a.owner)
    errors = _errors(owner.get(f"{BASE}?ordering=key&limit=0&cursor=zzz"))
    assert set(errors) == {"ordering", "limit", "cursor"}
    assert errors["ordering"][0]["code"] == "invalid_choice"


# --- creating ------------------------------------------------------------------------------


def test_create_is_capped_by_the_plan_and_registers_the_key(tenant_a):
    owner = _client(tenant_a, tenant_a.owner)
    capped = _post(owner, BASE, {"name": "Second"})  # the Free plan has one widget
    assert capped.status_code == 403 and capped.json()["code"] == "quota_exceeded"
    _plan(tenant_a, "starter")
    created = _post(owner, BASE, {"name": "Second", "locale": "de"})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["name"] == "Second" and body["locale"] == "de" and body["status"] == "published"
    assert WidgetRoute.objects.filter(key=body["key"], tenant=tenant_a.tenant).exists()
    assert _errors(_post(owner, BASE, {}))["name"][0]["code"] == "required"
    assert _errors(_post(owner, BASE, {"name": "x", "locale": "xx"}))["locale"][0]["code"] == "invalid_choice"
    assert _errors(_post(owner, BASE, {"name": "x" * 121}))["name"][0]["code"] == "max_length"


def test_a_retried_create_with_an_idempotency_key_makes_one_widget(tenant_a):
    _plan(tenant_a, "pro")
    owner = _client(tenant_a, tenant_a.owner)
    first, again = (
        owner.post(
            BASE, json.dumps({"name": "Once"}), content_type="application/json", HTTP_IDEMPOTENCY_KEY="w-1"
        )
        for _ in range(2)
    )
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]
    with tenant_context(tenant_a.tenant):
        assert Widget.objects.filter(name="Once").count() == 1


# --- updating ------------------------------------------------------------------------------


def test_update_saves_a_draft_then_publish_serves_it(tenant_a, client):
    widget = _first(tenant_a)
    owner = _client(tenant_a, tenant_a.owner)
    response = _patch(
        owner,
        f"{BASE}/{widget.pk}",
        {
            "bot_name": "Sunny",
            "primary_color": "#1f4fd1",
            "text_color": "#ffffff",
            "suggested_questions": ["Do you ship abroad?", "What does it cost?"],
            "allowed_origins": ["https://shop.example.com", "https://*.example.org"],
            "prechat_enabled": True,
            "prechat_fields": [{"kind": "email", "label": "Email", "required": True}],
            "business_hours": {"tz": "Europe/Berlin", "days": {"mon": [["09:00", "17:00"]]}},
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["bot_name"] == "Sunny" and body["status"] == "unpublished_changes"
    assert body["allowed_origins"] == ["https://*.example.org", "https://shop.example.com"]
    saved = _reload(tenant_a, widget)
    assert saved.bot_name == "Sunny" and saved.customized_at is not None
    assert saved.name == widget.name and saved.greeting == widget.greeting  # left out: kept
    assert saved.published_config["bot_name"] != "Sunny"
    published = _post(owner, f"{BASE}/{widget.pk}/publish")
    assert published.status_code == 200 and published.json()["status"] == "published"
    config = client.get(
        f"/api/widget/v1/{widget.key}/config",
        HTTP_HOST=PUBLIC_HOST,
        HTTP_ORIGIN="https://shop.example.com",
    ).json()
    assert config["bot_name"] == "Sunny" and config["suggested_questions"][0] == "Do you ship abroad?"


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"primary_color": "blue"}, "primary_color", "invalid"),
        ({"primary_color": "#ffffff", "text_color": "#fefefe"}, "text_color", "invalid"),
        ({"offset_x": 500}, "offset_x", "max_value"),
        ({"name": ""}, "name", "required"),
        ({"allowed_origins": ["ftp://nope"]}, "allowed_origins", "invalid"),
        ({"allowed_origins": ["https://a.example\nhttps://b.example"]}, "allowed_origins.0", "invalid"),
        ({"suggested_questions": ["a", "b", "c", "d", "e"]}, "suggested_questions", "invalid"),
        ({"suggested_questions": ["fine", "x" * 130]}, "suggested_questions.1", "invalid"),
        ({"prechat_fields": [{"kind": "email"}, {"kind": "nope"}]}, "prechat_fields.1", None),
        (
            {"business_hours": {"tz": "UTC", "days": {"tue": [["10:00", "09:00"]]}}},
            "business_hours.tue",
            None,
        ),
        ({"show_branding": False}, "show_branding", "invalid"),
        ({"custom_css": "x" * 10001}, "custom_css", "invalid"),
        ({"position": "top"}, "position", "invalid_choice"),
        ({"consent_url": "not a url"}, "consent_url", "invalid"),
        ({"avatar": "https://example.com/a.png"}, "avatar", "invalid"),
        ({"prechat_fields": "email"}, "prechat_fields", "not_a_list"),
    ],
)
def test_update_is_validated_as_the_builder_validates(tenant_a, changes, field, code):
    widget = _first(tenant_a)
    response = _patch(
        _client(tenant_a, tenant_a.owner), f"{BASE}/{widget.pk}", {"bot_name": "Changed", **changes}
    )
    errors = _errors(response)
    assert field in errors, errors
    if code:
        assert errors[field][0]["code"] == code, errors
    assert _reload(tenant_a, widget).bot_name == widget.bot_name  # all or nothing


def test_one_update_reports_every_mistake(tenant_a):
    widget = _first(tenant_a)
    errors = _errors(
        _patch(
            _client(tenant_a, tenant_a.owner),
            f"{BASE}/{widget.pk}",
            {"primary_color": "nope", "allowed_origins": ["ftp://x"], "suggested_questions": ["x" * 200]},
        )
    )
    assert {"primary_color", "allowed_origins", "suggested_questions.0"} <= set(errors)


def test_images_are_data_uris_checked_by_their_bytes(tenant_a):
    widget = _first(tenant_a)
    owner = _client(tenant_a, tenant_a.owner)
    path = f"{BASE}/{widget.pk}"
    svg = "data:image/png;base64," + base64.b64encode(b"<svg onload=alert(1)></svg>").decode()
    assert "PNG, JPEG" in _errors(_patch(owner, path, {"avatar": svg}))["avatar"][0]["message"]
    big = "data:image/png;base64," + base64.b64encode(PNG_1PX + b"0" * 200_000).decode()
    too_big = _patch(owner, path, {"launcher_image": big})  # beyond any JSON body taken
    assert too_big.status_code == 413 and too_big.json()["code"] == "payload_too_large"
    broken = _patch(owner, path, {"avatar": "data:image/png;base64,abc"})
    assert _errors(broken)["avatar"][0]["message"] == "This is not valid base64."
    png = "data:image/png;base64," + base64.b64encode(PNG_1PX).decode()
    saved = _patch(owner, path, {"avatar": png})
    assert saved.status_code == 200 and saved.json()["avatar"] == png
    again = _patch(owner, path, {**saved.json(), "id": None})  # what was read, sent back
    assert again.status_code == 200 and again.json()["avatar"] == png
    removed = _patch(owner, path, {"remove_images": True})
    assert removed.status_code == 200 and removed.json()["avatar"] == ""


def test_branding_can_be_removed_on_plans_that_allow_it(tenant_a):
    widget = _first(tenant_a)
    _plan(tenant_a, "pro")
    response = _patch(_client(tenant_a, tenant_a.owner), f"{BASE}/{widget.pk}", {"show_branding": False})
    assert response.status_code == 200 and response.json()["show_branding"] is False


# --- deleting, secrets ---------------------------------------------------------------------


def test_delete_takes_the_key_out_of_the_registry_and_keeps_widgets_with_conversations(tenant_a):
    _plan(tenant_a, "starter")
    owner = _client(tenant_a, tenant_a.owner)
    created = _post(owner, BASE, {"name": "Temporary"}).json()
    with tenant_context(tenant_a.tenant):
        AutomationRule.objects.create(widget_id=created["id"], kind="greeting", name="Hi", reply="Hello")
    gone = owner.delete(f"{BASE}/{created['id']}")
    assert gone.status_code == 204
    with tenant_context(tenant_a.tenant):
        assert not Widget.objects.filter(pk=created["id"]).exists()
        assert not AutomationRule.objects.filter(widget_id=created["id"]).exists()
    assert not WidgetRoute.objects.filter(key=created["key"]).exists()
    assert owner.get(f"{BASE}/{created['id']}").status_code == 404

    used = _first(tenant_a)
    with tenant_context(tenant_a.tenant):
        ConversationFactory(widget=used, contact=ContactFactory(widget=used))
    kept = owner.delete(f"{BASE}/{used.pk}")
    assert kept.status_code == 409 and kept.json()["code"] == "widget_has_conversations"
    assert _reload(tenant_a, used).pk == used.pk


def test_rotate_secret_shows_the_new_one_once(tenant_a):
    widget = _first(tenant_a)
    owner = _client(tenant_a, tenant_a.owner)
    response = _post(owner, f"{BASE}/{widget.pk}/rotate-secret")
    assert response.status_code == 200, response.content
    secret = response.json()["identity_secret"]
    assert secret != widget.identity_secret and _reload(tenant_a, widget).identity_secret == secret
    assert secret not in owner.get(f"{BASE}/{widget.pk}").content.decode()


def _theirs(tenant_a, tenant_b) -> Widget:
    """A widget of workspace B whose id names none in A (each schema counts its own ids)."""
    with tenant_context(tenant_a.tenant):
        mine = set(Widget.objects.values_list("pk", flat=True))
    with tenant_context(tenant_b.tenant):
        while (theirs := WidgetFactory(name="MARKER-B widget")).pk in mine:
            pass
    return theirs


def test_another_workspaces_widget_is_404(tenant_a, tenant_b):
    theirs = _theirs(tenant_a, tenant_b)
    owner = _client(tenant_a, tenant_a.owner)
    calls = [
        owner.get(f"{BASE}/{theirs.pk}"),
        _patch(owner, f"{BASE}/{theirs.pk}", {"bot_name": "Hijacked"}),
        _post(owner, f"{BASE}/{theirs.pk}/publish"),
        _post(owner, f"{BASE}/{theirs.pk}/rotate-secret"),
        owner.delete(f"{BASE}/{theirs.pk}"),
    ]
    for response in calls:
        assert response.status_code == 404 and response["Content-Type"] == PROBLEM
        assert theirs.key not in response.content.decode()
    after = _reload(tenant_b, theirs)
    assert after.bot_name == theirs.bot_name and after.identity_secret == theirs.identity_secret


# --- who may --------------------------------------------------------------------------------


def _caller(tenant_a, tenant_b, caller) -> Client:
    if caller.startswith("key:"):
        return _client(tenant_a, secret=ApiKeyFactory(tenant=tenant_a.tenant, role=caller[4:]).secret)
    if caller == "stranger":
        return _client(tenant_a, tenant_b.owner)
    if caller == "anonymous":
        return _client(tenant_a)
    if caller == "owner":
        return _client(tenant_a, tenant_a.owner)
    return _client(tenant_a, MembershipFactory(tenant=tenant_a.tenant, role=caller).user)


@pytest.mark.parametrize(
    "caller", ["owner", "admin", "agent", "key:admin", "key:agent", "stranger", "anonymous"]
)
def test_role_matrix(tenant_a, tenant_b, caller):
    _plan(tenant_a, "pro")
    widget = _widget(tenant_a, name="Spare")
    client = _caller(tenant_a, tenant_b, caller)
    reads = [client.get(BASE), client.get(f"{BASE}/{widget.pk}")]
    writes = [
        _post(client, BASE, {"name": "New"}),
        _patch(client, f"{BASE}/{widget.pk}", {"bot_name": "Changed"}),
        _post(client, f"{BASE}/{widget.pk}/publish"),
        _post(client, f"{BASE}/{widget.pk}/rotate-secret"),
        client.delete(f"{BASE}/{widget.pk}"),
    ]
    managers = caller in ("owner", "admin", "key:admin")
    for response in reads + writes:
        expected = {"anonymous": {401}, "stranger": {404}}.get(caller)
        if expected is None:
            expected = {200, 201, 204} if managers or response in reads else {403}
        assert response.status_code in expected, (caller, response.request["PATH_INFO"], response.status_code)
        if response.status_code >= 400:
            assert response["Content-Type"] == PROBLEM
    if not managers:
        assert _reload(tenant_a, widget).bot_name == widget.bot_name


def test_openapi_schema_lists_the_widget_endpoints(tenant_a, tmp_path):
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
    for path in (
        BASE,
        BASE + "/{widget_id}",
        BASE + "/{widget_id}/publish",
        BASE + "/{widget_id}/rotate-secret",
    ):
        assert path in schema["paths"], path
    detail = schema["paths"][BASE + "/{widget_id}"]
    assert {"get", "patch", "delete"} <= set(detail)
    assert {"200", "404", "422"} <= set(detail["patch"]["responses"])
    assert "409" in detail["delete"]["responses"]
    # Every operation of the widgets (and their bot and automations) and of the canned
    # replies has an example and an operation id.
    ours = [
        (path, method, operation)
        for path, operations in schema["paths"].items()
        if path.startswith((BASE, "/api/v1/canned-replies"))
        for method, operation in operations.items()
        if method in ("get", "post", "patch", "delete")
    ]
    assert len(ours) >= 21
    for path, method, operation in ours:
        assert operation["operationId"] and operation["tags"], (method, path)
        assert "'examples'" in str(operation), (method, path)
