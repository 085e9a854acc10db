"""A fake OpenID Connect provider for the single sign-on tests: a real HTTP server on
127.0.0.1 that issues REAL signed ID tokens (an RSA and an EC key generated per provider,
so per test session), with the endpoints a relying party uses:

    GET  /.well-known/openid-configuration    discovery (issuer = the server's URL)
    GET  /jwks                                the public key (RS256, its kid)
    GET  /authorize                           signs in ``provider.user`` at once: 302 to the
                                              redirect URI with a one-time code and the state
    POST /token                               the code for an ID token; checks the client
                                              (client_secret_basic or _post), the redirect
                                              URI and the PKCE verifier (S256)

What a test may change to make a bad token:

    provider.user             the claims of the person signing in (sub, email, email_verified)
    provider.claims_override  claims replaced in the next ID tokens (aud, iss, exp, iat, nonce...)
    provider.signing          "RS256" (default), "ES256" (its P-256 key, also published),
                              "none" (unsigned), "HS256-public" (HMAC with the public key's
                              PEM: the key-confusion attack)
    provider.signer           another FakeOIDCProvider whose key signs (a token from elsewhere)

    with FakeOIDCProvider(client_id="c", client_secret="s") as idp:
        idp.issuer, idp.address ("127.0.0.1:<port>"), idp.token_requests
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.fakes.http_base import FakeHandler, FakeHTTPServer


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def pkce_challenge(verifier: str) -> str:
    return _b64(hashlib.sha256(verifier.encode("ascii")).digest())


class FakeOIDCProvider(FakeHTTPServer):
    name = "fake-oidc"

    def __init__(self, client_id: str, client_secret: str) -> None:
        super().__init__("127.0.0.1", 0)
        self.client_id, self.client_secret = client_id, client_secret
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = secrets.token_hex(8)
        self.ec_key = ec.generate_private_key(ec.SECP256R1())  # for signing = "ES256"
        self.ec_kid = secrets.token_hex(8)
        self.reset()

    def reset(self) -> None:
        """Back to a well-behaved provider (tests share one per session)."""
        self.user: dict[str, Any] = {"sub": "user-1", "email": "member@example.com", "email_verified": True}
        self.claims_override: dict[str, Any] = {}
        self.signing = "RS256"
        self.signer: FakeOIDCProvider | None = None
        self.codes: dict[str, dict[str, Any]] = {}
        self.token_requests: list[dict[str, Any]] = []

    @property
    def issuer(self) -> str:
        return self.url

    @property
    def address(self) -> str:
        return self.url.removeprefix("http://")

    def public_pem(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def jwks(self) -> dict[str, Any]:
        rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.ec_key.public_key()))
        return {
            "keys": [
                {**rsa_jwk, "kid": self.kid, "use": "sig", "alg": "RS256"},
                {**ec_jwk, "kid": self.ec_kid, "use": "sig", "alg": "ES256"},
            ]
        }

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }

    def id_token(self, *, nonce: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            **self.user,
            **self.claims_override,
        }
        if self.signing == "none":
            return jwt.encode(claims, None, algorithm="none")
        if self.signing == "HS256-public":
            # What a naive verifier accepts: HMAC keyed with the public key it would verify RS256 with.
            header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": self.kid}).encode())
            body = _b64(json.dumps(claims).encode())
            mac = hmac.new(self.public_pem(), f"{header}.{body}".encode(), hashlib.sha256).digest()
            return f"{header}.{body}.{_b64(mac)}"
        signer = self.signer or self
        if self.signing == "ES256":
            return jwt.encode(claims, signer.ec_key, algorithm="ES256", headers={"kid": signer.ec_kid})
        return jwt.encode(claims, signer.key, algorithm="RS256", headers={"kid": signer.kid})

    def handler_class(self) -> type[FakeHandler]:
        provider = self

        class Handler(FakeHandler):
            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/.well-known/openid-configuration":
                    return self._json(200, provider.discovery())
                if parts.path == "/jwks":
                    return self._json(200, provider.jwks())
                if parts.path == "/authorize":
                    return self._authorize({k: v[0] for k, v in parse_qs(parts.query).items()})
                return self._json(404, {"error": "not_found"})

            def _authorize(self, query: dict[str, str]) -> None:
                problems = [
                    name
                    for name, ok in (
                        ("client_id", query.get("client_id") == provider.client_id),
                        ("response_type", query.get("response_type") == "code"),
                        ("code_challenge_method", query.get("code_challenge_method") == "S256"),
                        ("code_challenge", bool(query.get("code_challenge"))),
                        ("state", bool(query.get("state"))),
                        ("nonce", bool(query.get("nonce"))),
                        ("scope", "openid" in query.get("scope", "").split()),
                    )
                    if not ok
                ]
                if problems:
                    return self._json(
                        400, {"error": "invalid_request", "error_description": ", ".join(problems)}
                    )
                code = secrets.token_urlsafe(16)
                with provider._lock:
                    provider.codes[code] = dict(query)
                target = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query["state"]})
                self.send_response(302)
                self.send_header("location", target)
                self.send_header("content-length", "0")
                self.end_headers()

            def _client(self, form: dict[str, str]) -> tuple[str, str]:
                basic = self.headers.get("authorization", "")
                if basic.lower().startswith("basic "):
                    client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
                    return client_id, secret
                return form.get("client_id", ""), form.get("client_secret", "")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
                form = {k: v[0] for k, v in parse_qs(body).items()}
                if urlsplit(self.path).path != "/token":
                    return self._json(404, {"error": "not_found"})
                with provider._lock:
                    provider.token_requests.append(form)
                    grant = provider.codes.pop(form.get("code", ""), None)  # a code works once
                if self._client(form) != (provider.client_id, provider.client_secret):
                    return self._json(401, {"error": "invalid_client"})
                if grant is None or form.get("grant_type") != "authorization_code":
                    return self._json(400, {"error": "invalid_grant", "error_description": "unknown code"})
                if form.get("redirect_uri") != grant["redirect_uri"]:
                    return self._json(400, {"error": "invalid_grant", "error_description": "redirect_uri"})
                if pkce_challenge(form.get("code_verifier", "")) != grant["code_challenge"]:
                    return self._json(400, {"error": "invalid_grant", "error_description": "PKCE verifier"})
                token = provider.id_token(nonce=grant["nonce"])
                return self._json(
                    200,
                    {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "id_token": token},
                )

        return Handler
