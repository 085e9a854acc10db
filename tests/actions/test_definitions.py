"""Defining an action: every field checked with a clear per-field problem, secrets stored
encrypted and never in the audit log, each change audited."""

from __future__ import annotations

import json

import pytest

from actions import services
from actions.models import Action
from actions.selectors import action_signing_secret
from audit.models import AuditEvent
from saas.errors import ValidationFailed

from .conftest import ORDER_PARAMETERS, action_of

pytestmark = pytest.mark.django_db


def _refused(endpoint, **fields) -> dict:
    with pytest.raises(ValidationFailed) as problem:
        action_of(endpoint, **fields)
    return problem.value.errors


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"name": "cancel order"}, "name", "invalid"),
        ({"name": ""}, "name", "invalid"),
        ({"description": " "}, "description", "required"),
        ({"parameters": {"type": "array"}}, "parameters", "invalid"),
        ({"parameters": {"type": "object", "properties": {"a": {"type": "strin"}}}}, "parameters", "invalid"),
        ({"method": "TRACE"}, "method", "invalid"),
        ({"timeout_seconds": 0}, "timeout_seconds", "invalid"),
        ({"timeout_seconds": 31}, "timeout_seconds", "invalid"),
        ({"audience": "staff"}, "audience", "invalid"),
        ({"response_fields": "order.status"}, "response_fields", "invalid"),
        ({"headers": {"X-Chatbot-Visitor-Id": "cust-1"}}, "headers", "reserved"),
        ({"headers": {"Host": "evil.example"}}, "headers", "reserved"),
        ({"headers": {"X-Key": "a\r\nX-Injected: 1"}}, "headers", "invalid"),
        (
            {"parameters": {"type": "object", "properties": {"a": {"$ref": "https://169.254.169.254/x"}}}},
            "parameters",
            "remote_ref",
        ),
        (
            {"parameters": {"type": "object", "properties": {"a": {"$ref": "#/nowhere"}}}},
            "parameters",
            "invalid",
        ),
        ({"url": "https://{order_id}.shop.example.com/x"}, "url", "place_in_host"),
        ({"url": "https://a.example.com:99999/x"}, "url", "bad_url"),
        ({"trigger_phrases": "cancel"}, "trigger_phrases", "invalid"),
        ({"trigger_phrases": ["a"]}, "trigger_phrases", "invalid"),
        ({"trigger_phrases": [f"phrase {n}" for n in range(21)]}, "trigger_phrases", "limit"),
    ],
)
def test_bad_fields_are_refused_by_name(endpoint, ws, fields, field, code):
    errors = _refused(endpoint, **fields)
    assert errors[field][0]["code"] == code


def test_the_url_is_https_on_a_public_address_with_known_places(endpoint, ws, settings):
    errors = _refused(endpoint, url=endpoint.url + "/orders/{order}")
    assert errors["url"][0]["code"] == "unknown_parameter"
    settings.ACTIONS_PRIVATE_ALLOWLIST = []
    assert _refused(endpoint)["url"][0]["code"] == "not_https"
    assert _refused(endpoint, url="https://127.0.0.1/orders")["url"][0]["code"] == "private_address"
    assert _refused(endpoint, url="ftp://example.com/x")["url"][0]["code"] in ("bad_url", "not_https")


def test_names_are_unique_in_a_workspace(endpoint, ws):
    action_of(endpoint)
    assert _refused(endpoint)["name"][0]["code"] == "unique"


def test_headers_and_the_signing_secret_are_stored_encrypted(endpoint, ws):
    action = action_of(endpoint)
    stored = Action.objects.get(pk=action.pk)
    assert "shop-api-key-123" not in stored.headers and stored.headers
    secret = action_signing_secret(stored)
    assert secret.startswith("acsec_") and secret not in stored.signing_secret
    rotated = services.action_secret_rotate(action=stored)
    assert rotated != secret and action_signing_secret(Action.objects.get(pk=action.pk)) == rotated


def test_every_change_is_audited_without_its_secrets(endpoint, ws):
    action = action_of(endpoint)
    services.action_update(
        action=action, data={"audience": "verified", "headers": {"Authorization": "Bearer new-key-456"}}
    )
    services.action_update(action=action, data={"description": action.description})  # nothing changed
    services.action_secret_rotate(action=action)
    services.action_delete(action=action)
    events = list(AuditEvent.objects.filter(action__startswith="action.").order_by("id"))
    assert [e.action for e in events] == [
        "action.created",
        "action.updated",
        "action.secret_rotated",
        "action.deleted",
    ]
    assert events[1].metadata == {"audience": ["anyone", "verified"], "headers": ["(hidden)", "(changed)"]}
    logged = json.dumps([e.metadata for e in events])
    assert "shop-api-key" not in logged and "new-key-456" not in logged and "acsec_" not in logged


def test_an_update_keeps_what_it_does_not_name(endpoint, ws):
    action = action_of(endpoint, requires_confirmation=True)
    services.action_update(action=action, data={"title": "Cancel an order"})
    action.refresh_from_db()
    assert (
        action.title == "Cancel an order"
        and action.requires_confirmation
        and action.parameters == ORDER_PARAMETERS
    )
    assert action.headers  # not given: kept


def test_an_input_that_fills_the_url_must_be_required(endpoint, ws):
    optional = {"type": "object", "properties": {"order_id": {"type": "string"}}}
    assert _refused(endpoint, parameters=optional)["url"][0]["code"] == "place_not_required"
