"""Actions limited to some widgets: offered and callable only in those widgets'
conversations (the offered tools cached per widget and forgotten on changes); the API
takes and answers the widgets; deleting an action's only widget turns it off rather than
offering it everywhere."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from actions import services
from actions.models import Action, ActionCall
from actions.tools import ActionTools
from saas.errors import ValidationFailed
from tests.chat.factories import ContactFactory, ConversationFactory
from tests.webhooks.test_api import client_for, send
from tests.widget_builder.factories import WidgetFactory
from widget_builder.models import Widget
from widget_builder.services import widget_delete

from .conftest import action_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_widgets(ws):
    first = Widget.objects.order_by("id").first()
    return first, WidgetFactory(name="Second shop")


def _conversation(widget):
    return ConversationFactory(widget=widget, contact=ContactFactory(widget=widget))


def _offered(conversation) -> list[str]:
    return [
        tool.name
        for tool in ActionTools().offered(conversation_id=conversation.pk, widget_id=conversation.widget_id)
    ]


def test_an_action_limited_to_widget_a_is_neither_offered_nor_callable_on_widget_b(endpoint, two_widgets):
    widget_a, widget_b = two_widgets
    action_of(endpoint, name="everywhere", url=endpoint.url + "/orders/{order_id}")
    scoped = action_of(endpoint, widgets=[widget_a.pk])
    in_a, in_b = _conversation(widget_a), _conversation(widget_b)
    assert _offered(in_a) == ["everywhere", "order_cancel"]
    assert _offered(in_b) == ["everywhere"]

    # A forged call of the action in widget B's conversation: refused, nothing sent or logged.
    result, is_error = ActionTools().call(
        conversation_id=in_b.pk, name="order_cancel", arguments={"order_id": "1"}, arguments_error=""
    )
    assert is_error and "no tool named 'order_cancel'" in result
    assert endpoint.requests == [] and not ActionCall.objects.exists()
    # The single path every call takes refuses it too (the widget's confirmation card uses it).
    refused = services.action_call(
        action=scoped, arguments={"order_id": "1"}, contact=in_b.contact, conversation=in_b
    )
    assert refused.status == ActionCall.Status.DENIED and endpoint.requests == []

    result, is_error = ActionTools().call(
        conversation_id=in_a.pk, name="order_cancel", arguments={"order_id": "1"}, arguments_error=""
    )
    assert not is_error and [r.path for r in endpoint.requests] == ["/orders/1/cancel"]


def test_an_action_limited_to_widget_a_opens_no_form_on_widget_b(endpoint, two_widgets):
    widget_a, widget_b = two_widgets
    action_of(endpoint, widgets=[widget_a.pk], trigger_phrases=["cancel my order"])
    in_a, in_b = _conversation(widget_a), _conversation(widget_b)
    assert ActionTools().offline_form(conversation_id=in_b.pk, text="Please cancel my order") is None
    card = ActionTools().offline_form(conversation_id=in_a.pk, text="Please cancel my order")
    assert card is not None and card.card["kind"] == "form"


def test_the_cached_tools_follow_a_change_of_widgets(endpoint, two_widgets):
    widget_a, widget_b = two_widgets
    action = action_of(endpoint)
    in_a, in_b = _conversation(widget_a), _conversation(widget_b)
    assert _offered(in_a) == _offered(in_b) == ["order_cancel"]  # now cached for both widgets
    services.action_update(action=action, data={"widgets": [widget_b.pk]})
    assert _offered(in_a) == [] and _offered(in_b) == ["order_cancel"]
    services.action_update(action=action, data={"widgets": []})
    assert _offered(in_a) == ["order_cancel"]


def test_deleting_the_only_widget_of_an_action_turns_it_off(endpoint, two_widgets):
    widget_a, widget_b = two_widgets
    alone = action_of(endpoint, widgets=[widget_b.pk])
    shared = action_of(endpoint, name="shared", widgets=[widget_a.pk, widget_b.pk])
    in_a = _conversation(widget_a)
    assert _offered(in_a) == ["shared"]
    widget_delete(widget=widget_b)
    alone.refresh_from_db()
    assert alone.is_enabled is False and list(alone.widgets.all()) == []
    assert list(shared.widgets.all()) == [widget_a]
    assert _offered(in_a) == ["shared"]  # the cache was forgotten, the orphan not offered


def test_unknown_widgets_are_refused_per_field(endpoint, ws):
    with pytest.raises(ValidationFailed) as refused:
        action_of(endpoint, widgets=[999_999])
    assert refused.value.errors["widgets"][0]["code"] == "not_found"
    with pytest.raises(ValidationFailed):
        action_of(endpoint, widgets="all")
    assert not Action.objects.exists()


def test_the_api_takes_and_answers_the_widgets(tenant_a, endpoint):
    client = client_for(tenant_a)
    body = {
        "name": "order_status",
        "description": "Where an order is.",
        "url": endpoint.url + "/orders",
        "widgets": [],
    }
    created = send(client, "post", "/api/v1/actions", body).json()
    assert created["widgets"] == []
    with tenant_context(tenant_a.tenant):
        widget_id = Widget.objects.order_by("id").first().pk
    changed = send(client, "patch", f"/api/v1/actions/{created['id']}", {"widgets": [widget_id]})
    assert changed.status_code == 200 and changed.json()["widgets"] == [widget_id]
    refused = send(client, "patch", f"/api/v1/actions/{created['id']}", {"widgets": [999_999]})
    assert refused.status_code == 422 and "widgets" in refused.json()["errors"]
