"""The sign-in through a workspace's own OpenID Connect provider, end to end against the
fake provider: the code flow lands a member in the workspace; every forged, stale or
misdirected answer is refused."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from audit.models import AuditEvent
from sso.services import FLOW_SESSION_KEY
from tenants.models import LoginHandoff, Membership, User
from tests.sso.conftest import Flow, configure, handoff_path

pytestmark = pytest.mark.django_db


def _refused(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content[:800]
    assert code in response.content.decode()
    assert not LoginHandoff.objects.exists()


def test_the_code_flow_signs_a_member_in_and_lands_on_the_workspace(configured, agent, idp, business):
    flow = Flow()
    authorize = flow.start("tenant-a")
    query = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(idp.issuer + "/authorize?")
    assert query["code_challenge_method"] == ["S256"] and query["client_id"] == [idp.client_id]
    assert query["redirect_uri"] == ["http://saas.test/sso/callback"]

    response = flow.back(flow.at_provider(authorize))

    path = handoff_path(response, business.host)
    workspace = Client(HTTP_HOST=business.host)
    landed = workspace.get(path)
    assert landed.status_code == 302 and landed["Location"] == "/dashboard/"
    dashboard = workspace.get("/dashboard/")
    assert dashboard.status_code == 200
    assert dashboard.wsgi_request.user == agent
    # The provider got the PKCE verifier and the secret; the public host stays signed out.
    assert idp.token_requests[-1]["code_verifier"]
    assert "_auth_user_id" not in flow.client.session


def test_signing_in_by_work_email_finds_the_workspace_by_its_domain(business, idp, agent):
    configure(business, idp, allowed_domains=["example.com"])
    response = Flow().run("member@EXAMPLE.com")
    handoff_path(response, business.host)


def test_a_person_outside_the_allowed_domains_is_not_let_in(configured, idp):
    idp.user = {"sub": "x", "email": "stranger@elsewhere.test", "email_verified": True}
    response = Flow().run("tenant-a")
    _refused(response, 403, "sso_access_denied")
    assert not User.objects.filter(email="stranger@elsewhere.test").exists()


def test_an_allowed_domain_joins_just_in_time_as_an_agent_and_is_audited(business, idp):
    configure(business, idp, allowed_domains=["newco.test"])
    idp.user = {"sub": "n1", "email": "new.person@newco.test", "email_verified": True}

    handoff_path(Flow().run("tenant-a"), business.host)

    membership = Membership.objects.get(tenant=business.tenant, user__email="new.person@newco.test")
    assert membership.role == Membership.Role.AGENT
    assert not membership.user.has_usable_password()
    with tenant_context(business.tenant):
        event = AuditEvent.objects.get(action="member.joined_by_sso")
    assert event.target_repr == "new.person@newco.test" and event.metadata["issuer"] == idp.issuer


def test_an_address_the_provider_says_is_unverified_is_refused(business, idp, agent):
    configure(business, idp, allowed_domains=["example.com"])
    idp.user = {**idp.user, "email_verified": False}
    _refused(Flow().run("tenant-a"), 403, "sso_access_denied")


def test_a_token_signed_by_another_workspaces_provider_is_refused(configured, agent, idp, other_idp):
    idp.signer = other_idp  # a valid RS256 token, but not from a key this provider publishes
    _refused(Flow().run("tenant-a"), 401, "sso_token_invalid")


def test_a_token_naming_another_issuer_is_refused(configured, agent, idp, other_idp):
    idp.claims_override = {"iss": other_idp.issuer}
    _refused(Flow().run("tenant-a"), 401, "sso_token_invalid")


def test_a_token_for_another_audience_is_refused(configured, agent, idp, other_idp):
    idp.claims_override = {"aud": other_idp.client_id}
    _refused(Flow().run("tenant-a"), 401, "sso_token_invalid")


def test_several_audiences_need_us_as_the_authorized_party(configured, agent, idp):
    idp.claims_override = {"aud": [idp.client_id, "someone-else"], "azp": "someone-else"}
    _refused(Flow().run("tenant-a"), 401, "sso_token_invalid")


def test_an_expired_token_is_refused(configured, agent, idp):
    now = int(time.time())
    idp.claims_override = {"iat": now - 7200, "exp": now - 3600}
    _refused(Flow().run("tenant-a"), 401, "sso_token_invalid")


def test_a_token_issued_in_the_future_is_refused(configured, agent, idp):
    now = int(time.time())
    idp.claims_override = {"iat": now + 3600, "exp": now + 7200}
    _refused(Flow().run("tenant-a"), 401, "sso_token_invalid")


@pytest.mark.parametrize("missing", ["exp", "iat", "nonce"])
def test_a_token_without_a_required_claim_is_refused(configured, agent, idp, missing):
    idp.claims_override = {missing: None}
    _refused(Flow().run("tenant-a"), 401, "sso_token_invalid")


def test_an_unsigned_token_is_refused(configured, agent, idp):
    idp.signing = "none"
    _refused(Flow().run("tenant-a"), 401, "sso_token_invalid")


def test_hmac_signed_with_the_public_key_is_refused(configured, agent, idp):
    idp.signing = "HS256-public"
    _refused(Flow().run("tenant-a"), 401, "sso_token_invalid")


def test_a_nonce_from_another_sign_in_is_refused(configured, agent, idp):
    idp.claims_override = {"nonce": "replayed-nonce"}
    _refused(Flow().run("tenant-a"), 401, "sso_token_invalid")


def test_a_bad_state_is_refused(configured, agent, idp):
    flow = Flow()
    callback = flow.at_provider(flow.start("tenant-a"))
    forged = callback.replace("state=", "state=forged")
    _refused(flow.back(forged), 400, "sso_state_invalid")


def test_a_callback_in_another_browser_is_refused(configured, agent, idp):
    callback = Flow().at_provider(Flow().start("tenant-a"))
    _refused(Flow().back(callback), 400, "sso_state_invalid")


def test_a_state_works_once(configured, agent, idp, business):
    flow = Flow()
    callback = flow.at_provider(flow.start("tenant-a"))
    handoff_path(flow.back(callback), business.host)
    again = flow.back(callback)
    assert again.status_code == 400 and "sso_state_invalid" in again.content.decode()


def test_a_pkce_verifier_that_does_not_match_is_refused(configured, agent, idp):
    flow = Flow()
    callback = flow.at_provider(flow.start("tenant-a"))
    session = flow.client.session
    flows = session[FLOW_SESSION_KEY]
    for state in flows:
        flows[state]["verifier"] = "a-verifier-the-provider-never-saw-" + "x" * 20
    session[FLOW_SESSION_KEY] = flows
    session.save()
    _refused(flow.back(callback), 401, "sso_token_invalid")
    assert idp.token_requests[-1]["code_verifier"].startswith("a-verifier-the-provider-never-saw")


def test_the_provider_reporting_an_error_is_shown(configured, idp):
    flow = Flow()
    callback = flow.at_provider(flow.start("tenant-a"))
    state = parse_qs(urlsplit(callback).query)["state"][0]
    response = flow.client.get(f"/sso/callback?state={state}&error=access_denied&error_description=Cancelled")
    _refused(response, 403, "sso_access_denied")
    assert "Cancelled" in response.content.decode()


def test_an_address_without_sso_gets_a_form_error(configured):
    response = Flow().client.post("/sso/", {"address": "nobody-here"})
    assert response.status_code == 404
    assert "No workspace signs in with single sign-on" in response.content.decode()


def test_a_workspace_whose_plan_lost_sso_does_not_sign_in(configured, business):
    business.tenant.plan = "free"
    business.tenant.save(update_fields=["plan"])
    assert Flow().client.post("/sso/", {"address": "tenant-a"}).status_code == 404


def test_a_disabled_provider_does_not_sign_in(business, idp):
    configure(business, idp, enabled=False)
    assert Flow().client.post("/sso/", {"address": "tenant-a"}).status_code == 404


def test_a_provider_at_a_private_address_is_refused_unless_allowed(business, idp, settings):
    settings.SSO_PRIVATE_ALLOWLIST = []
    with pytest.raises(Exception) as raised:
        configure(business, idp)
    assert raised.value.errors["issuer"][0]["code"] == "invalid"  # http to a private host


def test_an_https_provider_at_a_private_address_is_never_called(business, idp, settings):
    settings.SSO_PRIVATE_ALLOWLIST = []
    with pytest.raises(Exception) as raised:
        configure(business, idp, issuer=idp.issuer.replace("http://", "https://"))
    error = raised.value.errors["issuer"][0]
    assert error["code"] == "discovery_failed" and "not allowed" in error["message"]


@pytest.mark.parametrize(
    "address",
    ["tenant-a", "TENANT-A", "tenant-a.saas.test", "https://tenant-a.saas.test/dashboard/", " tenant-a "],
)
def test_the_workspace_is_found_by_any_form_of_its_address(configured, address):
    response = Flow().client.post("/sso/", {"address": address})
    assert response.status_code == 302 and "/authorize?" in response["Location"]


def test_an_es256_token_from_the_provider_is_accepted(configured, agent, idp, business):
    idp.signing = "ES256"
    handoff_path(Flow().run("tenant-a"), business.host)


def test_an_es256_token_signed_by_another_providers_key_is_refused(configured, agent, idp, other_idp):
    idp.signing, idp.signer = "ES256", other_idp
    _refused(Flow().run("tenant-a"), 401, "sso_token_invalid")
