"""AI action tests: actions defined through the services, called against a local endpoint
(a real HTTP server the allow-list lets through), for visitors of tenant A."""

from __future__ import annotations

from typing import Any

import pytest
from django_tenants.utils import tenant_context

from actions import services
from actions.models import Action
from tests.chat.factories import ContactFactory, ConversationFactory
from tests.fakes.action_endpoint import ActionEndpoint
from widget_builder.models import Widget

ORDER_PARAMETERS = {
    "type": "object",
    "properties": {
        "order_id": {"type": "string", "pattern": "^[0-9]{1,10}$", "title": "Order number"},
        "reason": {"type": "string", "maxLength": 200},
        "notify": {"type": "boolean"},
    },
    "required": ["order_id"],
    "additionalProperties": False,
}


@pytest.fixture
def endpoint(settings):
    with ActionEndpoint() as server:
        settings.ACTIONS_PRIVATE_ALLOWLIST = [server.address]
        yield server


@pytest.fixture
def ws(tenant_a):
    with tenant_context(tenant_a.tenant):
        yield tenant_a


def action_of(endpoint: ActionEndpoint, **fields: Any) -> Action:
    data = {
        "name": "order_cancel",
        "description": "Cancel an order of the visitor's.",
        "parameters": ORDER_PARAMETERS,
        "method": "POST",
        "url": endpoint.url + "/orders/{order_id}/cancel",
        "headers": {"Authorization": "Bearer shop-api-key-123"},
        **fields,
    }
    return services.action_create(data=data)


@pytest.fixture
def visitor(ws):
    widget = Widget.objects.order_by("id").first()
    contact = ContactFactory(widget=widget, external_id="cust-42", identity_verified=True)
    return contact, ConversationFactory(widget=widget, contact=contact)


@pytest.fixture
def stranger(ws):
    widget = Widget.objects.order_by("id").first()
    contact = ContactFactory(widget=widget, external_id="cust-42", identity_verified=False)
    return contact, ConversationFactory(widget=widget, contact=contact)
