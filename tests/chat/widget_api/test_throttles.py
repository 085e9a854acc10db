"""The widget API's limits (widget_builder.public_api, chat.widget_api.throttles): each one
answers 429 problem details with ``Retry-After`` at the right count, and only there.

The rate-limit clock stands still in tests (tests/conftest.py) at 30 s into a minute, 30 s
into an hour's last minute and 57,570 s before the day's end, so ``Retry-After`` is exact.
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from tests.chat.visitors import ORIGIN, make_visitor
from tests.chat.widget_api.api_calls import conversations_get, published_widget, session_start, widget_post
from tests.hosts import PUBLIC_HOST

pytestmark = pytest.mark.django_db

MINUTE, HOUR, DAY = 30, 3570, 57570
RATE_LIMITED = {
    "type": "/docs/errors#rate_limited",
    "title": "Too many requests",
    "status": 429,
    "detail": "Too many requests",
    "code": "rate_limited",
}


def _limits(settings, **changes):
    widget = {k: v for k, v in changes.items() if k in settings.WIDGET_RATE_LIMITS}
    chat = {k: v for k, v in changes.items() if k in settings.CHAT_RATE_LIMITS}
    assert len(widget) + len(chat) == len(changes), changes
    settings.WIDGET_RATE_LIMITS = {**settings.WIDGET_RATE_LIMITS, **widget}
    settings.CHAT_RATE_LIMITS = {**settings.CHAT_RATE_LIMITS, **chat}


def _limited(response, retry_after: int) -> bool:
    assert response.status_code == 429, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json() == RATE_LIMITED
    assert response["Retry-After"] == str(retry_after)
    return True


def _statuses(call, times: int) -> list[int]:
    return [call().status_code for _ in range(times)]


def _config(client, visitor, address: str = "127.0.0.1"):
    return client.get(
        f"/api/widget/v1/{visitor.widget.key}/config",
        HTTP_HOST=PUBLIC_HOST,
        HTTP_ORIGIN=ORIGIN,
        REMOTE_ADDR=address,
    )


def _session(client, visitor, address: str = "127.0.0.1"):
    return client.post(
        f"/api/widget/v1/{visitor.widget.key}/session",
        {},
        content_type="application/json",
        HTTP_HOST=PUBLIC_HOST,
        HTTP_ORIGIN=ORIGIN,
        REMOTE_ADDR=address,
    )


def _list(client, visitor, **extra):
    return client.get(visitor.path("messages"), **visitor.headers(**extra))


@pytest.fixture
def visitor(tenant_a):
    return make_visitor(tenant_a)


def test_calls_per_address(client, visitor, settings):
    _limits(settings, ip_per_minute=3)
    assert _statuses(lambda: _config(client, visitor), 3) == [200] * 3
    assert _limited(_list(client, visitor), MINUTE)  # every widget call counts, by address
    assert _config(client, visitor, "10.0.0.2").status_code == 200


def test_an_address_has_one_budget_across_every_workspace(client, visitor, tenant_b, settings):
    """Counted outside the tenants' cache keyspace: calling widgets of several workspaces
    does not multiply what one address may do."""
    _limits(settings, ip_per_minute=3)
    other = make_visitor(tenant_b)
    assert [_config(client, v).status_code for v in (visitor, other, visitor)] == [200] * 3
    assert _limited(_config(client, other), MINUTE)


def test_calls_per_widget_whoever_makes_them(client, visitor, tenant_b, settings):
    _limits(settings, widget_per_minute=3)
    assert [_config(client, visitor, f"10.0.0.{i}").status_code for i in range(3)] == [200] * 3
    assert _limited(_config(client, visitor, "10.0.0.9"), MINUTE)
    assert _config(client, make_visitor(tenant_b)).status_code == 200  # another widget is not affected


def test_a_call_refused_by_one_limit_is_not_counted_by_the_next(client, visitor, settings):
    _limits(settings, ip_per_minute=1, widget_per_minute=2)
    assert _config(client, visitor).status_code == 200
    assert _statuses(lambda: _config(client, visitor), 3) == [429] * 3  # refused per address
    assert _config(client, visitor, "10.0.0.2").status_code == 200  # the widget counted one call
    assert _limited(_config(client, visitor, "10.0.0.3"), MINUTE)


def test_calls_per_visitor(client, visitor, settings):
    _limits(settings, visitor_per_minute=2)
    assert _statuses(lambda: _list(client, visitor), 2) == [200, 200]
    assert _limited(_list(client, visitor), MINUTE)
    assert _limited(_list(client, visitor, REMOTE_ADDR="10.0.0.2"), MINUTE)  # the visitor, wherever
    assert _list(client, make_visitor(visitor.tenant)).status_code == 200


def test_sessions_per_address_per_hour(client, visitor, settings):
    _limits(settings, sessions_per_ip_per_hour=2)
    assert _statuses(lambda: _session(client, visitor), 2) == [201, 201]
    assert _limited(_session(client, visitor), HOUR)
    assert _list(client, visitor).status_code == 200  # other calls from the address go on
    assert _session(client, visitor, "10.0.0.2").status_code == 201


def test_messages_per_visitor(client, visitor, settings):
    _limits(settings, visitor_messages_per_minute=2)
    assert [visitor.send(client, f"q{i}").status_code for i in range(2)] == [201, 201]
    assert _limited(visitor.send(client, "q3"), MINUTE)
    assert _list(client, visitor).status_code == 200  # reading is not sending
    assert make_visitor(visitor.tenant).send(client, "another visitor").status_code == 201


def test_messages_per_address(client, visitor, settings):
    _limits(settings, ip_messages_per_minute=2)
    senders = [make_visitor(visitor.tenant) for _ in range(3)]
    assert [s.send(client, "hi").status_code for s in senders[:2]] == [201, 201]
    assert _limited(senders[2].send(client, "hi"), MINUTE)
    elsewhere = client.post(
        senders[2].messages_path,
        {"text": "hi"},
        content_type="application/json",
        **senders[2].headers(REMOTE_ADDR="10.0.0.2"),
    )
    assert elsewhere.status_code == 201


def test_messages_per_widget(client, visitor, settings):
    _limits(settings, widget_messages_per_minute=2)
    senders = [make_visitor(visitor.tenant) for _ in range(3)]
    assert [s.send(client, "hi").status_code for s in senders[:2]] == [201, 201]
    assert _limited(senders[2].send(client, "hi"), MINUTE)


def test_transcripts_per_recipient_per_day(client, tenant_a, settings):
    _limits(settings, transcripts_per_recipient_per_day=2)
    senders = [make_visitor(tenant_a, email="same@example.org") for _ in range(3)]
    assert [s.post(client, "transcript").status_code for s in senders[:2]] == [202, 202]
    assert _limited(senders[2].post(client, "transcript"), DAY)
    assert make_visitor(tenant_a, email="other@example.org").post(client, "transcript").status_code == 202


def test_transcripts_per_visitor_per_hour(client, tenant_a, settings):
    _limits(settings, transcripts_per_hour=1)
    visitor = make_visitor(tenant_a)
    assert visitor.post(client, "transcript").status_code == 202
    assert _limited(visitor.post(client, "transcript"), HOUR)


def test_a_visitor_without_an_address_is_told_so_not_limited(client, tenant_a, settings):
    _limits(settings, transcripts_per_hour=1, transcripts_per_recipient_per_day=1)
    anonymous = make_visitor(tenant_a, email="")
    assert [anonymous.post(client, "transcript").json()["code"] for _ in range(3)] == ["email_unknown"] * 3


def test_attachments_per_visitor_per_hour(client, visitor, settings):
    _limits(settings, attachments_per_hour=2)
    visitor.bot(attachment_kinds=["text"])

    def upload():
        return client.post(
            visitor.path("attachments"),
            {"file": SimpleUploadedFile("note.txt", b"hello")},
            **visitor.headers(),
        )

    assert _statuses(upload, 2) == [201, 201]
    assert _limited(upload(), HOUR)
    assert visitor.send(client, "still talking").status_code == 201
    with tenant_context(visitor.tenant):
        assert visitor.conversation.attachment_files.count() == 2


def test_sessions_per_ip_are_limited(client, tenant_a, settings):
    settings.WIDGET_RATE_LIMITS = {**settings.WIDGET_RATE_LIMITS, "sessions_per_ip_per_hour": 3}
    widget = published_widget(tenant_a, prechat=False)
    statuses = [widget_post(client, widget, "session").status_code for _ in range(4)]
    assert statuses == [201, 201, 201, 429]


def test_calls_per_visitor_are_limited(client, tenant_a, settings):
    settings.WIDGET_RATE_LIMITS = {**settings.WIDGET_RATE_LIMITS, "visitor_per_minute": 3}
    widget = published_widget(tenant_a, prechat=False)
    token = session_start(client, widget)["token"]
    statuses = [conversations_get(client, widget, token).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    other = session_start(client, widget)["token"]  # another visitor is not affected
    assert conversations_get(client, widget, other).status_code == 200


def test_message_rates_per_visitor_and_per_widget(client, tenant_a, fake_llm, settings):
    settings.CHAT_RATE_LIMITS = {**settings.CHAT_RATE_LIMITS, "visitor_messages_per_minute": 2}
    visitor = make_visitor(tenant_a)
    statuses = [visitor.send(client, f"question {i}").status_code for i in range(3)]
    assert statuses == [201, 201, 429]
    limited = visitor.send(client, "again")
    assert limited.json()["code"] == "rate_limited" and int(limited["Retry-After"]) > 0
    assert make_visitor(tenant_a).send(client, "another visitor").status_code == 201

    settings.CHAT_RATE_LIMITS = {**settings.CHAT_RATE_LIMITS, "widget_messages_per_minute": 3}
    assert make_visitor(tenant_a).send(client, "one more for the widget").status_code == 429
    assert len(fake_llm.requests) == 3  # refused messages never reach the provider


def test_messages_per_ip_are_limited(client, tenant_a, settings):
    settings.CHAT_RATE_LIMITS = {**settings.CHAT_RATE_LIMITS, "ip_messages_per_minute": 2}
    statuses = [make_visitor(tenant_a).send(client, "Hi").status_code for _ in range(3)]
    assert statuses == [201, 201, 429]
