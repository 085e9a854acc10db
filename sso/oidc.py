"""The OpenID Connect protocol, as a relying party: discovery, the authorization request
with PKCE (S256), state and nonce, the code exchange, and the ID token's checks.

Every call to the provider goes through ``saas.outbound`` (the provider is a server a
workspace names): one lookup per connection, private addresses refused unless
``SSO_ALLOW_PRIVATE`` or ``SSO_PRIVATE_ALLOWLIST`` ("host:port") allows them, redirects
never followed, answers capped at ``MAX_BYTES``.

ID tokens are checked with PyJWT: the signature against the provider's JWKS with RS256 or
ES256 only (so ``alg: none`` and HS256 signed with the public key are refused before any
key is used), ``iss`` equal to the configured issuer, ``aud`` containing the client id
(and ``azp`` equal to it when there are several audiences), ``exp`` and ``iat`` present and
in range, ``nonce`` equal to the one this sign-in sent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx2
import jwt
from django.conf import settings

from saas.outbound import GuardedTransport, SettingsPolicy, refusal_in

from .errors import SsoProviderUnavailable, SsoTokenInvalid

POLICY = SettingsPolicy(allow_setting="SSO_ALLOW_PRIVATE", allowlist_setting="SSO_PRIVATE_ALLOWLIST")
ALGORITHMS = ("RS256", "ES256")
MAX_BYTES = 256 * 1024
LEEWAY_SECONDS = 60  # clock skew allowed between us and the provider
LIMITS = httpx2.Limits(max_connections=20, max_keepalive_connections=5, keepalive_expiry=5.0)


@dataclass(frozen=True)
class Provider:
    """What the discovery document says (the parts a relying party uses)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


@dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str


class _Client:
    """One client per process (made on first use, after a worker's fork)."""

    client: httpx2.Client | None = None

    @classmethod
    def get(cls) -> httpx2.Client:
        if cls.client is None:
            cls.client = httpx2.Client(
                transport=GuardedTransport(POLICY, limits=LIMITS), follow_redirects=False, trust_env=False
            )
        return cls.client


def url_allowed(url: str) -> bool:
    """https, or http to a host the policy lets be private (a development or test provider)."""
    parts = urlsplit(url)
    if not parts.hostname:
        return False
    if parts.scheme == "https":
        return True
    port = parts.port or 80
    return parts.scheme == "http" and POLICY.private_allowed(parts.hostname, port)


def _request(method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
    """The status and JSON body of one call to the provider."""
    if not url_allowed(url):
        raise SsoProviderUnavailable(f"The provider's address must use https: {url}")
    timeout = httpx2.Timeout(float(settings.SSO_TIMEOUT_SECONDS))
    try:
        with _Client.get().stream(method, url, timeout=timeout, **kwargs) as response:
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_BYTES:
                    raise SsoProviderUnavailable("The provider's answer is too large.")
            status = response.status_code
    except (httpx2.HTTPError, httpx2.InvalidURL, ValueError) as exc:  # UnsafeAddress is a ValueError
        refused = refusal_in(exc)
        reason = f"its address is not allowed ({refused})" if refused else "it could not be reached"
        raise SsoProviderUnavailable(f"The sign-in provider was not called: {reason}.") from exc
    try:
        return status, json.loads(bytes(body))
    except ValueError as exc:
        raise SsoProviderUnavailable("The provider answered something that is not JSON.") from exc


def discover(issuer: str) -> Provider:
    """Read ``<issuer>/.well-known/openid-configuration``; its ``issuer`` must be ours."""
    status, doc = _request("GET", issuer.rstrip("/") + "/.well-known/openid-configuration")
    if status != 200 or not isinstance(doc, dict):
        raise SsoProviderUnavailable(f"The provider's discovery document answered {status}.")
    if doc.get("issuer") != issuer:
        raise SsoProviderUnavailable("The discovery document names another issuer.")
    try:
        provider = Provider(
            issuer=doc["issuer"],
            authorization_endpoint=str(doc["authorization_endpoint"]),
            token_endpoint=str(doc["token_endpoint"]),
            jwks_uri=str(doc["jwks_uri"]),
        )
    except KeyError as exc:
        raise SsoProviderUnavailable(f"The discovery document has no {exc.args[0]}.") from exc
    methods = doc.get("code_challenge_methods_supported")
    if methods is not None and "S256" not in methods:
        raise SsoProviderUnavailable("The provider does not support PKCE with S256.")
    return provider


def pkce_new() -> Pkce:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return Pkce(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii"))


def authorization_url(
    provider: Provider,
    *,
    client_id: str,
    redirect_uri: str,
    state: str,
    nonce: str,
    challenge: str,
    login_hint: str,
) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid email profile",
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    if login_hint:
        params["login_hint"] = login_hint
    separator = "&" if urlsplit(provider.authorization_endpoint).query else "?"
    return provider.authorization_endpoint + separator + urlencode(params)


def code_exchange(
    provider: Provider, *, client_id: str, client_secret: str, code: str, redirect_uri: str, verifier: str
) -> str:
    """Trade the code for tokens (client_secret_basic); the ID token."""
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    status, body = _request(
        "POST",
        provider.token_endpoint,
        data=data,
        auth=(client_id, client_secret),
        headers={"Accept": "application/json"},
    )
    if status != 200 or not isinstance(body, dict) or not isinstance(body.get("id_token"), str):
        error = body.get("error", "") if isinstance(body, dict) else ""
        raise SsoTokenInvalid(f"The provider refused the sign-in code ({error or status}).")
    token: str = body["id_token"]
    return token


def _signing_key(provider: Provider, header: dict[str, Any]) -> Any:
    status, jwks = _request("GET", provider.jwks_uri)
    if status != 200 or not isinstance(jwks, dict):
        raise SsoProviderUnavailable(f"The provider's keys (JWKS) answered {status}.")
    try:
        key_set = jwt.PyJWKSet.from_dict(jwks)
    except jwt.PyJWTError as exc:
        raise SsoProviderUnavailable("The provider's keys (JWKS) could not be read.") from exc
    kid = header.get("kid")
    for key in key_set.keys:
        if (
            (kid is None or key.key_id == kid)
            and key.algorithm_name in (header["alg"], None)
            and key.key_type in ("RSA", "EC")
        ):
            return key.key
    raise SsoTokenInvalid("The ID token is signed with a key the provider does not publish.")


def id_token_verify(
    token: str, *, provider: Provider, issuer: str, client_id: str, nonce: str
) -> dict[str, Any]:
    """The ID token's claims, once every check passed; SsoTokenInvalid otherwise."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise SsoTokenInvalid("The ID token is malformed.") from exc
    if header.get("alg") not in ALGORITHMS:
        raise SsoTokenInvalid(
            f"ID tokens signed with {header.get('alg')!r} are refused (RS256 or ES256 only)."
        )
    key = _signing_key(provider, header)
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key,
            algorithms=[header["alg"]],
            audience=client_id,
            issuer=issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["iss", "aud", "exp", "iat", "sub", "nonce"]},
        )
    except jwt.PyJWTError as exc:
        raise SsoTokenInvalid(f"The ID token failed a check: {exc}.") from exc
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise SsoTokenInvalid("The ID token was issued to another party (azp).")
    if not secrets.compare_digest(str(claims["nonce"]), nonce):
        raise SsoTokenInvalid("The ID token belongs to another sign-in (nonce).")
    return claims
