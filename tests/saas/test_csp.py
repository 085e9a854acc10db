"""Content-Security-Policy on every HTML page: the dashboard, the public site, the admin.

Scripts only from our origins or with the request's nonce (never 'unsafe-inline'), nothing
may frame our pages, and on a workspace's host exactly the public host's origin is added
for the widget the builder previews. Dashboard pages that show visitors' data are never
cached.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.apps import apps
from django.conf import settings
from django.test import Client
from django_tenants.utils import tenant_context

from chat.models import Conversation
from tenants.models import Tenant
from tests.hosts import PUBLIC_HOST
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db

PUBLIC_ORIGIN = f"http://{PUBLIC_HOST}"


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


class _Scripts(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.handlers: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts.append(dict(attrs))
        self.handlers += [f"<{tag} {name}>" for name, _ in attrs if name.startswith("on")]


def assert_scripts_obey(response) -> None:
    """Every script on the page runs under the policy: from a source the policy allows,
    a data block (json_script), or carrying this response's nonce. No event handlers."""
    parser = _Scripts()
    parser.feed(response.content.decode())
    script_src = policy(response)["script-src"]
    for script in parser.scripts:
        if script.get("type") == "application/json":
            continue
        if script.get("src"):
            src = urlparse(script["src"])
            assert not src.netloc or f"{src.scheme}://{src.netloc}" in script_src, script
            continue
        assert script.get("nonce") and f"'nonce-{script['nonce']}'" in script_src, script
    assert parser.handlers == []


def assert_strict_scripts(directives: dict[str, list[str]]) -> None:
    assert "'self'" in directives["script-src"]
    for unsafe in ("'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"):
        assert unsafe not in directives["script-src"]
        assert unsafe not in directives["default-src"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["img-src"] == ["'self'", "data:"]


def _widget(tenant) -> Widget:
    with tenant_context(tenant.tenant):
        return Widget.objects.order_by("pk").first()


# --- the header on each kind of page -----------------------------------------------------


def test_dashboard_pages_allow_exactly_the_public_origin_for_the_widget(owner, tenant_a):
    widget = _widget(tenant_a)
    page = owner.get(f"/dashboard/widgets/{widget.pk}/")
    assert page.status_code == 200
    directives = policy(page)
    assert_strict_scripts(directives)
    assert directives["script-src"] == ["'self'", PUBLIC_ORIGIN]
    assert directives["connect-src"] == ["'self'", PUBLIC_ORIGIN]
    # what the page loads from the public host is what the policy allows, and no more
    # (the loader's address waits in a <template> until the page has loaded: edit.js)
    loader = re.search(r'<template id="preview-loader" data-src="([^"]+)"', page.content.decode()).group(1)
    assert loader == f"{PUBLIC_ORIGIN}/w/v1/loader.js"
    assert_scripts_obey(page)
    for path in ("/dashboard/", "/dashboard/widgets/", "/dashboard/conversations/", "/dashboard/knowledge/"):
        response = owner.get(path)
        assert response.status_code == 200, path
        assert_strict_scripts(policy(response))
        assert_scripts_obey(response)


def test_the_public_origin_follows_the_request_port(tenant_a):
    client = Client(HTTP_HOST=f"{tenant_a.host}:8000")
    client.force_login(tenant_a.owner)
    page = client.get(f"/dashboard/widgets/{_widget(tenant_a).pk}/", SERVER_PORT="8000")
    assert policy(page)["script-src"] == ["'self'", f"{PUBLIC_ORIGIN}:8000"]
    assert f'src="{PUBLIC_ORIGIN}:8000/w/v1/loader.js"' in page.content.decode()


def test_public_pages_allow_only_their_own_origin(client):
    for path in ("/", "/pricing/", "/accounts/signup/", "/accounts/login/", "/docs/errors/"):
        response = client.get(path, HTTP_HOST=PUBLIC_HOST)
        assert response.status_code == 200, path
        directives = policy(response)
        assert_strict_scripts(directives)
        assert directives["script-src"] == ["'self'"] and directives["connect-src"] == ["'self'"]
        assert_scripts_obey(response)


def assert_admin_scripts(directives: dict[str, list[str]]) -> None:
    """The admin's policy: the strict one plus 'unsafe-eval' for unfold's Alpine.js
    expressions (tenants.admin_site), and nothing else: no 'unsafe-inline', no hosts."""
    assert directives["script-src"] == ["'self'", "'unsafe-eval'"]
    assert_strict_scripts({**directives, "script-src": ["'self'"]})


def test_admin_pages_carry_the_policy_and_need_nothing_inline(staff_client, tenant_a):
    for path in (
        "/admin/",
        "/admin/tenants/tenant/",
        f"/admin/tenants/tenant/{tenant_a.tenant.pk}/change/",
        "/admin/tenants/user/add/",
        "/admin/tenants/platformauditevent/",
    ):
        response = staff_client.get(path)
        assert response.status_code == 200, path
        assert_admin_scripts(policy(response))
        assert_scripts_obey(response)


def test_admin_login_page_has_the_admin_policy(client):
    response = client.get("/admin/login/", HTTP_HOST=PUBLIC_HOST)
    assert response.status_code == 200
    assert_admin_scripts(policy(response))
    assert_scripts_obey(response)


def test_only_the_admin_allows_eval(client, owner):
    """The admin's relaxation stays on the admin: the public site and a workspace's
    dashboard keep the strict policy."""
    for response in (
        client.get("/", HTTP_HOST=PUBLIC_HOST),
        owner.get("/dashboard/"),
    ):
        assert response.status_code == 200
        assert "'unsafe-eval'" not in policy(response)["script-src"]


def test_error_pages_and_routing_answers_carry_the_policy(client, tenant_a):
    unknown = client.get("/", HTTP_HOST="nowhere.saas.test")
    assert unknown.status_code == 404
    assert_strict_scripts(policy(unknown))
    Tenant.objects.filter(pk=tenant_a.tenant.pk).update(status=Tenant.Status.PROVISIONING)
    provisioning = client.get("/", HTTP_HOST=tenant_a.host, HTTP_ACCEPT="text/html")
    assert provisioning.status_code == 503
    assert_strict_scripts(policy(provisioning))
    # it reloads itself without a script
    assert b'<meta http-equiv="refresh" content="3">' in provisioning.content
    assert b"<script" not in provisioning.content


def test_api_docs_run_their_start_up_script_with_the_nonce(owner):
    swagger = owner.get("/api/docs/")
    assert swagger.status_code == 200
    assert_strict_scripts(policy(swagger))
    assert any(value.startswith("'nonce-") for value in policy(swagger)["script-src"])
    assert b"<script nonce=" in swagger.content
    assert_scripts_obey(swagger)
    redoc = owner.get("/api/redoc/")
    assert redoc.status_code == 200
    assert_strict_scripts(policy(redoc))
    assert_scripts_obey(redoc)
    assert b"fonts.googleapis.com" not in redoc.content  # refused by the policy anyway
    # ReDoc's search runs in a worker made from a blob: URL; no other page may start one
    assert policy(redoc)["worker-src"] == ["blob:"]
    assert "worker-src" not in policy(swagger)


def test_each_response_gets_its_own_nonce(owner):
    def nonce() -> str:
        return next(v for v in policy(owner.get("/api/docs/"))["script-src"] if v.startswith("'nonce-"))

    assert nonce() != nonce()


# --- templates -----------------------------------------------------------------------------

INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.IGNORECASE)


def _project_templates() -> list[Path]:
    roots = [Path(d) for d in settings.TEMPLATES[0]["DIRS"]]
    roots += [
        Path(app.path) / "templates"
        for app in apps.get_app_configs()
        if Path(app.path).is_relative_to(settings.BASE_DIR)
        and not Path(app.path).is_relative_to(settings.BASE_DIR / ".venv")
    ]
    return sorted(path for root in roots if root.is_dir() for path in root.rglob("*.html"))


def test_no_template_has_an_inline_script_without_the_nonce():
    templates = _project_templates()
    assert len(templates) > 40  # the scan found the project's templates
    offenders = []
    for template in templates:
        text = template.read_text()
        for tag in INLINE_SCRIPT.findall(text):
            if 'nonce="{{ request.csp_nonce }}"' not in tag:
                offenders.append(f"{template}: {tag}")
        offenders += [f"{template}: event handler {m}" for m in EVENT_HANDLER.findall(text)]
        if "javascript:" in text.lower():
            offenders.append(f"{template}: javascript: URL")
    assert offenders == []


def test_the_template_scan_catches_what_it_looks_for():
    assert INLINE_SCRIPT.findall('<script>alert(1)</script><script src="/a.js"></script>') == ["<script>"]
    assert INLINE_SCRIPT.findall('<script type="module">x</script>') == ['<script type="module">']
    assert EVENT_HANDLER.findall('<button onclick="x()">') and not EVENT_HANDLER.findall("<p>only</p>")


# --- never cached ----------------------------------------------------------------------


def test_conversation_pages_are_never_cached(owner, tenant_a):
    with tenant_context(tenant_a.tenant):
        conversation = Conversation.objects.order_by("pk").first()
    for path in ("/dashboard/conversations/", f"/dashboard/conversations/{conversation.pk}/"):
        response = owner.get(path)
        assert response.status_code == 200, path
        assert "no-store" in response["Cache-Control"], path


def test_styles_come_only_from_our_stylesheets_but_where_the_widget_or_a_viewer_runs(owner, tenant_a, client):
    """style-src is 'self' on the dashboard and the public site; the pages that run the real
    widget (its Shadow DOM carries a <style>) and the API docs' viewers add 'unsafe-inline'
    for styles on their own responses, never for scripts."""
    strict = [
        owner.get("/dashboard/"),
        owner.get("/dashboard/conversations/"),
        owner.get("/dashboard/knowledge/"),
        client.get("/", HTTP_HOST="saas.test"),
        client.get("/accounts/login/", HTTP_HOST="saas.test"),
    ]
    for response in strict:
        assert response.status_code == 200
        assert policy(response)["style-src"] == ["'self'"], response.wsgi_request.path
    widget = _widget(tenant_a)
    relaxed = [
        owner.get(f"/dashboard/widgets/{widget.pk}/"),
        owner.get("/api/docs/"),
        client.get(f"/w/v1/test/{widget.key}/", HTTP_HOST="saas.test"),
    ]
    for response in relaxed:
        assert response.status_code == 200
        assert policy(response)["style-src"] == ["'self'", "'unsafe-inline'"], response.wsgi_request.path
        assert_strict_scripts(policy(response))
