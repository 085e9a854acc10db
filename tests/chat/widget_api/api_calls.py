"""The widget API called as the widget's script calls it, for tests that start from a real
session: a published widget (with a prechat form unless told otherwise), a session, the
prechat form, identify, the visitor's conversations and messages."""

from __future__ import annotations

from django_tenants.utils import tenant_context

from tests.hosts import PUBLIC_HOST
from widget_builder.models import Widget
from widget_builder.services import widget_prechat_set, widget_publish

ORIGIN = "https://customer.example"


FIELDS = [
    {"kind": "name", "label": "Name", "required": True},
    {"kind": "email", "label": "Email", "required": True},
    {"kind": "phone", "label": "Phone"},
    {"kind": "country", "label": "Country"},
    {"kind": "message", "label": "How can we help?"},
    {"key": "plan", "kind": "select", "label": "Plan", "options": ["Free", "Pro"], "required": True},
    {"key": "newsletter", "kind": "checkbox", "label": "Newsletter"},
]


def published_widget(seeded_tenant, *, prechat: bool = True, consent: str = "") -> Widget:
    with tenant_context(seeded_tenant.tenant):
        widget = Widget.objects.order_by("id").first()
        if prechat:
            widget_prechat_set(
                widget=widget,
                enabled=True,
                fields=FIELDS,
                consent_text=consent,
                consent_url="https://customer.example/privacy",
            )
        return widget_publish(widget=widget)


def widget_post(client, widget, path, body=None, token=None, **extra):
    headers = {"HTTP_HOST": PUBLIC_HOST, "HTTP_ORIGIN": ORIGIN, **extra}
    if token:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client.post(
        f"/api/widget/v1/{widget.key}/{path}", body or {}, content_type="application/json", **headers
    )


def session_start(client, widget) -> dict:
    response = widget_post(
        client,
        widget,
        "session",
        {"page_url": "https://customer.example/pricing", "locale": "de"},
        HTTP_USER_AGENT="Mozilla/5.0 test",
    )
    assert response.status_code == 201, response.content
    return response.json()


GOOD = {
    "name": "Ada",
    "email": "Ada@Example.com",
    "phone": "+49 30 1234567",
    "country": "de",
    "message": "Do you ship to Berlin?",
    "plan": "Pro",
    "newsletter": True,
}


def identify(client, widget, token, **body):
    return widget_post(client, widget, "identify", body, token=token)


def conversations_get(client, widget, token):
    return client.get(
        f"/api/widget/v1/{widget.key}/conversations",
        HTTP_HOST=PUBLIC_HOST,
        HTTP_ORIGIN=ORIGIN,
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def messages_url(widget, conversation_id):
    return f"/api/widget/v1/{widget.key}/conversations/{conversation_id}/messages"


def message_send(client, widget, token, conversation_id, **body):
    return client.post(
        messages_url(widget, conversation_id),
        body,
        content_type="application/json",
        HTTP_HOST=PUBLIC_HOST,
        HTTP_ORIGIN=ORIGIN,
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def conversation_started(client, tenant):
    widget = published_widget(tenant, prechat=False)
    token = session_start(client, widget)["token"]
    conversation = client.post(
        f"/api/widget/v1/{widget.key}/conversations",
        {},
        content_type="application/json",
        HTTP_HOST=PUBLIC_HOST,
        HTTP_ORIGIN=ORIGIN,
        HTTP_AUTHORIZATION=f"Bearer {token}",
    ).json()
    return widget, token, conversation["id"]
