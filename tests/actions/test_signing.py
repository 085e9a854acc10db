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
    signed = f"c-1\n{headers['X-Chatbot-Timestamp']}\nPOST\n{URL}\ncust-42\n".encode() + b'{"a":1}'
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


def test_a_field_cannot_be_moved_into_its_neighbour():
    """The fields are separated by line feeds, which none of them can hold: a signature made
    for an anonymous visitor with "...?q=foo.cust-42" does not verify as visitor cust-42 with
    "...?q=foo" (it would with dots between the fields)."""
    url = "https://shop.example.com/orders?q=foo.cust-42"
    headers = signing.signed_headers(
        SECRET, action="a", call_id="c-1", method="GET", url=url, visitor_id="", body=b""
    )
    moved = {**headers, "X-Chatbot-Visitor-Id": "cust-42"}
    short = "https://shop.example.com/orders?q=foo"
    assert signing.signature_verify(SECRET, moved, method="GET", url=short, body=b".") is None
    assert signing.signature_verify(SECRET, moved, method="GET", url=short, body=b"") is None


def test_a_visitor_id_beyond_ascii_is_sent_percent_encoded():
    headers = _headers(visitor_id="kundin-ü")
    assert headers["X-Chatbot-Visitor-Id"] == "kundin-%C3%BC"
    assert (
        signing.signature_verify(SECRET, headers, method="POST", url=URL, body=b'{"a":1}') == "kundin-%C3%BC"
    )
    assert (
        signing.signature_verify(
            SECRET, {**headers, "X-Chatbot-Signature": "v1=ü"}, method="POST", url=URL, body=b'{"a":1}'
        )
        is None
    )
