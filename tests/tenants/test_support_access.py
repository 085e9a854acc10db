"""Staff read-only support access: started from the platform admin with a reason, for a
limited time; a one-time hand-off opens a support session on the workspace's host that
the dashboard alone honours, read-only; audited, emailed and shown to the owners, who can
end it early."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from saas.errors import PermissionDenied
from tenants.models import ApiKey, Invitation, Membership, PlatformAuditEvent, SupportAccess
from tenants.services import support as support_services
from tests.tenants.factories import MembershipFactory, UserFactory
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db

REASON = "Ticket 4711: the widget does not answer on their pricing page"
SHELL = Path(settings.BASE_DIR) / "templates/tenants/shell.html"
SHELL_SHOWS_BANNER = "_support_banner.html" in SHELL.read_text()


def _start(staff_client, tenant, reason=REASON, minutes=30):
    return staff_client.post(
        f"/admin/tenants/tenant/{tenant.pk}/support/", {"reason": reason, "minutes": str(minutes)}
    )


@pytest.fixture
def support(staff_client, tenant_a, django_capture_on_commit_callbacks):
    """A browser on tenant A's host holding a support session opened from the admin."""
    with django_capture_on_commit_callbacks(execute=True):
        response = _start(staff_client, tenant_a.tenant)
    assert response.status_code == 302, response.content[:500]
    target = urlparse(response["Location"])
    assert target.hostname == tenant_a.host.split(":")[0] and target.path == "/support/handoff"
    browser = Client(HTTP_HOST=tenant_a.host)
    arrived = browser.get(f"{target.path}?{target.query}")
    assert arrived.status_code == 302 and arrived["Location"] == "/dashboard/"
    browser.grant = SupportAccess.objects.get(tenant=tenant_a.tenant)
    return browser


def test_staff_open_a_workspace_read_only_and_every_section_reads(support, staff_user, tenant_a):
    with tenant_context(tenant_a.tenant):
        widget = Widget.objects.first()
    for path in (
        f"/dashboard/widgets/{widget.pk}/",  # a page that exists to change settings: shown, never posted
        "/dashboard/",
        "/dashboard/conversations/",
        "/dashboard/widgets/",
        "/dashboard/knowledge/",
        "/dashboard/team/",
        "/dashboard/billing/",
        "/dashboard/api/",
        "/dashboard/support-access/",
    ):
        page = support.get(path)
        assert page.status_code == 200, path
        assert page["Cache-Control"].startswith("no-store") or "no-store" in page["Cache-Control"]
    home = support.get("/dashboard/")
    assert home.wsgi_request.support_access == support.grant
    assert home.wsgi_request.user == staff_user
    assert home.context["membership"].role == "support" and home.context["membership"].pk is None


@pytest.mark.skipif(not SHELL_SHOWS_BANNER, reason="tenants/shell.html's banner block lacks it yet")
def test_every_page_shows_the_support_banner(support):
    for path in ("/dashboard/", "/dashboard/team/", "/dashboard/widgets/"):
        html = support.get(path).content.decode()
        assert "Support access by staff@example.com" in html and "read-only" in html, path
        # the page's forms that would change something are not offered (app.css .read-only)
        assert '<div class="app read-only"' in html, path


def test_the_banner_names_the_staff_member_and_the_end_time(support):
    from django.template.loader import render_to_string

    request = support.get("/dashboard/").wsgi_request
    html = render_to_string("tenants/_support_banner.html", {"request": request}, request=request)
    ends = timezone.localtime(support.grant.expires_at, timezone.get_default_timezone()).strftime("%H:%M")
    assert "Support access by staff@example.com" in html and "read-only" in html and ends in html
    assert 'action="/support/exit"' in html


def test_nothing_can_be_changed(support, tenant_a):
    keys, invitations = ApiKey.objects.count(), Invitation.objects.count()
    for path, data in (
        ("/dashboard/team/", {"action": "invite", "email": "new@example.com", "role": "agent"}),
        ("/dashboard/api/", {"name": "support key", "role": "admin"}),
        ("/dashboard/billing/checkout", {"plan": "pro", "interval": "monthly"}),
        ("/dashboard/billing/portal", {}),
        ("/dashboard/widgets/new", {"name": "x"}),
        ("/dashboard/support-access/", {"access": str(support.grant.pk)}),
        ("/dashboard/", {}),
    ):
        assert support.post(path, data).status_code == 403, path
        for method in (support.put, support.patch, support.delete):
            # 405 where the route takes POST only, else the dashboard's refusal
            assert method(path).status_code in (403, 405), (path, method)
    assert ApiKey.objects.count() == keys and Invitation.objects.count() == invitations
    support.grant.refresh_from_db()
    assert support.grant.ended_at is None


def test_the_rest_api_does_not_take_a_support_session(support):
    for path in ("/api/v1/members", "/api/v1/tenant", "/api/v1/api-keys"):
        assert support.get(path).status_code in (401, 403), path
    assert support.post("/api/v1/api-keys", {"name": "k"}).status_code in (401, 403)


def test_after_expiry_every_page_is_refused(support):
    SupportAccess.objects.filter(pk=support.grant.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert support.get("/dashboard/").status_code == 403
    assert support.get("/dashboard/team/").status_code == 403


def test_staff_who_lose_is_staff_are_refused_at_once(support, staff_user):
    staff_user.is_staff = False
    staff_user.save(update_fields=["is_staff"])
    assert support.get("/dashboard/").status_code == 403


def test_another_tenants_host_takes_neither_session_nor_token(support, staff_client, tenant_a, tenant_b):
    cookie = support.cookies[settings.SESSION_COOKIE_NAME].value
    elsewhere = Client(HTTP_HOST=tenant_b.host)
    elsewhere.cookies[settings.SESSION_COOKIE_NAME] = cookie
    response = elsewhere.get("/dashboard/")
    assert response.status_code == 302 and "/login/" in response["Location"]  # anonymous there
    # a hand-off minted for A is refused on B's host (and stays spendable on A's only)
    started = _start(staff_client, tenant_a.tenant)
    target = urlparse(started["Location"])
    assert Client(HTTP_HOST=tenant_b.host).get(f"{target.path}?{target.query}").status_code == 400


def test_a_hand_off_works_once(staff_client, tenant_a):
    target = urlparse(_start(staff_client, tenant_a.tenant)["Location"])
    assert Client(HTTP_HOST=tenant_a.host).get(f"{target.path}?{target.query}").status_code == 302
    assert Client(HTTP_HOST=tenant_a.host).get(f"{target.path}?{target.query}").status_code == 400


def test_start_and_end_are_audited_and_the_owners_emailed(support, staff_user, tenant_a, owner):
    started = PlatformAuditEvent.objects.get(action="tenant.support_access_started")
    assert started.actor_email == staff_user.email and started.target_id == str(tenant_a.tenant.pk)
    assert started.metadata["reason"] == REASON and started.metadata["support_access"] == support.grant.pk
    [email] = [m for m in mail.outbox if "Support access" in m.subject]
    assert email.to == [tenant_a.owner.email]
    assert staff_user.email in email.body and REASON in email.body
    assert "/dashboard/support-access/" in email.body

    page = owner.get("/dashboard/support-access/")
    assert page.status_code == 200
    html = page.content.decode()
    assert staff_user.email in html and REASON in html and "Open now" in html and "End now" in html

    ended = owner.post("/dashboard/support-access/", {"access": str(support.grant.pk)})
    assert ended.status_code == 302
    support.grant.refresh_from_db()
    assert support.grant.ended_at is not None and support.grant.ended_by_email == tenant_a.owner.email
    audit = PlatformAuditEvent.objects.get(action="tenant.support_access_ended")
    assert audit.actor_email == tenant_a.owner.email and audit.metadata["support_access"] == support.grant.pk
    # the support session is gone
    response = support.get("/dashboard/")
    assert response.status_code in (302, 403) and "Support access by" not in response.content.decode()


def test_the_staff_member_can_end_it_from_the_banner(support, staff_user):
    response = support.post("/support/exit")
    assert response.status_code == 302 and "/admin/tenants/tenant/" in response["Location"]
    support.grant.refresh_from_db()
    assert support.grant.ended_at is not None and support.grant.ended_by_email == staff_user.email
    assert support.get("/dashboard/").status_code == 302  # an anonymous visitor now


def test_only_owners_end_it(support, as_role):
    admin = as_role("admin")
    assert admin.get("/dashboard/support-access/").status_code == 200  # admins see the list
    assert admin.post("/dashboard/support-access/", {"access": str(support.grant.pk)}).status_code == 403
    assert as_role("agent").get("/dashboard/support-access/").status_code == 403
    support.grant.refresh_from_db()
    assert support.grant.ended_at is None


def test_owners_see_it_on_a_card_anywhere(support, owner):
    from django.template import Context, Template

    request = owner.get("/dashboard/").wsgi_request
    card = Template("{% load support_access %}{% support_accesses_card %}")
    html = card.render(Context({"request": request}))
    assert "staff@example.com" in html and REASON in html


def test_non_staff_cannot_start(client, tenant_a):
    member = MembershipFactory(tenant=tenant_a.tenant, role=Membership.Role.OWNER).user
    with pytest.raises(PermissionDenied):
        support_services.support_access_start(tenant=tenant_a.tenant, staff_user=member, reason=REASON)
    client.force_login(member, host="saas.test")
    response = client.post(
        f"/admin/tenants/tenant/{tenant_a.tenant.pk}/support/", {"reason": REASON}, HTTP_HOST="saas.test"
    )
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not SupportAccess.objects.exists()


def test_staff_need_the_support_access_permission(client, tenant_a):
    from django.contrib.auth.models import Permission

    from tests.tenants.factories import StaffUserFactory

    staff = StaffUserFactory(email="plain-staff@example.com", is_superuser=False)
    staff.user_permissions.add(Permission.objects.get(codename="view_tenant"))
    client.force_login(staff, host="saas.test")
    url = f"/admin/tenants/tenant/{tenant_a.tenant.pk}/support/"
    change = client.get(f"/admin/tenants/tenant/{tenant_a.tenant.pk}/change/", HTTP_HOST="saas.test")
    assert change.status_code == 200 and b"Open dashboard read-only" not in change.content
    response = client.post(url, {"reason": REASON, "minutes": "5"}, HTTP_HOST="saas.test")
    assert response.status_code == 403 and not SupportAccess.objects.exists()

    staff.user_permissions.add(Permission.objects.get(codename="add_supportaccess"))
    staff = type(staff).objects.get(pk=staff.pk)  # permissions are cached on the instance
    client.force_login(staff, host="saas.test")
    response = client.post(url, {"reason": REASON, "minutes": "5"}, HTTP_HOST="saas.test")
    assert response.status_code == 302 and SupportAccess.objects.filter(staff=staff).exists()


def test_a_reason_is_required_and_the_time_is_bounded(staff_client, tenant_a):
    short = _start(staff_client, tenant_a.tenant, reason="help")
    assert short.status_code == 200 and b"at least 10 characters" in short.content
    long = _start(staff_client, tenant_a.tenant, minutes=settings.SUPPORT_ACCESS_MAX_MINUTES + 1)
    assert long.status_code == 200
    assert not SupportAccess.objects.exists()
    form = staff_client.get(f"/admin/tenants/tenant/{tenant_a.tenant.pk}/support/")
    assert form.status_code == 200 and b"Open the dashboard read-only" in form.content
    change = staff_client.get(f"/admin/tenants/tenant/{tenant_a.tenant.pk}/change/")
    assert b"Open dashboard read-only (support)" in change.content


def test_an_unknown_user_stays_out(tenant_a):
    stranger = UserFactory()
    with pytest.raises(PermissionDenied):
        support_services.support_access_start(tenant=tenant_a.tenant, staff_user=stranger, reason=REASON)


def test_staff_list_every_support_access_read_only(support, staff_client):
    page = staff_client.get("/admin/tenants/supportaccess/")
    assert page.status_code == 200 and b"staff@example.com" in page.content
    assert staff_client.get("/admin/tenants/supportaccess/add/").status_code == 403
    change = staff_client.post(f"/admin/tenants/supportaccess/{support.grant.pk}/change/", {"reason": "x"})
    assert change.status_code == 403


# --- review findings -------------------------------------------------------------------


def test_signing_out_of_a_support_session_ends_the_access(support, staff_user):
    response = support.post("/logout")
    assert response.status_code == 302
    support.grant.refresh_from_db()
    assert support.grant.ended_at is not None and support.grant.ended_by_email == staff_user.email
    assert PlatformAuditEvent.objects.filter(action="tenant.support_access_ended").count() == 1


def test_signing_out_of_the_platform_admin_ends_the_accesses_opened_from_it(support, staff_client):
    assert support.get("/dashboard/").status_code == 200
    staff_client.post("/admin/logout/")
    support.grant.refresh_from_db()
    assert support.grant.ended_at is not None
    assert support.get("/dashboard/").status_code in (302, 403)


def test_an_access_stops_when_its_staff_member_loses_the_permission(client, tenant_a):
    from django.contrib.auth.models import Permission

    from tests.tenants.factories import StaffUserFactory

    staff = StaffUserFactory(email="support-staff@example.com", is_superuser=False)
    staff.user_permissions.add(
        Permission.objects.get(codename="view_tenant"), Permission.objects.get(codename="add_supportaccess")
    )
    _, token = support_services.support_access_start(tenant=tenant_a.tenant, staff_user=staff, reason=REASON)
    browser = Client(HTTP_HOST=tenant_a.host)
    assert browser.get(f"/support/handoff?token={token}").status_code == 302
    assert browser.get("/dashboard/").status_code == 200
    staff.user_permissions.remove(Permission.objects.get(codename="add_supportaccess"))
    assert browser.get("/dashboard/").status_code == 403


def test_opening_is_audited_with_the_browser_that_spent_the_token(support, staff_user):
    opened = PlatformAuditEvent.objects.get(action="tenant.support_access_opened")
    assert opened.actor_email == staff_user.email and opened.metadata["support_access"] == support.grant.pk


def test_a_support_link_never_replaces_a_members_session(staff_client, tenant_a, owner):
    target = urlparse(_start(staff_client, tenant_a.tenant)["Location"])
    refused = owner.get(f"{target.path}?{target.query}")
    assert refused.status_code == 409 and b"signed in to this workspace" in refused.content
    assert owner.get("/dashboard/").context["membership"].role == "owner"  # still themselves
    # the token was not spent: a browser that is not signed in here can still use it
    assert Client(HTTP_HOST=tenant_a.host).get(f"{target.path}?{target.query}").status_code == 302


def test_a_workspace_name_with_a_line_break_still_tells_the_owners(
    staff_user, tenant_a, django_capture_on_commit_callbacks
):
    from tenants.models import Tenant

    Tenant.objects.filter(pk=tenant_a.tenant.pk).update(name="Acme\nBcc: someone@example.com")
    tenant_a.tenant.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        support_services.support_access_start(tenant=tenant_a.tenant, staff_user=staff_user, reason=REASON)
    [email] = [m for m in mail.outbox if "Support access" in m.subject]
    assert "\n" not in email.subject and email.subject.startswith("Support access to Acme Bcc:")
