"""The widget API's own OpenAPI document: generated from the widget API's routes only (chat's,
the widget's configuration, insights' answer timings, the AI actions' cards), valid, served
on the public host; and every response it documents is one the endpoint really gives, with a
body of the documented shape."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone
from django_tenants.utils import tenant_context
from drf_spectacular.drainage import GENERATOR_STATS
from openapi_schema_validator import OAS30Validator, validate

from actions.models import Action, PendingCall
from chat.models import Contact, Conversation, Message
from chat.resume_tokens import resume_token_issue
from chat.services.attachments import attachment_add
from chat.services.messages import message_append
from saas.crypto import secret_encrypt
from tests.chat.visitors import ORIGIN, Visitor, asgi_post, make_visitor
from tests.hosts import PUBLIC_HOST
from widget_builder.models import Widget
from widget_builder.services import widget_allowed_origins_set, widget_prechat_set, widget_publish

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
OPERATIONS = {
    "widget_config": ("get", "/api/widget/v1/{widget_key}/config"),
    "session_start": ("post", "/api/widget/v1/{widget_key}/session"),
    "session_renew": ("post", "/api/widget/v1/{widget_key}/session/renew"),
    "session_resume": ("post", "/api/widget/v1/{widget_key}/session/resume"),
    "availability": ("get", "/api/widget/v1/{widget_key}/availability"),
    "prechat_submit": ("post", "/api/widget/v1/{widget_key}/prechat"),
    "identify": ("post", "/api/widget/v1/{widget_key}/identify"),
    "conversations_list": ("get", "/api/widget/v1/{widget_key}/conversations"),
    "conversation_start": ("post", "/api/widget/v1/{widget_key}/conversations"),
    "conversation_open": ("get", "/api/widget/v1/{widget_key}/conversations/{conversation_id}"),
    "conversation_rename": ("patch", "/api/widget/v1/{widget_key}/conversations/{conversation_id}"),
    "conversation_delete": ("delete", "/api/widget/v1/{widget_key}/conversations/{conversation_id}"),
    "messages_list": ("get", "/api/widget/v1/{widget_key}/conversations/{conversation_id}/messages"),
    "message_send": ("post", "/api/widget/v1/{widget_key}/conversations/{conversation_id}/messages"),
    "message_feedback": (
        "post",
        "/api/widget/v1/{widget_key}/conversations/{conversation_id}/messages/{seq}/feedback",
    ),
    "conversation_events": ("get", "/api/widget/v1/{widget_key}/conversations/{conversation_id}/events"),
    "conversation_typing": ("post", "/api/widget/v1/{widget_key}/conversations/{conversation_id}/typing"),
    "conversation_read": ("post", "/api/widget/v1/{widget_key}/conversations/{conversation_id}/read"),
    "conversation_close": ("post", "/api/widget/v1/{widget_key}/conversations/{conversation_id}/close"),
    "conversation_rate": ("post", "/api/widget/v1/{widget_key}/conversations/{conversation_id}/rating"),
    "conversation_handoff": ("post", "/api/widget/v1/{widget_key}/conversations/{conversation_id}/handoff"),
    "conversation_transcript": (
        "post",
        "/api/widget/v1/{widget_key}/conversations/{conversation_id}/transcript",
    ),
    "offline_message": ("post", "/api/widget/v1/{widget_key}/conversations/{conversation_id}/offline"),
    "attachment_upload": ("post", "/api/widget/v1/{widget_key}/conversations/{conversation_id}/attachments"),
    "attachment_download": (
        "get",
        "/api/widget/v1/{widget_key}/conversations/{conversation_id}/attachments/{attachment_id}",
    ),
    "answer_timing_report": (
        "post",
        "/api/widget/v1/{widget_key}/conversations/{conversation_id}/messages/{seq}/timing",
    ),
    **{
        f"confirmation_{decision}": (
            "post",
            "/api/widget/v1/{widget_key}/conversations/{conversation_id}/confirmations/{confirmation_id}/"
            + decision,
        )
        for decision in ("confirm", "submit", "cancel")
    },
}


@pytest.fixture(scope="module")
def schema(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("openapi") / "widget-api.yml"
    GENERATOR_STATS.reset()  # warnings of other documents generated in this process are not ours
    call_command(
        "spectacular",
        "--urlconf",
        "saas.urls_widget_api",
        "--custom-settings",
        "chat.widget_api.openapi.SCHEMA_SETTINGS",
        "--validate",
        "--fail-on-warn",
        "--file",
        str(out),
    )
    return yaml.safe_load(out.read_text())


def _operations(schema: dict) -> dict[str, tuple[str, str, dict]]:
    return {
        operation["operationId"]: (method, path, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    }


def test_the_document_holds_the_widget_api_and_nothing_else(schema):
    assert schema["info"]["title"] == "Chat widget API"
    assert {op: (m, p) for op, (m, p, _) in _operations(schema).items()} == OPERATIONS
    assert all(path.startswith("/api/widget/v1/{widget_key}/") for path in schema["paths"])


def test_visitor_tokens_are_documented_as_bearer_auth(schema):
    assert schema["components"]["securitySchemes"]["visitorToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["visitorToken"]["description"],
    }
    operations = _operations(schema)
    tokenless = {"widget_config", "session_start", "session_resume", "availability"}
    for name in tokenless:
        assert all("visitorToken" not in s for s in operations[name][2].get("security", [{}])), name
    for name in set(OPERATIONS) - tokenless:
        assert operations[name][2]["security"] == [{"visitorToken": []}], name


def test_errors_are_problem_details_and_answers_stream_as_events(schema):
    operations = _operations(schema)
    for name, (_, _, operation) in operations.items():
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert list(response["content"]) == ["application/problem+json"], (name, status)
                ref = response["content"]["application/problem+json"]["schema"]["$ref"]
                assert ref.endswith("/ProblemOutput")
    send = operations["message_send"][2]
    assert set(send["responses"]["200"]["content"]) == {"application/json", "text/event-stream"}
    assert "text/event-stream" in send["description"]
    assert "application/octet-stream" in operations["attachment_download"][2]["responses"]["200"]["content"]
    assert "multipart/form-data" in operations["attachment_upload"][2]["requestBody"]["content"]
    assert set(send["responses"]) == {
        *("200", "201", "400", "401", "403", "404", "409", "413", "415", "422", "429", "503")
    }


def test_it_is_served_on_the_public_host_with_a_docs_page(client, schema):
    served = client.get(
        "/api/widget/v1/schema", HTTP_HOST=PUBLIC_HOST, HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )
    assert served.status_code == 200
    assert json.loads(served.content)["paths"] == json.loads(json.dumps(schema["paths"]))
    docs = client.get("/api/widget/v1/docs/", HTTP_HOST=PUBLIC_HOST)
    assert docs.status_code == 200 and b"/api/widget/v1/schema" in docs.content
    assert b"/static/drf_spectacular_sidecar/" in docs.content and b"cdn" not in docs.content.lower()


# --- every documented response, provoked -----------------------------------------------------


@dataclass
class World:
    visitor: Visitor
    answer_seq: int
    attachment_id: str
    foreign_conversation_id: int
    confirmation_id: str  # a confirmation card's, pending
    form_id: str  # a form's, pending

    @property
    def widget(self) -> Widget:
        return self.visitor.widget

    def change(self, fn: Callable[[], object]) -> None:
        with tenant_context(self.visitor.tenant):
            fn()


@pytest.fixture
def world(tenant_a) -> World:
    foreign = make_visitor(tenant_a)
    visitor = make_visitor(tenant_a)
    visitor.bot(attachment_kinds=["image"], attachment_max_mb=1)
    with tenant_context(tenant_a.tenant):
        widget_allowed_origins_set(widget=visitor.widget, origins=[ORIGIN])
        answer, _ = message_append(conversation=visitor.conversation, role="bot", text="Hello!")
        with_file = attachment_add(
            conversation=visitor.conversation,
            upload=SimpleUploadedFile("a.png", PNG),
            kinds=["image"],
            max_mb=1,
        )
        # An action waiting for the visitor (its address refused: nothing leaves the machine).
        action = Action.objects.create(
            name="order_cancel",
            title="Cancel an order",
            description="Cancel an order.",
            parameters={
                "type": "object",
                "properties": {"order_id": {"type": "string"}},
                "required": ["order_id"],
            },
            url="https://127.0.0.1:9/orders",
            signing_secret=secret_encrypt("acsec_test"),
        )
        expires_at = timezone.now() + timedelta(minutes=10)
        card, form = (
            PendingCall.objects.create(
                action=action,
                conversation=visitor.conversation,
                kind=kind,
                arguments=arguments,
                expires_at=expires_at,
            )
            for kind, arguments in (("confirm", {"order_id": "1042"}), ("form", {}))
        )
    return World(
        visitor,
        answer.seq,
        with_file.attachments[0]["id"],
        foreign.conversation.pk,
        str(card.public_id),
        str(form.public_id),
    )


def _body(operation: str) -> dict:
    return {
        "session_start": {"page_url": "https://customer.example/"},
        "prechat_submit": {"answers": {"name": "Ada"}, "elapsed_ms": 5000},
        "identify": {"id": "u-1"},
        "message_send": {"text": "Hello"},
        "message_feedback": {"rating": "up"},
        "conversation_rate": {"score": 4},
        "offline_message": {"email": "ada@example.com", "message": "Please call me back"},
        "conversation_typing": {"typing": True, "text": "Hel"},
        "conversation_read": {"seq": 1},
        "answer_timing_report": {"first_token_ms": 420, "full_ms": 1800},
        "conversation_rename": {"title": "Shipping to Canada"},
        "confirmation_submit": {"arguments": {"order_id": "1042"}},
    }.get(operation, {})


def _call(
    client,
    world: World,
    operation: str,
    *,
    body=None,
    key=None,
    conversation_id=None,
    content_type=None,
    **headers,
):
    method, template = OPERATIONS[operation]
    path = template.format(
        widget_key=key or world.widget.key,
        conversation_id=conversation_id or world.visitor.conversation.pk,
        seq=world.answer_seq,
        attachment_id=world.attachment_id,
        confirmation_id=world.form_id if operation == "confirmation_submit" else world.confirmation_id,
    )
    headers = {**world.visitor.headers(), **headers}
    headers = {k: v for k, v in headers.items() if v is not None}
    if method == "get":
        return client.get(path, **headers)
    if method == "delete" and body is None:
        return client.delete(path, **headers)
    if operation == "attachment_upload" and content_type is None:
        data = body if body is not None else {"file": SimpleUploadedFile("b.png", PNG)}
        return client.post(path, data, **headers)
    return getattr(client, method)(
        path,
        body if body is not None else _body(operation),
        content_type=content_type or "application/json",
        **headers,
    )


def _prechat_form(world: World, *, submitted: bool) -> None:
    def change():
        widget_prechat_set(
            widget=world.widget, enabled=True, fields=[{"kind": "name", "label": "Name", "required": True}]
        )
        widget_publish(widget=world.widget)
        if not submitted:
            Contact.objects.filter(pk=world.visitor.contact.pk).update(prechat_submitted_at=None)

    world.change(change)


def _closed(world: World) -> None:
    world.change(
        lambda: Conversation.objects.filter(pk=world.visitor.conversation.pk).update(status="closed")
    )


def _twice(client, world, operation, **kwargs):
    _call(client, world, operation, **kwargs)
    return _call(client, world, operation, **kwargs)


def _generic(status: int):
    """How any operation is made to answer ``status``."""

    def provoke(client, world, settings, operation):
        if status == 401:
            return _call(client, world, operation, HTTP_AUTHORIZATION=None)
        if status == 403:
            return _call(client, world, operation, HTTP_ORIGIN="https://evil.example")
        if status == 404:
            if "{conversation_id}" in OPERATIONS[operation][1]:
                return _call(client, world, operation, conversation_id=world.foreign_conversation_id)
            return _call(client, world, operation, key="wk_nosuchwidget")
        if status == 429:
            settings.WIDGET_RATE_LIMITS = {**settings.WIDGET_RATE_LIMITS, "ip_per_minute": 1}
            return _twice(client, world, operation)
        if status == 503:
            world.change(lambda: Widget.objects.filter(pk=world.widget.pk).update(is_enabled=False))
            return _call(client, world, operation)
        if status == 400:  # nested deeper than any body the API takes (saas.request_body)
            return _call(client, world, operation, body="[" * 5000, content_type="application/json")
        if status == 413:  # larger than any body the widget API takes but an upload
            return _call(client, world, operation, body={"text": "x" * 70_000})
        if status == 415:
            return _call(client, world, operation, body="hello", content_type="text/plain")
        return _call(client, world, operation)  # the operation's success

    return provoke


def _with(prepare, **call_kwargs):
    def provoke(client, world, settings, operation):
        prepare(world)
        return _call(client, world, operation, **call_kwargs)

    return provoke


def _send_again(client, world, settings, operation):
    return _twice(client, world, operation, body={"text": "Once", "client_message_id": "c-1"})


def _rate_closed(client, world, settings, operation):
    _closed(world)
    return _call(client, world, operation)


def _no_address(world):
    world.change(lambda: Contact.objects.filter(pk=world.visitor.contact.pk).update(email=""))


def _resume(token_of):
    def provoke(client, world, settings, operation):
        return _call(client, world, operation, body={"resume": token_of(world)})

    return provoke


def _resume_token(world: World) -> str:
    return resume_token_issue(
        schema=world.visitor.tenant.schema_name,
        widget_id=world.widget.pk,
        contact_public_id=str(world.visitor.contact.public_id),
        conversation_id=world.visitor.conversation.pk,
    )


def _expired(world: World) -> None:
    world.change(lambda: PendingCall.objects.update(expires_at=timezone.now() - timedelta(seconds=1)))


SPECIFIC = {
    **{
        (f"confirmation_{d}", 409): lambda c, w, s, op: _twice(c, w, op)
        for d in ("confirm", "submit", "cancel")
    },
    **{(f"confirmation_{d}", 410): _with(_expired) for d in ("confirm", "submit", "cancel")},
    ("confirmation_submit", 422): lambda c, w, s, op: _call(c, w, op, body={"arguments": {}}),
    ("session_start", 422): lambda c, w, s, op: _call(c, w, op, body={"page_url": "not a url"}),
    ("prechat_submit", 201): _with(lambda w: _prechat_form(w, submitted=False)),
    ("prechat_submit", 409): _generic(200),  # the widget has no form
    ("prechat_submit", 422): _with(lambda w: _prechat_form(w, submitted=False), body={"answers": {}}),
    ("identify", 401): lambda c, w, s, op: _call(c, w, op, body={"id": "u-1", "user_hash": "0" * 64}),
    ("identify", 422): lambda c, w, s, op: _call(c, w, op, body={"name": "no id"}),
    ("conversation_start", 409): _with(lambda w: _prechat_form(w, submitted=False)),
    # Its bodies are small (2 KB): a deep nesting is refused for its size.
    ("conversation_rename", 400): lambda c, w, s, op: _call(
        c, w, op, body="[" * 40, content_type="application/json"
    ),
    ("conversations_list", 422): lambda c, w, s, op: c.get(
        OPERATIONS[op][1].format(widget_key=w.widget.key) + "?limit=0", **w.visitor.headers()
    ),
    ("conversation_rename", 422): lambda c, w, s, op: _call(c, w, op, body={"title": "x" * 121}),
    ("message_send", 200): _send_again,
    ("message_send", 409): _with(_closed),
    ("message_send", 413): lambda c, w, s, op: _call(c, w, op, body={"text": "x" * 70_000}),
    ("message_send", 422): lambda c, w, s, op: _call(c, w, op, body={"text": "   "}),
    ("message_feedback", 422): lambda c, w, s, op: _call(c, w, op, body={"rating": "meh"}),
    ("conversation_typing", 422): lambda c, w, s, op: _call(c, w, op, body={"typing": "maybe"}),
    ("conversation_read", 422): lambda c, w, s, op: _call(c, w, op, body={"seq": -1}),
    ("conversation_rate", 200): _rate_closed,
    ("conversation_rate", 409): _generic(200),  # still open
    ("conversation_rate", 422): lambda c, w, s, op: _call(c, w, op, body={"score": 6}),
    ("conversation_transcript", 409): _with(_no_address),
    ("session_resume", 200): _resume(_resume_token),
    ("session_resume", 401): _resume(lambda w: _resume_token(w)[:-4] + "AAAA"),
    ("session_resume", 422): lambda c, w, s, op: _call(c, w, op, body={}),
    ("offline_message", 409): _with(_closed),
    ("offline_message", 422): lambda c, w, s, op: _call(c, w, op, body={"email": "not-an-address"}),
    ("attachment_upload", 409): _with(_closed),
    ("attachment_upload", 413): lambda c, w, s, op: _call(
        c, w, op, body={"file": SimpleUploadedFile("big.png", PNG + b"\x00" * 1024 * 1024)}
    ),
    ("attachment_upload", 422): lambda c, w, s, op: _call(
        c, w, op, body={"file": SimpleUploadedFile("a.png", b"<svg onload=alert(1)>")}
    ),
    # Its bodies are small (256 bytes): a deep nesting is refused for its size.
    ("answer_timing_report", 400): lambda c, w, s, op: _call(
        c, w, op, body="{", content_type="application/json"
    ),
    ("answer_timing_report", 422): lambda c, w, s, op: _call(
        c, w, op, body={"first_token_ms": -1, "full_ms": 5}
    ),
}
DOCUMENTED = [
    ("widget_config", (200, 403, 404, 429)),
    ("session_start", (201, 400, 403, 404, 413, 415, 422, 429, 503)),
    ("session_renew", (200, 401, 403, 404, 413, 429, 503)),
    ("session_resume", (200, 400, 401, 403, 404, 413, 415, 422, 429, 503)),
    ("availability", (200, 403, 404, 429, 503)),
    ("prechat_submit", (201, 400, 401, 403, 404, 409, 413, 415, 422, 429, 503)),
    ("identify", (200, 400, 401, 403, 404, 413, 415, 422, 429, 503)),
    ("conversations_list", (200, 401, 403, 404, 422, 429, 503)),
    ("conversation_start", (201, 401, 403, 404, 409, 413, 429, 503)),
    ("conversation_open", (200, 401, 403, 404, 429, 503)),
    ("conversation_rename", (200, 400, 401, 403, 404, 413, 415, 422, 429, 503)),
    ("conversation_delete", (204, 401, 403, 404, 429, 503)),
    ("messages_list", (200, 401, 403, 404, 429, 503)),
    ("message_send", (200, 201, 400, 401, 403, 404, 409, 413, 415, 422, 429, 503)),
    ("message_feedback", (200, 400, 401, 403, 404, 413, 415, 422, 429, 503)),
    ("conversation_events", (200, 401, 403, 404, 429, 503)),
    ("conversation_typing", (200, 400, 401, 403, 404, 413, 415, 422, 429, 503)),
    ("conversation_read", (200, 400, 401, 403, 404, 413, 415, 422, 429, 503)),
    ("conversation_close", (200, 401, 403, 404, 413, 429, 503)),
    ("conversation_rate", (200, 400, 401, 403, 404, 409, 413, 415, 422, 429, 503)),
    ("conversation_handoff", (200, 401, 403, 404, 413, 429, 503)),
    ("conversation_transcript", (202, 401, 403, 404, 409, 413, 429, 503)),
    ("offline_message", (201, 400, 401, 403, 404, 409, 413, 415, 422, 429, 503)),
    ("attachment_upload", (201, 400, 401, 403, 404, 409, 413, 415, 422, 429, 503)),
    ("attachment_download", (200, 401, 403, 404, 429, 503)),
    ("answer_timing_report", (200, 400, 401, 403, 404, 413, 415, 422, 429, 503)),
    ("confirmation_confirm", (200, 401, 403, 404, 409, 410, 413, 429, 503)),
    ("confirmation_submit", (200, 400, 401, 403, 404, 409, 410, 413, 415, 422, 429, 503)),
    ("confirmation_cancel", (200, 401, 403, 404, 409, 410, 413, 429, 503)),
]
CASES = [(operation, status) for operation, statuses in DOCUMENTED for status in statuses]


def test_the_cases_below_cover_every_documented_response(schema):
    documented = {
        (name, int(status)) for name, (_, _, op) in _operations(schema).items() for status in op["responses"]
    }
    assert documented == set(CASES)


def _resolved(node, components: dict):
    if isinstance(node, dict):
        if "$ref" in node:
            return _resolved(components[node["$ref"].rsplit("/", 1)[-1]], components)
        return {key: _resolved(value, components) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolved(value, components) for value in node]
    return node


@pytest.mark.parametrize(("operation", "status"), CASES)
def test_each_documented_response_is_really_answered(client, world, settings, schema, operation, status):
    provoke = SPECIFIC.get((operation, status), _generic(status))
    response = provoke(client, world, settings, operation)
    assert response.status_code == status, response.content
    if status == 204:
        assert (
            response.content == b"" and "content" not in _operations(schema)[operation][2]["responses"]["204"]
        )
        return
    content = _operations(schema)[operation][2]["responses"][str(status)]["content"]
    media_type = response["Content-Type"].split(";")[0]
    assert media_type in content, (media_type, list(content))
    if media_type.endswith("json"):
        documented = _resolved(content[media_type]["schema"], schema["components"]["schemas"])
        validate(json.loads(response.content), documented, cls=OAS30Validator)
    if status == 429:
        assert int(response["Retry-After"]) >= 1


def test_an_answer_streams_as_server_sent_events(tenant_a):
    visitor = make_visitor(tenant_a)
    headers = {
        "host": PUBLIC_HOST,
        "origin": ORIGIN,
        "authorization": f"Bearer {visitor.token}",
        "accept": "text/event-stream",
    }
    result = asgi_post(visitor.messages_path, {"text": "Hello"}, headers)
    assert result.status == 200 and result.headers["content-type"].startswith("text/event-stream")
    events = [name for name, _ in result.events()]
    assert events[0] == "message" and events[-1] == "done"
    with tenant_context(tenant_a.tenant):
        assert Message.objects.filter(conversation=visitor.conversation, role="bot").count() == 1
