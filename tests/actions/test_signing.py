"""The signature a tenant's server checks (actions.signing), as docs/actions.md shows it."""

from __future__ import annotations

import hashlib
import hmac
import time

from actions import signing

SECRET = "acsec_test-secret"
URL = "https://shop.example.com/orders/1042/cancel?v=2"


def _headers(visitor_id: str = "cust-42", body: bytes = b'{"a":1}') -> dict[str, str]:
    return signing.signed_headers(
        SECRET, action="order_cancel", call_id="c-1", method="POST", url=URL, visitor_id=visitor_id, body=body
    )


def test_the_documented_recipe_computes_the_same_signature():
    headers = _headers()
    signed = f"c-1.{headers['X-Chatbot-Timestamp']}.POST.{URL}.cust-42.".encode() + b'{"a":1}'
    expected = "v1=" + hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    assert headers["X-Chatbot-Signature"] == expected
    assert signing.signature_verify(SECRET, headers, method="POST", url=URL, body=b'{"a":1}') == "cust-42"


def test_anything_changed_or_stale_fails():
    headers = _headers()
    assert signing.signature_verify(SECRET, headers, method="PUT", url=URL, body=b'{"a":1}') is None
    assert signing.signature_verify(SECRET, headers, method="POST", url=URL + "&x=1", body=b'{"a":1}') is None
    assert (
        signing.signature_verify(
            SECRET, {**headers, "X-Chatbot-Call-Id": "c-2"}, method="POST", url=URL, body=b'{"a":1}'
        )
        is None
    )
    later = time.time() + signing.TOLERANCE_SECONDS + 5
    assert (
        signing.signature_verify(SECRET, headers, method="POST", url=URL, body=b'{"a":1}', now=later) is None
    )
    assert (
        signing.signature_verify(
            SECRET, {**headers, "X-Chatbot-Timestamp": "soon"}, method="POST", url=URL, body=b""
        )
        is None
    )


def test_an_unverified_visitor_sends_no_visitor_header_and_cannot_gain_one():
    headers = _headers(visitor_id="")
    assert "X-Chatbot-Visitor-Id" not in headers
    assert signing.signature_verify(SECRET, headers, method="POST", url=URL, body=b'{"a":1}') == ""
    claimed = {**headers, "X-Chatbot-Visitor-Id": "cust-42"}
    assert signing.signature_verify(SECRET, claimed, method="POST", url=URL, body=b'{"a":1}') is None
