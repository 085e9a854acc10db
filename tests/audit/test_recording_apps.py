"""The apps' changes in the workspace audit log: widgets, the bot (its own LLM key never
logged), automations, inbox settings, knowledge, webhooks and CSV exports. Each records
exactly one event, in the service's transaction, naming who made it: the member of a page,
the API key of an API call, or the system when nobody asked."""

from __future__ import annotations

import json

import pytest
from django_tenants.utils import tenant_context

from audit.models import AuditEvent
from billing.plans import plan_get
from chat.services import (
    automation_rule_create,
    automation_rule_delete,
    automation_rule_toggle,
    automation_rule_update,
    bot_settings_update,
)
from chat.services.agents import inbox_settings_update
from knowledge import services as knowledge_services
from knowledge.models import KnowledgeBase, Source
from tests.audit.conftest import key_client
from tests.chat.factories import ContactFactory
from webhooks import services as webhook_services
from webhooks.models import Endpoint
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db
KEY = "sk-own-key-1234-abcdefgh"
API_KEY = AuditEvent.ActorKind.API_KEY
MEMBER = AuditEvent.ActorKind.MEMBER


@pytest.fixture
def ws(tenant_a):
    with tenant_context(tenant_a.tenant):
        yield tenant_a


def test_widgets_through_the_api_are_the_keys_doing(tenant_a, admin_key, log, seats):
    api = key_client(tenant_a, admin_key)
    created = api.post("/api/v1/widgets", {"name": "Docs chat"}, content_type="application/json")
    assert created.status_code == 201
    widget_id = created.json()["id"]
    event = log.one("widget.created")
    assert (event.actor_kind, event.actor_id, event.target_id) == (API_KEY, admin_key.pk, str(widget_id))

    api.patch(f"/api/v1/widgets/{widget_id}", {"greeting": "Hello there!"}, content_type="application/json")
    updated = log.one("widget.updated")
    assert "greeting" in updated.metadata["changed"]
    assert updated.metadata["greeting"]["to"] == "Hello there!"
    assert updated.metadata["published"] is False

    assert api.post(f"/api/v1/widgets/{widget_id}/publish").status_code == 200
    log.one("widget.published")
    secret = api.post(f"/api/v1/widgets/{widget_id}/rotate-secret").json()
    rotated = log.one("widget.secret_rotated")
    assert rotated.metadata == {}
    assert api.delete(f"/api/v1/widgets/{widget_id}").status_code == 204
    deleted = log.one("widget.deleted")
    assert (deleted.target_id, deleted.target_repr) == (str(widget_id), "Docs chat")

    assert [e.action for e in log.new()] == [
        "widget.created",
        "widget.updated",
        "widget.published",
        "widget.secret_rotated",
        "widget.deleted",
    ]
    with tenant_context(tenant_a.tenant):
        assert not Widget.objects.filter(pk=widget_id).exists()
    assert all(str(v) not in json.dumps([e.metadata for e in log.new()]) for v in secret.values())


def test_the_bot_records_its_settings_and_its_key_but_never_the_key(ws, member_request, log, settings):
    widget = Widget.objects.order_by("id").first()
    starter = plan_get("starter")
    bot_settings_update(
        widget=widget, plan=starter, provider="openai", key_source="own", api_key=KEY, request=member_request
    )
    changed = log.one("bot.settings_changed")
    assert changed.metadata["provider"]["to"] == "openai"
    assert (changed.actor_kind, changed.target_type, changed.target_id) == (MEMBER, "widget", str(widget.pk))
    key_set = log.one("bot.llm_key_set")
    assert key_set.metadata == {"provider": "openai"}

    bot_settings_update(widget=widget, plan=starter, persona="Be brief.", request=member_request)
    persona = [e for e in log.new() if e.action == "bot.settings_changed"][-1]
    assert persona.metadata["changed"] == ["persona"]
    assert persona.metadata["persona"]["to"] == "Be brief."

    bot_settings_update(
        widget=widget, plan=starter, key_source="platform", remove_key=True, request=member_request
    )
    log.one("bot.llm_key_removed")
    stored = json.dumps([e.metadata for e in log.new()])
    assert KEY not in stored and KEY[-4:] not in stored


def test_automations_are_recorded_created_changed_and_deleted(ws, member_request, log):
    widget = Widget.objects.order_by("id").first()
    rule = automation_rule_create(
        widget=widget,
        kind="keyword",
        name="Refunds",
        pattern="refund",
        reply="See policy.",
        request=member_request,
    )
    automation_rule_update(rule=rule, name="Refunds (EU)", request=member_request)
    automation_rule_update(rule=rule, name="Refunds (EU)", request=member_request)  # nothing changes
    automation_rule_delete(rule=rule, request=member_request)
    assert [e.action for e in log.new()] == ["automation.created", "automation.updated", "automation.deleted"]
    assert log.one("automation.updated").metadata["name"] == {"from": "Refunds", "to": "Refunds (EU)"}
    assert log.one("automation.deleted").target_repr == "Refunds (EU)"


def test_inbox_settings_record_old_and_new_values(ws, member_request, log):
    inbox_settings_update(visibility="widgets", request=member_request)
    event = log.one("inbox.settings_changed")
    assert event.metadata["visibility"] == {"from": "all", "to": "widgets"}


def test_knowledge_bases_and_sources(tenant_a, admin_key, member_request, log):
    api = key_client(tenant_a, admin_key)
    created = api.post(
        "/api/v1/knowledge-bases",
        {"name": "Returns", "language": "english"},
        content_type="application/json",
    )
    kb_id = created.json()["id"]
    assert log.one("knowledge_base.created").actor_id == admin_key.pk
    source = api.post(
        f"/api/v1/knowledge-bases/{kb_id}/sources",
        {"kind": "text", "title": "Return policy", "text": "Returns within 30 days."},
        content_type="application/json",
    ).json()
    added = log.one("source.added")
    assert (added.target_id, added.target_repr, added.metadata["kind"]) == (
        str(source["id"]),
        "Return policy",
        "text",
    )
    assert "30 days" not in json.dumps(added.metadata)  # the source's words are not logged

    with tenant_context(tenant_a.tenant):
        kb = KnowledgeBase.objects.get(pk=kb_id)
        knowledge_services.source_add_url(
            kb=kb, url="https://93.184.215.14/faq?token=abc", request=member_request
        )
        url_source = [e for e in log.new() if e.action == "source.added"][-1]
        assert url_source.target_repr == "https://93.184.215.14/faq"  # no query: it may carry a token
        knowledge_services.source_delete(source=Source.objects.get(pk=source["id"]), request=member_request)
    assert log.one("source.deleted").actor_kind == MEMBER
    assert api.delete(f"/api/v1/knowledge-bases/{kb_id}").status_code == 204
    deleted = log.one("knowledge_base.deleted")
    assert deleted.metadata == {"name": "Returns", "sources": 1}


def test_webhook_endpoints_never_log_their_secret_or_the_urls_query(ws, member_request, log, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    endpoint = webhook_services.endpoint_create(
        url="https://hooks.example.com/in?token=s3cret",
        event_types=["conversation.created"],
        request=member_request,
    )
    created = log.one("webhook_endpoint.created")
    assert created.target_repr == "https://hooks.example.com/in" and created.target_id == str(
        endpoint.public_id
    )
    webhook_services.endpoint_update(
        endpoint=endpoint,
        url="https://hooks.example.com/in?token=s3cret",
        description="CRM",
        event_types=["conversation.created"],
        request=member_request,
    )
    assert log.one("webhook_endpoint.updated").metadata["description"] == {"from": "", "to": "CRM"}
    rotated = webhook_services.endpoint_secret_rotate(endpoint=endpoint, request=member_request)
    log.one("webhook_endpoint.secret_rotated")
    webhook_services.endpoint_delete(endpoint=Endpoint.objects.get(pk=endpoint.pk), request=member_request)
    log.one("webhook_endpoint.deleted")
    stored = json.dumps([[e.metadata, e.target_repr] for e in log.new()])
    assert "s3cret" not in stored and rotated.secret not in stored and rotated.previous_secret not in stored


def test_a_csv_export_is_recorded_with_the_pages_filters(owner_client, tenant_a, log):
    with tenant_context(tenant_a.tenant):
        ContactFactory(widget=Widget.objects.order_by("id").first(), email="lead@example.com")
    response = owner_client.post("/dashboard/contacts/export?q=lead&everyone=on")
    assert response.status_code == 200
    event = log.one("export.requested")
    assert event.metadata["kind"] == "contacts" and event.metadata["filters"] == {
        "q": "lead",
        "everyone": "on",
    }
    assert event.metadata["background"] is False and event.actor_id == tenant_a.owner.pk
    assert "lead@example.com" not in json.dumps(event.metadata)


def test_without_a_request_the_system_is_the_actor(ws, log):
    inbox_settings_update(auto_assign=False)
    event = log.one("inbox.settings_changed")
    assert (event.actor_kind, event.actor_id, event.actor_label) == ("system", None, "")


def test_toggling_an_automation_and_a_webhook_endpoint_are_updates(ws, member_request, log, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    rule = automation_rule_create(
        widget=Widget.objects.order_by("id").first(),
        kind="keyword",
        name="Hours",
        pattern="open",
        reply="9-17",
    )
    endpoint = webhook_services.endpoint_create(
        url="https://hooks.example.com/a", event_types=["conversation.created"]
    )
    mark = log.new()[-1].pk
    automation_rule_toggle(rule=rule, request=member_request)
    webhook_services.endpoint_disable(endpoint=endpoint, request=member_request)
    webhook_services.endpoint_enable(endpoint=endpoint, request=member_request)
    later = [e for e in log.new() if e.pk > mark]
    assert [(e.action, e.metadata.get("is_enabled")) for e in later] == [
        ("automation.updated", {"from": True, "to": False}),
        ("webhook_endpoint.updated", {"from": True, "to": False}),
        ("webhook_endpoint.updated", {"from": False, "to": True}),
    ]
    assert {e.actor_kind for e in later} == {MEMBER}


def test_an_export_too_large_to_stream_is_recorded_as_a_job(
    owner_client, tenant_a, log, settings, monkeypatch
):
    settings.EXPORTS_BACKGROUND_ROWS = 0
    monkeypatch.setattr("exports.services.enqueue_on_commit", lambda *args, **kwargs: None)
    with tenant_context(tenant_a.tenant):
        ContactFactory(widget=Widget.objects.order_by("id").first(), email="lead@example.com")
    assert owner_client.post("/dashboard/contacts/export?everyone=on").status_code == 302
    event = log.one("export.requested")
    assert event.metadata["background"] is True and event.metadata["rows"] >= 1
    assert event.target_repr == "Contacts"
