"""Fixtures of the widget API's tests."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from chat.models import Contact
from chat.widget_api import identity_hash
from tests.chat.factories import ConversationFactory
from tests.chat.widget_api.api_calls import identify, published_widget, session_start


@pytest.fixture
def known_user(client, tenant_a):
    """A visitor already identified (verified) as customer user 'u-1', with a conversation."""
    widget = published_widget(tenant_a, prechat=False)
    first = session_start(client, widget)
    response = identify(
        client,
        widget,
        first["token"],
        id="u-1",
        email="Known@Example.com",
        user_hash=identity_hash(widget.identity_secret, "u-1"),
    )
    assert response.status_code == 200 and response.json()["verified"] is True
    with tenant_context(tenant_a.tenant):
        contact = Contact.objects.get(public_id=first["visitor_id"])
        conversation = ConversationFactory(widget=widget, contact=contact)
    return widget, contact, conversation
