"""The fake OpenID Connect provider behaves like one: discovery, a JWKS that verifies its
tokens, the code flow with the PKCE check, single-use codes, client authentication."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests

from tests.fakes.oidc_provider import FakeOIDCProvider, pkce_challenge


@pytest.fixture(scope="module")
def idp():
    with FakeOIDCProvider(client_id="cid", client_secret="csecret-123") as server:
        yield server


def _code(idp, verifier: str) -> str:
    query = {
        "response_type": "code",
        "client_id": "cid",
        "redirect_uri": "http://rp.test/cb",
        "scope": "openid email",
        "state": "s1",
        "nonce": "n1",
        "code_challenge": pkce_challenge(verifier),
        "code_challenge_method": "S256",
    }
    answer = requests.get(f"{idp.url}/authorize?{urlencode(query)}", allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    back = parse_qs(urlsplit(answer.headers["location"]).query)
    assert back["state"] == ["s1"]
    return back["code"][0]


def _token(idp, code: str, verifier: str, secret: str | None = None):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": "http://rp.test/cb"}
    auth = ("cid", secret if secret is not None else idp.client_secret)
    return requests.post(f"{idp.url}/token", data={**data, "code_verifier": verifier}, auth=auth, timeout=5)


def test_discovery_names_the_endpoints(idp):
    doc = requests.get(f"{idp.url}/.well-known/openid-configuration", timeout=5).json()
    assert doc["issuer"] == idp.issuer and doc["code_challenge_methods_supported"] == ["S256"]


def test_the_code_flow_issues_a_token_its_jwks_verifies(idp):
    verifier = secrets.token_urlsafe(40)
    answer = _token(idp, _code(idp, verifier), verifier)
    assert answer.status_code == 200
    token = answer.json()["id_token"]
    keys = jwt.PyJWKSet.from_dict(requests.get(f"{idp.url}/jwks", timeout=5).json())
    key = next(k for k in keys.keys if k.key_id == jwt.get_unverified_header(token)["kid"])
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience="cid", issuer=idp.issuer)
    assert claims["nonce"] == "n1" and claims["email"] == idp.user["email"]


def test_a_wrong_pkce_verifier_a_reused_code_and_a_wrong_secret_are_refused(idp):
    verifier = secrets.token_urlsafe(40)
    code = _code(idp, verifier)
    assert _token(idp, code, "another-verifier-" + "y" * 30).json()["error"] == "invalid_grant"
    assert _token(idp, code, verifier).json()["error"] == "invalid_grant"  # spent by the first try
    assert _token(idp, _code(idp, verifier), verifier, secret="wrong").status_code == 401


def test_authorize_without_pkce_is_refused(idp):
    query = {
        "response_type": "code",
        "client_id": "cid",
        "redirect_uri": "http://rp.test/cb",
        "scope": "openid",
    }
    answer = requests.get(f"{idp.url}/authorize?{urlencode(query)}", allow_redirects=False, timeout=5)
    assert answer.status_code == 400 and "code_challenge" in answer.json()["error_description"]
