"""widget_builder.public_api, the widget API's ground rules: key -> tenant, origins and
CORS, availability, rate limits. (The visitor API itself: tests/chat/widget_api/.)"""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from saas.errors import ValidationFailed
from tenants import services
from tenants.models import WidgetRoute
from tests.hosts import PUBLIC_HOST
from widget_builder.models import Widget
from widget_builder.origins import origin_allowed
from widget_builder.services import widget_allowed_origins_set, widget_publish

pytestmark = pytest.mark.django_db


def _widget(seeded_tenant) -> Widget:
    with tenant_context(seeded_tenant.tenant):
        return Widget.objects.order_by("id").first()


def _config(client, key, origin="https://customer.example", **extra):
    headers = {"HTTP_HOST": PUBLIC_HOST, **extra}
    if origin:
        headers["HTTP_ORIGIN"] = origin
    return client.get(f"/api/widget/v1/{key}/config", **headers)


def test_every_new_widget_is_registered_and_published(tenant_a):
    widget = _widget(tenant_a)
    assert WidgetRoute.objects.get(key=widget.key).tenant_id == tenant_a.tenant.pk
    assert widget.published_at is not None and widget.published_config["bot_name"] == "Assistant"


def test_config_by_key_with_cors_for_the_calling_origin(client, tenant_a):
    widget = _widget(tenant_a)
    response = _config(client, widget.key)
    assert response.status_code == 200
    body = response.json()
    assert body["available"] is True and body["key"] == widget.key and body["bot_name"] == "Assistant"
    assert response["Access-Control-Allow-Origin"] == "https://customer.example"
    assert "Access-Control-Allow-Credentials" not in response
    assert response["Vary"] == "Origin"
    assert "allowed_origins" not in body and "secret" not in response.content.decode()


def test_a_key_only_ever_reaches_its_own_tenant(client, tenant_a, tenant_b):
    with tenant_context(tenant_a.tenant):
        widget = Widget.objects.order_by("id").first()
        widget.bot_name = "MARKER-A bot"
        widget_publish(widget=widget)
    with tenant_context(tenant_b.tenant):
        b_widget = Widget.objects.order_by("id").first()
        b_widget.bot_name = "MARKER-B bot"
        widget_publish(widget=b_widget)
    body = _config(client, widget.key).content.decode()
    assert "MARKER-A bot" in body and "MARKER-B" not in body


@pytest.mark.parametrize("key", ["wk_doesnotexist", "nope", "wk_" + "x" * 60, "../../etc"])
def test_unknown_keys_are_404_problems(client, seeded, key):
    response = _config(client, key)
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_allowed_origins_exact_and_wildcard(client, tenant_a):
    widget = _widget(tenant_a)
    with tenant_context(tenant_a.tenant):
        widget_allowed_origins_set(
            widget=widget, origins=["https://shop.example.com", "https://*.example.org"]
        )
    for origin in ("https://shop.example.com", "https://a.example.org", "https://deep.a.example.org"):
        response = _config(client, widget.key, origin=origin)
        assert response.status_code == 200 and response["Access-Control-Allow-Origin"] == origin
    for origin in (
        "https://evil.example",
        "http://shop.example.com",
        "https://example.org",
        "https://shop.example.com.evil.io",
        None,
    ):
        response = _config(client, widget.key, origin=origin)
        assert response.status_code == 403, origin
        assert response.json()["code"] == "origin_not_allowed"
        assert "Access-Control-Allow-Origin" not in response


def test_preflight(client, tenant_a):
    widget = _widget(tenant_a)
    with tenant_context(tenant_a.tenant):
        widget_allowed_origins_set(widget=widget, origins=["https://shop.example.com"])
    ok = client.options(
        f"/api/widget/v1/{widget.key}/config",
        HTTP_HOST=PUBLIC_HOST,
        HTTP_ORIGIN="https://shop.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
    )
    assert ok.status_code == 204
    assert "Authorization" in ok["Access-Control-Allow-Headers"]
    refused = client.options(
        f"/api/widget/v1/{widget.key}/config", HTTP_HOST=PUBLIC_HOST, HTTP_ORIGIN="https://evil.example"
    )
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused


def test_disabled_widget_and_suspended_workspace_show_offline(client, tenant_a, staff_user):
    widget = _widget(tenant_a)
    with tenant_context(tenant_a.tenant):
        Widget.objects.filter(pk=widget.pk).update(is_enabled=False)
    assert _config(client, widget.key).json() == {"key": widget.key, "available": False}
    with tenant_context(tenant_a.tenant):
        Widget.objects.filter(pk=widget.pk).update(is_enabled=True)
    services.tenant_suspend(tenant=tenant_a.tenant, by=staff_user)
    offline = _config(client, widget.key)
    assert offline.status_code == 200 and offline.json() == {"key": widget.key, "available": False}
    services.tenant_reactivate(tenant=tenant_a.tenant, by=staff_user)
    assert _config(client, widget.key).json()["available"] is True


def test_rate_limited_per_ip_with_retry_after(client, tenant_a, settings):
    settings.WIDGET_RATE_LIMITS = {"ip_per_minute": 5, "widget_per_minute": 1000}
    widget = _widget(tenant_a)
    statuses = [_config(client, widget.key).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    limited = _config(client, widget.key)
    assert limited.json()["code"] == "rate_limited" and int(limited["Retry-After"]) >= 1


def test_empty_list_allows_any_origin_and_bad_entries_are_named(tenant_a):
    assert origin_allowed("https://anything.example", [])
    widget = _widget(tenant_a)
    with tenant_context(tenant_a.tenant), pytest.raises(ValidationFailed) as info:
        widget_allowed_origins_set(widget=widget, origins=["https://ok.example", "not a url at all/x"])
    errors = info.value.errors["allowed_origins"]
    assert len(errors) == 1 and "not a url" in errors[0]["message"]
