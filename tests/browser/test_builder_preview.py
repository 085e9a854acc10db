"""The builder's live preview runs the real widget with unsaved settings."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django_tenants.utils import tenant_context

from tenants.models import User
from tenants.services import tenant_provision
from widget_builder.models import Widget


def _signed_in(page, user, host: str) -> None:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session.session_key, "domain": host, "path": "/"}]
    )


def test_preview_follows_unsaved_settings(page, site, live_port):
    owner = User.objects.create_user(email="builder@example.com", password="x-long-pass-1")
    tenant = tenant_provision(slug="builder-co", name="Builder Co", owner=owner)
    with tenant_context(tenant):
        widget = Widget.objects.get()
    _signed_in(page, owner, "builder-co.saas.test")
    page.goto(f"http://builder-co.saas.test:{live_port}/dashboard/widgets/{widget.pk}/")

    page.get_by_label("Bot name *").fill("Previewy")
    page.get_by_label("Prechat fields (JSON)").fill(
        '[{"kind": "email", "label": "Work email", "required": true}]'
    )
    page.get_by_role("button", name="Prechat form").click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    assert dialog.get_by_role("heading", name="Previewy").is_visible()
    assert dialog.get_by_label("Work email *").is_visible()

    page.get_by_role("button", name="Launcher", exact=True).click()
    assert not dialog.is_visible()
    with tenant_context(tenant):
        assert Widget.objects.get().bot_name == "Assistant"  # nothing was saved
    assert page.js_errors == []
