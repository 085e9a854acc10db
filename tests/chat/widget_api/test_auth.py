"""chat.widget_api.auth: visitor tokens as a DRF authentication class."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.core import signing
from django_tenants.utils import tenant_context
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from chat.models import Contact
from chat.visitor_tokens import VisitorTokenExpired, VisitorTokenInvalid, visitor_token_issue
from chat.widget_api.auth import Visitor, VisitorTokenAuthentication
from tests.chat.factories import ContactFactory
from tests.chat.visitors import ORIGIN, make_visitor
from tests.hosts import PUBLIC_HOST
from widget_builder.models import Widget
from widget_builder.services import widget_allowed_origins_set

pytestmark = pytest.mark.django_db


def _request(visitor, *, path: str = "/", authorization: str | None = None, method: str = "get") -> Request:
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    view = SimpleNamespace(tenant=visitor.tenant, widget=visitor.widget)
    return Request(getattr(APIRequestFactory(), method)(path, **headers), parser_context={"view": view})


def _authenticate(visitor, **kwargs):
    with tenant_context(visitor.tenant):
        return VisitorTokenAuthentication().authenticate(_request(visitor, **kwargs))


def test_a_valid_token_authenticates_its_contact(tenant_a):
    visitor = make_visitor(tenant_a)
    user, token = _authenticate(visitor, authorization=f"Bearer {visitor.token}")
    assert isinstance(user, Visitor) and user.is_authenticated
    assert user.contact.pk == visitor.contact.pk and token == visitor.token


@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer", "Bearer ", "Token {token}", "bearer {token}", "Bearer {token}xx"]
)
def test_missing_malformed_or_tampered_tokens_are_invalid(tenant_a, authorization):
    visitor = make_visitor(tenant_a)
    header = None if authorization is None else authorization.format(token=visitor.token)
    with pytest.raises(VisitorTokenInvalid):
        _authenticate(visitor, authorization=header)


@pytest.mark.parametrize("name", ["token", "access_token", "visitor_token"])
def test_a_token_in_the_url_is_refused_even_with_a_good_header(tenant_a, name):
    visitor = make_visitor(tenant_a)
    with pytest.raises(VisitorTokenInvalid) as refused:
        _authenticate(visitor, path=f"/?{name}={visitor.token}", authorization=f"Bearer {visitor.token}")
    assert "never in the URL" in refused.value.detail


def test_tokens_of_another_widget_tenant_or_a_deleted_contact_are_invalid(tenant_a, tenant_b):
    visitor = make_visitor(tenant_a)
    contact = visitor.contact
    for tenant_id, widget_id in ((tenant_b.tenant.pk, visitor.widget.pk), (tenant_a.tenant.pk, 10**6)):
        token, _ = visitor_token_issue(
            tenant_id=tenant_id, widget_id=widget_id, contact_public_id=contact.public_id
        )
        with pytest.raises(VisitorTokenInvalid):
            _authenticate(visitor, authorization=f"Bearer {token}")
    with tenant_context(visitor.tenant):
        Contact.objects.filter(pk=contact.pk).delete()
    with pytest.raises(VisitorTokenInvalid):
        _authenticate(visitor, authorization=f"Bearer {visitor.token}")


def test_a_contact_of_another_widget_is_not_this_widgets_visitor(tenant_b):
    visitor = make_visitor(tenant_b)
    with tenant_context(tenant_b.tenant):
        other = Widget.objects.exclude(pk=visitor.widget.pk).order_by("id").first()
        stranger = ContactFactory(widget=other)
    token, _ = visitor_token_issue(
        tenant_id=tenant_b.tenant.pk, widget_id=visitor.widget.pk, contact_public_id=stranger.public_id
    )
    with pytest.raises(VisitorTokenInvalid):
        _authenticate(visitor, authorization=f"Bearer {token}")


def test_an_expired_token_says_so(tenant_a, monkeypatch):
    visitor = make_visitor(tenant_a)
    real_loads = signing.loads
    monkeypatch.setattr(signing, "loads", lambda *a, **k: real_loads(*a, **{**k, "max_age": -1}))
    with pytest.raises(VisitorTokenExpired):
        _authenticate(visitor, authorization=f"Bearer {visitor.token}")


def test_preflights_carry_no_credentials(tenant_a):
    visitor = make_visitor(tenant_a)
    assert _authenticate(visitor, method="options") is None


def test_the_challenge_names_the_scheme(tenant_a):
    visitor = make_visitor(tenant_a)
    assert VisitorTokenAuthentication().authenticate_header(_request(visitor)) == 'Bearer realm="widget"'


def _conversations(client, visitor, *, token: str, origin: str = ORIGIN):
    return client.get(
        f"/api/widget/v1/{visitor.widget.key}/conversations",
        HTTP_HOST=PUBLIC_HOST,
        HTTP_ORIGIN=origin,
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_through_the_api_answers_are_problem_details(client, tenant_a):
    visitor = make_visitor(tenant_a)
    ok = _conversations(client, visitor, token=visitor.token)
    assert ok.status_code == 200 and [c["id"] for c in ok.json()["conversations"]] == [
        visitor.conversation.pk
    ]
    refused = _conversations(client, visitor, token="garbage")
    assert refused.status_code == 401 and refused["Content-Type"] == "application/problem+json"
    assert refused.json()["code"] == "visitor_token_invalid"
    preflight = client.options(
        f"/api/widget/v1/{visitor.widget.key}/conversations", HTTP_HOST=PUBLIC_HOST, HTTP_ORIGIN=ORIGIN
    )
    assert preflight.status_code == 204 and preflight["Access-Control-Allow-Origin"] == ORIGIN


def test_the_origin_and_an_offline_widget_are_answered_before_the_token(client, tenant_a):
    visitor = make_visitor(tenant_a)
    with tenant_context(tenant_a.tenant):
        widget_allowed_origins_set(widget=visitor.widget, origins=[ORIGIN])
    foreign = _conversations(client, visitor, token="garbage", origin="https://evil.example")
    assert foreign.status_code == 403 and foreign.json()["code"] == "origin_not_allowed"
    with tenant_context(tenant_a.tenant):
        Widget.objects.filter(pk=visitor.widget.pk).update(is_enabled=False)
    offline = _conversations(client, visitor, token="garbage")
    assert offline.status_code == 503 and offline.json()["code"] == "widget_unavailable"
