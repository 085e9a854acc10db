"""Calling an action: the request the tenant's endpoint receives (signed, with the verified
visitor), what the model is told of the answer, and every rule that stops a call before
anything is sent. Nothing is ever retried."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from actions import services, signing
from actions.models import ActionCall
from actions.selectors import action_signing_secret
from chat.services.deletion import conversations_delete
from tests.fakes.action_endpoint import Answer

from .conftest import action_of

pytestmark = pytest.mark.django_db


def test_a_call_reaches_the_endpoint_signed_for_the_verified_visitor(endpoint, visitor):
    contact, conversation = visitor
    endpoint.answers = [Answer(body=b'{"order": {"id": "1042", "status": "cancelled"}, "internal": "x"}')]
    action = action_of(endpoint, response_fields=["order.status", "order.refund"])
    arguments = {"order_id": "1042", "reason": "Too late \u2014 sorry", "notify": True}
    outcome = services.action_call(
        action=action, arguments=arguments, contact=contact, conversation=conversation
    )
    assert outcome.ok and json.loads(outcome.result) == {"order.status": "cancelled", "order.refund": None}
    [sent] = endpoint.requests
    assert sent.method == "POST" and sent.path == "/orders/1042/cancel"
    assert json.loads(sent.body) == {
        "reason": "Too late \u2014 sorry",
        "notify": True,
    }  # the place took order_id
    assert sent.headers["authorization"] == "Bearer shop-api-key-123"
    assert sent.headers["content-type"] == "application/json"
    # The tenant's side: the signature proves the platform sent it, for this visitor.
    secret = action_signing_secret(action)
    url = endpoint.url + sent.path
    assert signing.signature_verify(secret, sent.headers, method="POST", url=url, body=sent.body) == "cust-42"
    assert (
        signing.signature_verify(secret, sent.headers, method="POST", url=url, body=sent.body + b" ") is None
    )
    forged = {**sent.headers, "x-chatbot-visitor-id": "cust-1"}
    assert signing.signature_verify(secret, forged, method="POST", url=url, body=sent.body) is None
    assert (
        signing.signature_verify("acsec_other", sent.headers, method="POST", url=url, body=sent.body) is None
    )
    call = outcome.call
    assert call.status == ActionCall.Status.SUCCEEDED and call.http_status == 200 and call.duration_ms >= 0
    assert call.arguments == arguments and call.conversation == conversation and call.contact == contact
    assert str(call.public_id) == sent.headers["x-chatbot-call-id"]


def test_a_get_sends_the_other_inputs_as_its_query(endpoint, visitor):
    contact, conversation = visitor
    endpoint.answers = [Answer(body=b"Shipped on Monday.", content_type="text/plain; charset=utf-8")]
    action = action_of(
        endpoint, name="order_status", method="GET", url=endpoint.url + "/orders/{order_id}?v=2"
    )
    outcome = services.action_call(
        action=action,
        arguments={"order_id": "77", "reason": "a&b=c"},
        contact=contact,
        conversation=conversation,
    )
    assert outcome.ok and outcome.result == "Shipped on Monday."
    [sent] = endpoint.requests
    parts = urlsplit(sent.path)
    assert sent.method == "GET" and parts.path == "/orders/77" and sent.body == b""
    assert parse_qs(parts.query) == {"v": ["2"], "reason": ["a&b=c"]}
    assert (
        signing.signature_verify(
            action_signing_secret(action), sent.headers, method="GET", url=endpoint.url + sent.path, body=b""
        )
        == "cust-42"
    )


def test_a_verified_only_action_is_refused_to_a_visitor_without_a_verified_identity(endpoint, stranger):
    contact, conversation = stranger  # claims to be cust-42, but unsigned
    action = action_of(endpoint, audience="verified")
    outcome = services.action_call(
        action=action, arguments={"order_id": "1"}, contact=contact, conversation=conversation
    )
    assert outcome.status == ActionCall.Status.DENIED and "sign in" in outcome.result
    assert endpoint.requests == []
    assert services.action_call(action=action, arguments={"order_id": "1"}).status == ActionCall.Status.DENIED


def test_an_action_for_anyone_sends_no_visitor_id_for_an_unverified_visitor(endpoint, stranger):
    contact, _ = stranger
    action = action_of(endpoint)
    assert services.action_call(action=action, arguments={"order_id": "1"}, contact=contact).ok
    [sent] = endpoint.requests
    assert "x-chatbot-visitor-id" not in sent.headers  # an unsigned claim is never passed on
    url = endpoint.url + sent.path
    assert (
        signing.signature_verify(
            action_signing_secret(action), sent.headers, method="POST", url=url, body=sent.body
        )
        == ""
    )


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({}, "'order_id' is a required property"),
        ({"order_id": "12; DROP"}, "order_id: '12; DROP' does not match"),
        ({"order_id": "1", "admin": True}, "Additional properties are not allowed"),
        ("order 1042", "must be an object"),
        ({"order_id": "1", "reason": "x" * 9000}, "longer than 8000 characters"),
    ],
)
def test_inputs_that_do_not_match_the_parameters_are_not_sent(endpoint, visitor, arguments, error):
    contact, conversation = visitor
    action = action_of(endpoint)
    outcome = services.action_call(
        action=action, arguments=arguments, contact=contact, conversation=conversation
    )
    assert outcome.status == ActionCall.Status.INVALID and error in outcome.call.error
    assert "Ask the visitor" in outcome.result and endpoint.requests == []


def test_a_side_effect_waits_for_the_visitor_s_confirmation(endpoint, visitor):
    contact, conversation = visitor
    action = action_of(endpoint, requires_confirmation=True)
    arguments = {"order_id": "1042", "notify": False}
    asked = services.action_call(
        action=action, arguments=arguments, contact=contact, conversation=conversation
    )
    assert asked.needs_confirmation and asked.call is None and endpoint.requests == []
    assert asked.summary == [("Order number", "1042"), ("Notify", "No")]
    declined = services.action_declined(
        action=action, arguments=arguments, contact=contact, conversation=conversation
    )
    assert declined.status == ActionCall.Status.DECLINED and endpoint.requests == []
    done = services.action_call(
        action=action, arguments=arguments, contact=contact, conversation=conversation, confirmed=True
    )
    assert done.ok and len(endpoint.requests) == 1
    statuses = list(ActionCall.objects.filter(conversation=conversation).values_list("status", flat=True))
    assert sorted(statuses) == ["declined", "succeeded"]


@pytest.mark.parametrize(
    ("answer", "status", "told"),
    [
        (Answer(status=500, body=b"boom"), ActionCall.Status.FAILED, "HTTP 500"),
        (
            Answer(body=b'{"order": "10', content_type="application/json"),
            ActionCall.Status.UNREADABLE,
            "could not",
        ),
        (
            Answer(body=b"<html><body>Login</body></html>", content_type="text/html"),
            ActionCall.Status.UNREADABLE,
            "could not",
        ),
        (Answer(delay=3), ActionCall.Status.TIMED_OUT, "did not answer in time"),
    ],
)
def test_a_failing_endpoint_gives_a_clear_answer_and_is_called_once(endpoint, visitor, answer, status, told):
    contact, conversation = visitor
    endpoint.answers = [answer]
    action = action_of(endpoint, timeout_seconds=1)
    outcome = services.action_call(
        action=action, arguments={"order_id": "9"}, contact=contact, conversation=conversation
    )
    assert outcome.status == status and told in outcome.result and "do not try again" in outcome.result
    assert len(endpoint.requests) == 1  # never retried


def test_failures_in_a_row_pause_the_action_no_retry_storm(endpoint, visitor, settings):
    settings.ACTIONS_PAUSE_AFTER_FAILURES = 3
    contact, conversation = visitor
    endpoint.answers = [Answer(status=503)] * 3
    action = action_of(endpoint)
    for _ in range(3):
        services.action_call(
            action=action, arguments={"order_id": "9"}, contact=contact, conversation=conversation
        )
    outcomes = [
        services.action_call(
            action=action, arguments={"order_id": "9"}, contact=contact, conversation=conversation
        )
        for _ in range(5)
    ]
    assert {o.status for o in outcomes} == {ActionCall.Status.PAUSED}
    assert len(endpoint.requests) == 3  # nothing sent while paused


def test_a_visitor_calling_too_often_is_held_back(endpoint, visitor, settings):
    settings.ACTIONS_CALLS_PER_MINUTE = 2
    contact, conversation = visitor
    action = action_of(endpoint)
    statuses = [
        services.action_call(
            action=action, arguments={"order_id": "9"}, contact=contact, conversation=conversation
        ).status
        for _ in range(4)
    ]
    assert statuses == ["succeeded", "succeeded", "rate_limited", "rate_limited"]
    assert len(endpoint.requests) == 2


def test_an_endpoint_on_a_refused_address_is_never_called(endpoint, visitor, settings):
    contact, conversation = visitor
    action = action_of(endpoint)
    settings.ACTIONS_PRIVATE_ALLOWLIST = []  # the operator took the allowance back
    outcome = services.action_call(
        action=action, arguments={"order_id": "9"}, contact=contact, conversation=conversation
    )
    assert outcome.status == ActionCall.Status.REFUSED and endpoint.requests == []


def test_a_turned_off_action_is_not_called(endpoint, visitor):
    contact, conversation = visitor
    action = action_of(endpoint, is_enabled=False)
    outcome = services.action_call(
        action=action, arguments={"order_id": "9"}, contact=contact, conversation=conversation
    )
    assert outcome.status == ActionCall.Status.DENIED and endpoint.requests == []


def test_a_conversation_deleted_takes_its_calls_with_it(endpoint, visitor):
    contact, conversation = visitor
    action = action_of(endpoint)
    services.action_call(
        action=action, arguments={"order_id": "9"}, contact=contact, conversation=conversation
    )
    conversations_delete(conversation_ids=[conversation.pk])
    assert not ActionCall.objects.filter(action_name="order_cancel").exists()


@pytest.mark.parametrize("value", ["..", ".", "", "1/../../admin", "1\\..\\admin"])
def test_a_value_that_fills_the_url_never_reaches_another_path(endpoint, visitor, value):
    contact, conversation = visitor
    loose = {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}
    action = action_of(endpoint, parameters=loose)
    outcome = services.action_call(
        action=action, arguments={"order_id": value}, contact=contact, conversation=conversation
    )
    assert outcome.status == ActionCall.Status.INVALID and "plain value" in outcome.call.error
    assert endpoint.requests == []


def test_inputs_the_parameters_do_not_name_are_refused(endpoint, visitor):
    contact, conversation = visitor
    loose = {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}
    action = action_of(endpoint, parameters=loose)  # no "additionalProperties": false
    outcome = services.action_call(
        action=action, arguments={"order_id": "1", "price": 0}, contact=contact, conversation=conversation
    )
    assert (
        outcome.status == ActionCall.Status.INVALID
        and "price is not one of the parameters" in outcome.call.error
    )
    assert endpoint.requests == []


def test_refusals_the_inputs_cause_never_pause_the_action(endpoint, visitor, settings):
    settings.ACTIONS_PAUSE_AFTER_FAILURES = 2
    contact, conversation = visitor
    endpoint.answers = [Answer(status=404, body=b'{"error": "no such order"}')] * 4
    action = action_of(endpoint)
    statuses = [
        services.action_call(
            action=action, arguments={"order_id": str(n)}, contact=contact, conversation=conversation
        ).status
        for n in range(4)
    ]
    assert statuses == ["failed"] * 4 and len(endpoint.requests) == 4  # told, but never paused


def test_the_signed_url_is_the_url_sent(endpoint, visitor):
    contact, conversation = visitor
    loose = {
        "type": "object",
        "properties": {"order_id": {"type": "string"}, "q": {"type": "string"}},
        "required": ["order_id"],
    }
    action = action_of(endpoint, method="GET", url=endpoint.url + "/orders/{order_id}", parameters=loose)
    services.action_call(
        action=action,
        arguments={"order_id": "a b:é", "q": "x y/é"},
        contact=contact,
        conversation=conversation,
    )
    [sent] = endpoint.requests
    url = endpoint.url + sent.path  # the raw request target, as the docs say to verify
    assert (
        signing.signature_verify(action_signing_secret(action), sent.headers, method="GET", url=url, body=b"")
        == "cust-42"
    )
