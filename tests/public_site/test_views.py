"""public_site.views: signup -> verified email -> workspace through the real forms, with
every failure path; the address check, sign-in limits and password reset; the public
pages; and the workspace picker."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django_tenants.utils import tenant_context

from billing.plans import PLANS
from knowledge.models import KnowledgeBase
from tenants import services
from tenants.errors import ProvisioningFailed
from tenants.models import Membership, SpareSchema, Tenant, User
from tests.emails import assert_product_email
from tests.hosts import PUBLIC_HOST, follow_across_hosts
from tests.tenants.factories import EmailAddressFactory, MembershipFactory
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db
SIGNUP = "/accounts/signup/"


def _signup(client, **overrides):
    data = {
        "workspace_name": "Acme Support",
        "slug": "acme-support",
        "email": "founder@acme.example",
        "password1": "correct-horse-battery-9",
        **overrides,
    }
    return client.post(SIGNUP, data, HTTP_HOST=PUBLIC_HOST)


def test_signup_verify_and_land_in_the_new_workspace(client, seeded):
    SpareSchema.objects.all().delete()
    services.tenant_pool_refill(size=1)
    spare = SpareSchema.objects.get().schema_name

    response = _signup(client)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"

    user = User.objects.get(email="founder@acme.example")
    tenant = Tenant.objects.get(slug="acme-support")
    assert tenant.schema_name == spare and tenant.status == "active" and tenant.name == "Acme Support"
    assert Membership.objects.get(tenant=tenant, user=user).role == "owner"
    with tenant_context(tenant):
        assert Widget.objects.count() == 1 and KnowledgeBase.objects.count() == 1

    # not signed in until the address is confirmed
    assert client.get("/workspaces/", HTTP_HOST=PUBLIC_HOST).status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["founder@acme.example"]
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/[^\s]+)", mail.outbox[0].body).group(1)
    assert_product_email(mail.outbox[0], link, "Confirm your email address", "founder@acme.example")
    confirm_page = client.get(link, HTTP_HOST=PUBLIC_HOST)
    assert confirm_page.status_code == 200
    response = client.post(link, HTTP_HOST=PUBLIC_HOST)

    page = follow_across_hosts(client, response)
    assert page.status_code == 200
    assert page.wsgi_request.get_host() == "acme-support.saas.test"
    assert page.wsgi_request.path == "/dashboard/"
    assert b"Acme Support" in page.content


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"slug": "www"}, "slug", "reserved"),
        ({"slug": "tenant-a"}, "slug", "already taken"),
        ({"slug": "a"}, "slug", "at least 3"),
        ({"slug": "Bad_Slug"}, "slug", "lowercase"),
        ({"email": "owner-tenant-a@example.com"}, "email", "already registered"),
        ({"email": "not-an-email"}, "email", "valid email"),
        ({"password1": "password"}, "password1", "too common"),
        ({"password1": "short"}, "password1", "too short"),
        ({"workspace_name": ""}, "workspace_name", "required"),
    ],
)
def test_bad_input_gets_field_errors_and_creates_nothing(client, seeded, overrides, field, fragment):
    counts = (User.objects.count(), Tenant.objects.count(), Membership.objects.count())
    response = _signup(client, **overrides)
    assert response.status_code == 200
    errors = " ".join(str(e) for e in response.context["form"].errors.get(field, []))
    assert fragment in errors.lower(), response.context["form"].errors
    assert (User.objects.count(), Tenant.objects.count(), Membership.objects.count()) == counts
    assert not mail.outbox


def test_failed_provisioning_leaves_no_orphan_user(client, seeded, monkeypatch):
    def broken(**kwargs):
        raise ProvisioningFailed("Please try again in a minute.")

    monkeypatch.setattr(services, "tenant_provision", broken)
    response = _signup(client)
    assert response.status_code == 200
    assert "Nothing was saved" in " ".join(response.context["form"].non_field_errors())
    assert not User.objects.filter(email="founder@acme.example").exists()
    assert not Tenant.objects.filter(slug="acme-support").exists()


def test_honeypot_filled_by_a_bot_creates_nothing(client, seeded):
    _signup(client, website="http://spam.example")
    assert not User.objects.filter(email="founder@acme.example").exists()
    assert not Tenant.objects.filter(slug="acme-support").exists()


def test_slug_check_api(client, seeded):
    ok = client.get("/api/public/v1/slug-check", {"slug": "Fresh-Name"}, HTTP_HOST=PUBLIC_HOST)
    assert ok.status_code == 200
    assert ok.json() == {"slug": "fresh-name", "available": True, "address": "fresh-name.saas.test"}
    taken = client.get("/api/public/v1/slug-check", {"slug": "tenant-a"}, HTTP_HOST=PUBLIC_HOST)
    assert taken.status_code == 422 and taken.json()["code"] == "slug_taken"
    assert taken["Content-Type"] == "application/problem+json"
    bad = client.get("/api/public/v1/slug-check", {"slug": "admin"}, HTTP_HOST=PUBLIC_HOST)
    assert bad.status_code == 422 and bad.json()["errors"]["slug"][0]["code"] == "slug_invalid"


def test_slug_check_is_rate_limited(client, seeded, settings):
    statuses = [
        client.get("/api/public/v1/slug-check", {"slug": f"name-{i}"}, HTTP_HOST=PUBLIC_HOST).status_code
        for i in range(125)
    ]
    assert statuses[:120] == [200] * 120
    limited = client.get("/api/public/v1/slug-check", {"slug": "x-name"}, HTTP_HOST=PUBLIC_HOST)
    assert limited.status_code == 429 and int(limited["Retry-After"]) >= 1
    assert limited.json()["code"] == "rate_limited"


def test_failed_logins_are_rate_limited(client, tenant_a):
    def attempt(password):
        return client.post(
            "/accounts/login/", {"login": tenant_a.owner.email, "password": password}, HTTP_HOST=PUBLIC_HOST
        )

    for i in range(5):
        assert attempt(f"wrong-{i}").status_code == 200
    # the sixth try is refused even with the right password
    response = attempt("owner-password-1")
    assert response.status_code == 200
    assert "Too many failed login attempts" in " ".join(response.context["form"].non_field_errors())
    assert "_auth_user_id" not in client.session


def test_public_pages(client, settings):
    assert client.get("/", HTTP_HOST=PUBLIC_HOST).status_code == 200
    pricing = client.get("/pricing/", HTTP_HOST=PUBLIC_HOST).content.decode()
    for plan in PLANS:
        assert plan.name in pricing and f"{plan.ai_answers:,} AI answers a month" in pricing
    assert "Conversations and contacts kept up to 30 days" in pricing  # Free's retention bound
    assert "Conversations and contacts kept as long as you choose" in pricing  # Business
    assert client.get("/docs/getting-started/", HTTP_HOST=PUBLIC_HOST).status_code == 200
    assert b'<label for="id_slug">' in client.get(SIGNUP, HTTP_HOST=PUBLIC_HOST).content


def test_password_reset_by_email(client, tenant_a):
    EmailAddressFactory(user=tenant_a.owner)
    response = client.post(
        "/accounts/password/reset/", {"email": tenant_a.owner.email}, HTTP_HOST=PUBLIC_HOST
    )
    assert response.status_code == 302
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+)", mail.outbox[-1].body).group(1)
    assert_product_email(mail.outbox[-1], link, "Choose a new password")
    form_page = client.get(link, HTTP_HOST=PUBLIC_HOST, follow=True)
    action = form_page.wsgi_request.path
    done = client.post(
        action,
        {"password1": "a-brand-new-secret-5", "password2": "a-brand-new-secret-5"},
        HTTP_HOST=PUBLIC_HOST,
    )
    assert done.status_code == 302
    assert User.objects.get(pk=tenant_a.owner.pk).check_password("a-brand-new-secret-5")
    # the link works once
    assert b"invalid" in client.get(link, HTTP_HOST=PUBLIC_HOST, follow=True).content.lower()


def test_password_reset_does_not_reveal_which_addresses_exist(client, tenant_a):
    EmailAddressFactory(user=tenant_a.owner)
    known = client.post("/accounts/password/reset/", {"email": tenant_a.owner.email}, HTTP_HOST=PUBLIC_HOST)
    unknown = client.post("/accounts/password/reset/", {"email": "nobody@example.com"}, HTTP_HOST=PUBLIC_HOST)
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]


def test_non_member_cannot_open_a_workspace(client, tenant_a, tenant_b):
    client.force_login(tenant_b.owner, host=PUBLIC_HOST)
    assert client.get(f"/workspaces/{tenant_a.tenant.slug}/open", HTTP_HOST=PUBLIC_HOST).status_code == 404
    assert client.get("/workspaces/no-such-place/open", HTTP_HOST=PUBLIC_HOST).status_code == 404


def test_picker_lists_every_workspace_and_forwards_when_there_is_one(client, tenant_a, tenant_b):
    client.force_login(tenant_a.owner, host=PUBLIC_HOST)
    single = client.get("/workspaces/", HTTP_HOST=PUBLIC_HOST)
    assert single["Location"] == f"/workspaces/{tenant_a.tenant.slug}/open"
    MembershipFactory(tenant=tenant_b.tenant, user=tenant_a.owner, role="agent")
    page = client.get("/workspaces/", HTTP_HOST=PUBLIC_HOST)
    assert page.status_code == 200
    assert b"MARKER-A Company" in page.content and b"MARKER-B Company" in page.content


def test_a_reset_for_an_unknown_address_sends_the_signup_link_instead(client, db):
    client.post("/accounts/password/reset/", {"email": "nobody@example.com"}, HTTP_HOST=PUBLIC_HOST)
    (message,) = mail.outbox
    assert message.to == ["nobody@example.com"]
    assert_product_email(message, "/accounts/signup/", "nobody@example.com", "no account uses this address")


def test_account_already_exists_email_is_on_the_layout(rf, db, settings):
    from allauth.account.adapter import get_adapter
    from allauth.core import context

    settings.ROOT_URLCONF = "saas.urls_public"

    request = rf.get("/accounts/signup/", HTTP_HOST=PUBLIC_HOST)
    with context.request_context(request):
        get_adapter(request).send_account_already_exists_mail("taken@example.com")
    (message,) = mail.outbox
    text, _html = assert_product_email(message, "/accounts/password/reset/", "taken@example.com")
    assert text.rstrip().endswith(f"Chatbot platform · {settings.BASE_DOMAIN}")  # the layout's footer


def test_pricing_monthly_or_yearly(client, db):
    monthly = client.get("/pricing/", HTTP_HOST=PUBLIC_HOST).content.decode()
    yearly = client.get("/pricing/?billing=yearly", HTTP_HOST=PUBLIC_HOST).content.decode()
    pro = next(plan for plan in PLANS if plan.code == "pro")
    assert f"${pro.monthly}<small> / month" in monthly and f"${pro.yearly}<small> / year" in yearly
    assert 'href="?billing=yearly" aria-current="page"' in yearly
    assert 'href="?billing=monthly" aria-current="page"' in monthly


def test_the_account_page_is_for_signed_in_people_and_lists_addresses_and_workspaces(
    client, tenant_a, tenant_b
):
    assert client.get("/account/", HTTP_HOST=PUBLIC_HOST).status_code == 302  # to sign-in
    EmailAddressFactory(user=tenant_a.owner, email="second@example.com", primary=False, verified=False)
    MembershipFactory(tenant=tenant_b.tenant, user=tenant_a.owner, role="agent")
    client.force_login(tenant_a.owner, host=PUBLIC_HOST)
    page = client.get("/account/", HTTP_HOST=PUBLIC_HOST)
    assert page.status_code == 200
    html = page.content.decode()
    assert "second@example.com" in html and "Not confirmed" in html
    assert "MARKER-A Company" in html and "MARKER-B Company" in html
    assert f'/workspaces/{tenant_b.tenant.slug}/open"' in html
    for url in ("/accounts/password/change/", "/accounts/email/", "/accounts/logout/"):
        assert f'"{url}"' in html


def test_refused_signup_keeps_what_was_typed_with_errors_under_their_fields(client, seeded):
    response = _signup(client, slug="www", workspace_name="Typed Name")
    html = response.content.decode()
    assert 'value="Typed Name"' in html and 'value="founder@acme.example"' in html
    assert 'id="id_slug_errors"' in html and 'aria-invalid="true"' in html
    assert "reserved" in html.split('id="id_slug_errors"')[1].split("</ul>")[0]


@pytest.mark.parametrize(("path", "status", "text"), [("/no-such-page/", 404, "Nothing here.")])
def test_error_pages_are_on_the_design_system_and_keep_their_detail(client, db, path, status, text):
    response = client.get(path, HTTP_HOST=PUBLIC_HOST, HTTP_ACCEPT="text/html")
    html = response.content.decode()
    assert response.status_code == status and text in html
    assert "ui/app.css" in html and "public_site/site.css" in html and 'class="error-page"' in html


def test_signed_in_as_someone_else_the_invitation_offers_a_sign_out_that_comes_back(client, tenant_a):
    from tenants.services.team import invitation_token
    from tests.tenants.factories import InvitationFactory

    invitation = InvitationFactory(tenant=tenant_a.tenant, email="invitee@example.com")
    path = f"/invitations/{invitation_token(invitation)}/"
    client.force_login(tenant_a.owner, host=PUBLIC_HOST)
    page = client.get(path, HTTP_HOST=PUBLIC_HOST).content.decode()
    assert "but this invitation is for invitee@example.com" in page
    assert f'name="next" value="{path}"' in page
    response = client.post("/accounts/logout/", {"next": path}, HTTP_HOST=PUBLIC_HOST)
    assert response.status_code == 302 and response["Location"] == path
    assert "_auth_user_id" not in client.session
