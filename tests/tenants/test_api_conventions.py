"""The conventions every workspace API endpoint keeps (tenants.api_base.TenantAPIView):
a limit per API key and per person with RateLimit-* headers on every answer, and an
Idempotency-Key on every POST (a retry gets the first answer, nothing is done twice, the
same key with another request is refused; two concurrent calls: test_api_idempotency_race);
timestamps in RFC 3339, UTC."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from chat.models import Conversation, Message
from saas.idempotency.models import IdempotencyRecord
from saas.idempotency.store import idempotency_claim
from tenants.tasks import tenants_housekeeping
from tests.chat.factories import ConversationFactory
from tests.tenants.factories import ApiKeyFactory
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


def _client(tenant, *, user=None, secret=None) -> Client:
    client = Client(HTTP_HOST=tenant.host)
    if user is not None:
        client.force_login(user)
    if secret is not None:
        client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return client


def _conversation(tenant) -> Conversation:
    with tenant_context(tenant):
        return ConversationFactory(widget=Widget.objects.order_by("id").first())


def _reply(client, conversation, text="We ship worldwide.", key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(
        f"/api/v1/conversations/{conversation.pk}/messages",
        json.dumps({"text": text}),
        content_type="application/json",
        **headers,
    )


def _replies(tenant, conversation) -> list[Message]:
    with tenant_context(tenant):
        return list(Message.objects.filter(conversation=conversation, role=Message.Role.AGENT))


# --- rate limits ---------------------------------------------------------------------------


def test_every_answer_says_where_the_caller_stands(tenant_a):
    client = _client(tenant_a, user=tenant_a.owner)
    first, second = client.get("/api/v1/tenant"), client.get("/api/v1/members")
    assert first.status_code == second.status_code == 200
    assert first["RateLimit-Limit"] == "1200"
    assert int(first["RateLimit-Remaining"]) == int(second["RateLimit-Remaining"]) + 1
    assert 1 <= int(first["RateLimit-Reset"]) <= 60


def test_over_the_limit_is_429_with_retry_after_and_each_key_has_its_own(tenant_a, settings):
    settings.API_RATE_LIMITS = {"key_per_minute": 2, "session_per_minute": 5}
    key_a, key_b = ApiKeyFactory(tenant=tenant_a.tenant), ApiKeyFactory(tenant=tenant_a.tenant)
    a, b = _client(tenant_a, secret=key_a.secret), _client(tenant_a, secret=key_b.secret)
    assert [a.get("/api/v1/tenant").status_code for _ in range(2)] == [200, 200]
    refused = a.get("/api/v1/tenant")
    assert refused.status_code == 429 and refused["Content-Type"] == PROBLEM
    assert refused.json()["code"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused["RateLimit-Remaining"] == "0" and refused["RateLimit-Limit"] == "2"
    assert b.get("/api/v1/tenant").status_code == 200  # another key: its own budget


# --- idempotency ---------------------------------------------------------------------------


def test_a_retry_with_the_same_key_gets_the_first_answer_and_changes_nothing(tenant_a):
    conversation = _conversation(tenant_a.tenant)
    client = _client(tenant_a, user=tenant_a.owner)
    first = _reply(client, conversation, key="reply-1")
    again = _reply(client, conversation, key="reply-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert len(_replies(tenant_a.tenant, conversation)) == 1
    assert _reply(client, conversation).status_code == 201  # no key: each call counts
    assert len(_replies(tenant_a.tenant, conversation)) == 2


def test_the_same_key_with_another_request_is_refused(tenant_a):
    conversation = _conversation(tenant_a.tenant)
    client = _client(tenant_a, user=tenant_a.owner)
    assert _reply(client, conversation, "One", key="k").status_code == 201
    refused = _reply(client, conversation, "Two", key="k")
    assert refused.status_code == 422 and refused.json()["code"] == "idempotency_key_reused"
    assert [m.text for m in _replies(tenant_a.tenant, conversation)] == ["One"]


def test_keys_are_each_callers_own(tenant_a):
    conversation = _conversation(tenant_a.tenant)
    key = ApiKeyFactory(tenant=tenant_a.tenant)
    person, robot = _client(tenant_a, user=tenant_a.owner), _client(tenant_a, secret=key.secret)
    assert _reply(person, conversation, key="same").status_code == 201
    second = _reply(robot, conversation, key="same")
    assert second.status_code == 201 and "Idempotent-Replayed" not in second
    assert len(_replies(tenant_a.tenant, conversation)) == 2


def test_a_failed_call_keeps_nothing_so_the_corrected_request_may_use_the_key(tenant_a):
    conversation = _conversation(tenant_a.tenant)
    client = _client(tenant_a, user=tenant_a.owner)
    assert _reply(client, conversation, "", key="fix-me").status_code == 422  # blank text
    assert _reply(client, conversation, "Fixed", key="fix-me").status_code == 201


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there"])
def test_a_bad_key_is_400(tenant_a, key):
    conversation = _conversation(tenant_a.tenant)
    response = _reply(_client(tenant_a, user=tenant_a.owner), conversation, key=key)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "idempotency_key_invalid"
    assert _replies(tenant_a.tenant, conversation) == []


def test_keys_expire(tenant_a, settings):
    conversation = _conversation(tenant_a.tenant)
    client = _client(tenant_a, user=tenant_a.owner)
    assert _reply(client, conversation, key="old").status_code == 201
    with tenant_context(tenant_a.tenant):
        IdempotencyRecord.objects.update(started_at=timezone.now() - timedelta(hours=25))
    assert tenants_housekeeping.apply().get()["expired_idempotency_keys"] == 1  # hourly
    with tenant_context(tenant_a.tenant):
        assert not IdempotencyRecord.objects.exists()
    assert _reply(client, conversation, key="old").status_code == 201  # a new call
    assert len(_replies(tenant_a.tenant, conversation)) == 2


def test_an_expired_key_not_yet_swept_is_a_new_call(tenant_a):
    conversation = _conversation(tenant_a.tenant)
    client = _client(tenant_a, user=tenant_a.owner)
    assert _reply(client, conversation, "One", key="old").status_code == 201
    with tenant_context(tenant_a.tenant):
        IdempotencyRecord.objects.update(started_at=timezone.now() - timedelta(hours=25))
        first = IdempotencyRecord.objects.get()
    again = _reply(client, conversation, "Two", key="old")  # another body: not refused
    assert again.status_code == 201 and "Idempotent-Replayed" not in again
    assert [m.text for m in _replies(tenant_a.tenant, conversation)] == ["One", "Two"]
    with tenant_context(tenant_a.tenant):
        kept = IdempotencyRecord.objects.get()  # the new call's, in place of the expired one
    assert kept.pk != first.pk and kept.fingerprint != first.fingerprint and kept.status == 201


def test_a_new_key_is_claimed_with_one_insert(tenant_a):
    """The claim of a key never seen: no look-up or clean-up before its INSERT."""
    with tenant_context(tenant_a.tenant), CaptureQueriesContext(connection) as queries:
        claimed = idempotency_claim(caller="user:1", key="fresh", fingerprint="f" * 64)
    assert isinstance(claimed, IdempotencyRecord)
    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    assert statements.count("INSERT") == 1
    assert [s for s in statements if s in ("SELECT", "DELETE")] == []


# --- timestamps ----------------------------------------------------------------------------


def test_timestamps_are_rfc_3339_in_utc(tenant_a):
    conversation = _conversation(tenant_a.tenant)
    body = _client(tenant_a, user=tenant_a.owner).get(f"/api/v1/conversations/{conversation.pk}").json()
    stamp = body["created_at"]
    assert stamp.endswith("Z") and "T" in stamp, stamp


def test_the_openapi_document_states_the_conventions(tenant_a):
    schema = _client(tenant_a).get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    post = schema["paths"]["/api/v1/conversations/{conversation_id}/messages"]["post"]
    assert "Idempotency-Key" in [p["name"] for p in post["parameters"]]
    assert "409" in post["responses"]
    assert "idempotency_key_reused" in post["responses"]["422"]["description"]
    get = schema["paths"]["/api/v1/tenant"]["get"]
    assert {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(
        get["responses"]["200"]["headers"]
    )
    assert "429" in get["responses"]
