"""saas.api_pages: keyset pages over a real table, in every ordering, with ties and empty
values: the pages together are the whole list, in order, with no gap and no repeat; a
cursor is only good for the ordering that gave it."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from chat.models import Conversation
from saas.api_pages import PageInput, cursor_encode, ordering_field, page_of
from saas.errors import ValidationFailed
from tests.chat.factories import ConversationFactory
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db


class Query(PageInput):
    ordering = ordering_field(("created_at", "handoff_requested_at", "last_seq"), default="-created_at")


@pytest.fixture
def rows(tenant_a):
    """23 conversations: created in 7 distinct moments (ties), a third never handed off."""
    base = timezone.now() - timedelta(days=1)
    with tenant_context(tenant_a.tenant):
        Conversation.objects.all().delete()
        widget = Widget.objects.first()
        for i in range(23):
            made = ConversationFactory(widget=widget)
            Conversation.objects.filter(pk=made.pk).update(
                created_at=base + timedelta(minutes=i % 7),
                handoff_requested_at=None if i % 3 == 0 else base + timedelta(seconds=i % 4),
                last_seq=i % 5,
            )
        yield Conversation.objects.all()


def _walk(queryset, ordering: str, limit: int) -> list[int]:
    seen, cursor = [], None
    for _ in range(100):
        data = Query(data={"ordering": ordering, "limit": limit, **({"cursor": cursor} if cursor else {})})
        assert data.is_valid(), data.errors
        page, cursor = page_of(queryset, dict(data.validated_data))
        seen += [row.pk for row in page]
        if cursor is None:
            return seen
    raise AssertionError("never ended")


@pytest.mark.parametrize(
    "ordering", ["created_at", "-created_at", "handoff_requested_at", "-handoff_requested_at", "-last_seq"]
)
@pytest.mark.parametrize("limit", [1, 4, 23, 50])
def test_the_pages_are_the_whole_list_in_order(rows, ordering, limit):
    name = ordering.lstrip("-")
    descending = ordering.startswith("-")
    everything = list(rows)
    present = sorted(
        (r for r in everything if getattr(r, name) is not None), key=lambda r: (getattr(r, name), r.pk)
    )
    empty = sorted((r for r in everything if getattr(r, name) is None), key=lambda r: r.pk)
    if descending:
        present.reverse()
        empty.reverse()
    expected = [r.pk for r in present + empty]  # empty values last, either way
    assert _walk(rows, ordering, limit) == expected


def test_a_row_added_between_pages_is_neither_skipped_nor_repeated_before_the_cursor(rows, tenant_a):
    with tenant_context(tenant_a.tenant):
        first, cursor = page_of(rows, {"ordering": "created_at", "limit": 10})
        ConversationFactory(widget=Widget.objects.first())  # newest: belongs at the end
        rest, _ = page_of(rows, {"ordering": "created_at", "limit": 100, "cursor": cursor})
        assert not {r.pk for r in first} & {r.pk for r in rest}
        assert len(first) + len(rest) == 24


def test_a_cursor_is_good_for_its_own_ordering_only(rows):
    _, cursor = page_of(rows, {"ordering": "created_at", "limit": 5})
    with pytest.raises(ValidationFailed) as refused:
        page_of(rows, {"ordering": "-created_at", "limit": 5, "cursor": cursor})
    assert refused.value.errors["cursor"][0]["code"] == "invalid"


@pytest.mark.parametrize(
    ("ordering", "cursor"),
    [
        ("created_at", "not base64 !"),
        ("created_at", base64.urlsafe_b64encode(b"[1, 2").decode()),
        (
            "created_at",
            base64.urlsafe_b64encode(json.dumps(["created_at", "yesterday", 3]).encode()).decode(),
        ),
        ("created_at", cursor_encode("created_at", "2026-01-01T00:00:00", 3)),  # no time zone
        (
            "created_at",
            base64.urlsafe_b64encode(
                json.dumps(["created_at", "2026-01-01T00:00:00+00:00", "3"]).encode()
            ).decode(),
        ),
        ("last_seq", cursor_encode("last_seq", "seven", 3)),
        ("last_seq", cursor_encode("last_seq", 7, True)),
    ],
)
def test_a_forged_cursor_is_422(rows, ordering, cursor):
    with pytest.raises(ValidationFailed):
        page_of(rows, {"ordering": ordering, "limit": 5, "cursor": cursor})
