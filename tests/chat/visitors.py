"""A visitor of tenant A's (or any seeded tenant's) widget through the widget API: the
published widget, a contact and a conversation, with the visitor's token; and an in-process
ASGI client that sees the response body as it is produced."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

from django.utils import timezone
from django_tenants.utils import tenant_context

from chat.selectors import bot_settings_for
from chat.visitor_tokens import visitor_token_issue
from tests.asgi import connection_kept
from tests.chat.factories import ContactFactory, ConversationFactory
from tests.hosts import PUBLIC_HOST
from widget_builder.models import Widget
from widget_builder.services import widget_publish

ORIGIN = "https://customer.example"


@dataclass
class Visitor:
    tenant: object
    widget: object
    contact: object
    conversation: object
    token: str

    @property
    def messages_path(self) -> str:
        return f"/api/widget/v1/{self.widget.key}/conversations/{self.conversation.pk}/messages"

    def path(self, suffix: str) -> str:
        return f"/api/widget/v1/{self.widget.key}/conversations/{self.conversation.pk}/{suffix}"

    def headers(self, **extra) -> dict:
        return {
            "HTTP_HOST": PUBLIC_HOST,
            "HTTP_ORIGIN": ORIGIN,
            "HTTP_AUTHORIZATION": f"Bearer {self.token}",
            **extra,
        }

    def send(self, client, text: str, **body):
        return client.post(
            self.messages_path, {"text": text, **body}, content_type="application/json", **self.headers()
        )

    def post(self, client, suffix: str, body: dict | None = None, **extra):
        return client.post(
            self.path(suffix), body or {}, content_type="application/json", **self.headers(**extra)
        )

    def bot(self, **changes):
        """Store these bot settings for the widget (as they are: no plan or address checks)."""
        with tenant_context(self.tenant):
            bot = bot_settings_for(self.widget)
            for name, value in changes.items():
                setattr(bot, name, value)
            bot.save()
            return bot


def make_visitor(seeded_tenant, *, email: str = "ada@example.com") -> Visitor:
    """A new visitor (Ada, with ``email`` from the prechat form unless blank) in a new
    conversation on the tenant's first widget, published."""
    tenant = getattr(seeded_tenant, "tenant", seeded_tenant)
    with tenant_context(tenant):
        widget = widget_publish(widget=Widget.objects.order_by("id").first())
        contact = ContactFactory(
            widget=widget,
            name="Ada",
            email=email,
            locale="en",
            prechat_submitted_at=timezone.now() if email else None,  # the address came from the form
        )
        conversation = ConversationFactory(widget=widget, contact=contact)
        token, _ = visitor_token_issue(
            tenant_id=tenant.pk, widget_id=widget.pk, contact_public_id=contact.public_id
        )
    return Visitor(tenant, widget, contact, conversation, token)


@dataclass
class StreamResult:
    status: int
    headers: dict
    chunks: list[tuple[float, bytes]] = field(default_factory=list)

    @property
    def body(self) -> bytes:
        return b"".join(c for _, c in self.chunks)

    def events(self) -> list[tuple[str, dict]]:
        out = []
        for block in self.body.decode().split("\n\n"):
            if not block.strip():
                continue
            lines = dict(line.split(": ", 1) for line in block.splitlines())
            out.append((lines["event"], json.loads(lines["data"])))
        return out


async def asgi_post_here(
    path: str, body: dict, headers: dict, *, on_chunk=None, disconnect: asyncio.Event | None = None
) -> StreamResult:
    """POST through the real ASGI application in the running event loop (``asgi_post``
    from sync code). An in-memory channel layer reaches only sockets of its own loop."""
    from saas.asgi import application

    raw = json.dumps(body).encode()
    gone = disconnect or asyncio.Event()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        + [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }
    pending = [{"type": "http.request", "body": raw, "more_body": False}]
    result = StreamResult(0, {})

    async def receive():
        if pending:
            return pending.pop()
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            result.status = message["status"]
            result.headers = {k.decode().lower(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body" and message.get("body"):
            result.chunks.append((time.monotonic(), message["body"]))
            if on_chunk is not None:
                on_chunk(message["body"])

    async with connection_kept():
        await application(scope, receive, send)
    return result


def asgi_post(
    path: str, body: dict, headers: dict, *, on_chunk=None, disconnect: asyncio.Event | None = None
):
    """POST through the real ASGI application in this thread's event loop (the test's
    database connection and transaction stay in use, as with Django's test client).

    ``on_chunk(bytes)`` sees each body chunk as it is sent; setting ``disconnect`` makes
    the client go away."""
    from asgiref.sync import async_to_sync

    return async_to_sync(asgi_post_here)(path, body, headers, on_chunk=on_chunk, disconnect=disconnect)
