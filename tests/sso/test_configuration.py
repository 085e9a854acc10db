"""The workspace's single sign-on settings page and service: plans without single sign-on
cannot configure it, the secret is stored encrypted and never shown, every change is in
the workspace audit log, and only managers reach the page."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django_tenants.utils import tenant_context

from audit.models import AuditEvent
from billing.plans import BY_CODE
from saas.crypto import SecretUnreadable, new_master_key, secret_decrypt
from sso.errors import SsoNotInPlan
from sso.models import IdentityProvider
from tests.sso.conftest import configure

pytestmark = pytest.mark.django_db
PAGE = "/dashboard/settings/sso/"


def _form(idp, **overrides):
    return {
        "issuer": idp.issuer,
        "client_id": idp.client_id,
        "client_secret": idp.client_secret,
        "allowed_domains": "example.com, Other.example\nthird.example",
        "enabled": "on",
        **overrides,
    }


def test_a_plan_without_sso_cannot_configure_it(tenant_a, owner, idp):
    assert tenant_a.tenant.plan == "free"
    page = owner.get(PAGE)
    assert page.status_code == 200 and "comes with the Pro plan" in page.content.decode()

    response = owner.post(PAGE, _form(idp))

    assert response.status_code == 403
    assert "Single sign-on comes with the Pro plan and above." in response.content.decode()
    assert not IdentityProvider.objects.exists()
    with tenant_context(tenant_a.tenant), pytest.raises(SsoNotInPlan) as raised:
        configure(tenant_a, idp)
    assert raised.value.code == "sso_not_in_plan" and raised.value.status == 403


def test_the_plans_with_sso_say_so():
    assert [code for code, plan in BY_CODE.items() if plan.sso] == ["pro", "business"]
    assert any("Single sign-on" in line for line in BY_CODE["pro"].features())
    assert not any("Single sign-on" in line for line in BY_CODE["starter"].features())


def test_the_owner_configures_sso_and_the_secret_is_stored_encrypted(business, owner, idp):
    response = owner.post(PAGE, _form(idp))
    assert response.status_code == 302, response.content.decode()[:2000]

    provider = IdentityProvider.objects.get(tenant=business.tenant)
    assert provider.issuer == idp.issuer and provider.client_id == idp.client_id
    assert provider.allowed_domains == ["example.com", "other.example", "third.example"]
    assert idp.client_secret not in provider.client_secret_encrypted
    assert secret_decrypt(provider.client_secret_encrypted) == idp.client_secret
    page = owner.get(PAGE).content.decode()
    assert idp.client_secret not in page
    assert "http://saas.test/sso/callback" in page  # the redirect URI to register


def test_a_blank_secret_keeps_the_stored_one_and_changes_are_audited(business, owner, idp):
    owner.post(PAGE, _form(idp))
    stored = IdentityProvider.objects.get().client_secret_encrypted

    response = owner.post(PAGE, _form(idp, client_secret="", require_sso="on"))

    assert response.status_code == 302
    provider = IdentityProvider.objects.get()
    assert provider.client_secret_encrypted == stored and provider.require_sso
    with tenant_context(business.tenant):
        sso_events = AuditEvent.objects.filter(action__startswith="sso.").order_by("id")
        events = list(sso_events.values_list("action", "metadata", "actor_label"))
    assert [e[0] for e in events] == ["sso.configured", "sso.settings_changed"]
    assert events[1][1]["changed"] == ["require_sso"] and events[1][1]["require_sso"] is True
    assert events[1][2] == business.owner.email
    assert all(idp.client_secret not in str(e) for e in events)


def test_a_new_secret_is_recorded_without_its_value(business, owner, idp):
    owner.post(PAGE, _form(idp))
    owner.post(PAGE, _form(idp, client_secret="rotated-secret-789"))
    assert secret_decrypt(IdentityProvider.objects.get().client_secret_encrypted) == "rotated-secret-789"
    with tenant_context(business.tenant):
        last = AuditEvent.objects.order_by("-id").first()
    assert last.metadata["changed"] == ["client_secret"] and "rotated" not in str(last.metadata)


def test_the_first_save_needs_a_secret(business, owner, idp):
    response = owner.post(PAGE, _form(idp, client_secret=""))
    assert response.status_code == 422 and "Enter the client secret." in response.content.decode()


def test_an_issuer_whose_discovery_fails_is_a_field_error(business, owner, idp):
    response = owner.post(PAGE, _form(idp, issuer=idp.issuer + "/nowhere"))
    assert response.status_code == 422
    assert "discovery document answered 404" in response.content.decode()
    assert not IdentityProvider.objects.exists()


def test_a_bad_domain_is_a_field_error(business, owner, idp):
    response = owner.post(PAGE, _form(idp, allowed_domains="not a domain!"))
    assert response.status_code == 422 and "is not a domain name" in response.content.decode()


def test_removing_sso_is_audited(business, owner, idp):
    owner.post(PAGE, _form(idp))
    assert owner.post(PAGE + "remove").status_code == 302
    assert not IdentityProvider.objects.exists()
    with tenant_context(business.tenant):
        assert AuditEvent.objects.filter(action="sso.removed").exists()


@pytest.mark.parametrize(("role", "status"), [("admin", 200), ("agent", 403), ("stranger", 404), (None, 302)])
def test_who_may_open_the_page(business, as_role, role, status):
    assert as_role(role).get(PAGE).status_code == status


def test_a_public_email_service_cannot_be_an_allowed_domain(business, owner, idp):
    response = owner.post(PAGE, _form(idp, allowed_domains="example.com\nGmail.com"))
    assert response.status_code == 422
    assert "gmail.com is a public email service" in response.content.decode()
    assert not IdentityProvider.objects.exists()


def test_the_workspace_settings_page_leads_to_single_sign_on(business, owner):
    assert f'href="{PAGE}"' in owner.get("/dashboard/settings/").content.decode()


def test_rotate_secrets_moves_the_client_secret_to_the_new_master_key(business, idp, settings):
    old, new = new_master_key(), new_master_key()
    settings.SECRET_ENCRYPTION_KEYS = [old]
    configure(business, idp)
    settings.SECRET_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_secrets", stdout=open("/dev/null", "w"))  # noqa: SIM115
    settings.SECRET_ENCRYPTION_KEYS = [new]  # the old key is gone
    stored = IdentityProvider.objects.get().client_secret_encrypted
    assert secret_decrypt(stored) == idp.client_secret
    settings.SECRET_ENCRYPTION_KEYS = [old]
    with pytest.raises(SecretUnreadable):
        secret_decrypt(stored)


def test_sso_can_be_turned_off_while_the_provider_is_unreachable(business, owner, idp, settings):
    owner.post(PAGE, _form(idp, require_sso="on"))
    settings.SSO_PRIVATE_ALLOWLIST = []  # the provider can no longer be called
    response = owner.post(PAGE, _form(idp, client_secret="", enabled="", require_sso=""))
    assert response.status_code == 302
    provider = IdentityProvider.objects.get()
    assert not provider.enabled and not provider.require_sso
    # A new issuer is still read before it is saved.
    refused = owner.post(PAGE, _form(idp, client_secret="", issuer="https://127.0.0.1:9/"))
    assert refused.status_code == 422 and IdentityProvider.objects.get().issuer == idp.issuer
