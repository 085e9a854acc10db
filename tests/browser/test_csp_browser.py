"""Pages work in a real browser under the Content-Security-Policy, and the browser reports
no violation: the widget builder (live preview of the real widget from the public host,
the copy button), the signup page (the live address check), the admin and the API docs."""

from __future__ import annotations

from django_tenants.utils import tenant_context

from tests.browser.conftest import signed_in
from tests.tenants.factories import StaffUserFactory, TenantFactory, UserFactory
from widget_builder.models import Widget

# Chromium reports every refused script, style, connection or frame as a console message,
# and fires "securitypolicyviolation" on the document; the init script collects the latter.
COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});
"""


def _watch(page) -> list[str]:
    """Console messages about the policy on any page the test opens (the list fills as the
    test goes); the in-page events are read with :func:`_violations`."""
    messages: list[str] = []
    page.on(
        "console",
        lambda m: messages.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.add_init_script(COLLECT_VIOLATIONS)
    return messages


def _violations(page) -> list[str]:
    return page.evaluate("window.__cspViolations || []")


def test_widget_builder_preview_and_copy_work_under_the_policy(page, site, live_port):
    owner = UserFactory(email="csp-builder@example.com")
    tenant = TenantFactory(slug="csp-builder", name="CSP Builder", owner=owner)
    with tenant_context(tenant):
        widget = Widget.objects.get()
    console = _watch(page)
    signed_in(page, owner, "csp-builder.saas.test")

    response = page.goto(f"http://csp-builder.saas.test:{live_port}/dashboard/widgets/{widget.pk}/")
    header = response.headers["content-security-policy"]
    assert f"script-src 'self' http://saas.test:{live_port}" in header and "frame-ancestors 'none'" in header

    # the live preview: the real widget, loaded from the public host, follows the form
    page.get_by_role("button", name="Chat", exact=True).click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    page.get_by_label("Bot name *").fill("Policy Bot")
    dialog.get_by_role("heading", name="Policy Bot").wait_for()
    fields = page.get_by_role("group", name="Fields")  # the prechat form builder
    fields.get_by_role("button", name="Add a field").click()
    fields.get_by_label("Kind").select_option("email")
    fields.get_by_label("Label").fill("Work email")
    fields.get_by_label("Required").check()
    page.get_by_role("button", name="Prechat form").click()
    dialog.get_by_label("Work email *").wait_for()
    assert dialog.get_by_role("heading", name="Policy Bot").is_visible()

    # copying the snippet says so and tells the server (the onboarding step)
    with page.expect_response(lambda r: r.url.endswith(f"/dashboard/widgets/{widget.pk}/copied")) as copied:
        page.get_by_role("button", name="Copy snippet").click()
    assert copied.value.status == 200
    page.locator("#copy-status", has_text="Copied.").wait_for()
    with tenant_context(tenant):
        assert Widget.objects.get().snippet_copied_at is not None
        assert Widget.objects.get().bot_name == "Assistant"  # the preview saved nothing

    assert _violations(page) == [] and console == []
    assert page.js_errors == []


def test_signup_address_check_works_under_the_policy(page, site):
    console = _watch(page)
    response = page.goto(f"{site}/accounts/signup/")
    assert "script-src 'self'" in response.headers["content-security-policy"].split("; ")
    page.get_by_label("Workspace name").fill("Policy Bakery")
    assert page.get_by_label("Workspace address").input_value() == "policy-bakery"
    page.locator("#slug-status", has_text="policy-bakery.saas.test is available.").wait_for()
    page.get_by_label("Workspace address").fill("www")
    page.locator("#slug-status", has_text="reserved").wait_for()
    assert _violations(page) == [] and console == []
    assert page.js_errors == []


def test_admin_and_api_docs_work_under_the_policy(page, site, live_port):
    staff = StaffUserFactory(email="csp-staff@example.com")
    owner = UserFactory(email="csp-docs@example.com")
    TenantFactory(slug="csp-docs", name="CSP Docs", owner=owner)
    console = _watch(page)

    signed_in(page, staff, "saas.test")
    page.goto(f"{site}/admin/tenants/tenant/")
    page.get_by_role("link", name="CSP Docs").click()
    page.get_by_role("link", name="Open dashboard read-only (support)").wait_for()  # unfold's page
    assert _violations(page) == []

    signed_in(page, owner, "csp-docs.saas.test")
    page.goto(f"http://csp-docs.saas.test:{live_port}/api/docs/")
    page.locator(".swagger-ui .opblock").first.wait_for()  # the start-up script ran (nonce)
    assert _violations(page) == []
    page.goto(f"http://csp-docs.saas.test:{live_port}/api/redoc/")
    page.locator("redoc h1, #redoc-container h1").first.wait_for()
    page.get_by_placeholder("Search...").fill("api")  # ReDoc's search runs in a blob: worker
    page.locator("[role=search] li, [data-role='search:results'] li").first.wait_for()
    # the one thing refused: ReDoc's logo from a CDN (nothing is fetched from a CDN; it hides itself)
    assert _violations(page) == ["img-src https://cdn.redoc.ly/redoc/logo-mini.svg"]
    console[:] = [m for m in console if "cdn.redoc.ly" not in m]
    assert console == []
    assert page.js_errors == []
