"""Tenant REST API, v1: the workspace's contacts (visitors and leads) with the Contacts
page's search and filters, one contact, corrections to what is known of them, and their
conversations.

A contact's id is its public id (a UUID, as in a conversation's ``contact``). Visibility
is the inbox's (chat.contacts): where agents see only their widgets' conversations, they
see only those widgets' contacts; an API key sees every widget. Everyone who may read
contacts may correct them (the dashboard's Contacts section is every role's to manage).
"""

from __future__ import annotations

import zoneinfo
from typing import Any, cast

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from saas.api_pages import PageInput, ordering_field, page_of, page_output, page_parameters, valid_query
from tenants.api_base import ALL_ROLES

from .apis import (
    PAGE_EXAMPLE,
    ConversationApiBase,
    ConversationOutput,
    ConversationPageOutput,
    _problems,
    _valid,
)
from .contacts import CONSENT_CHOICES, EMAIL_CHOICES, IDENTIFIED_CHOICES, ContactFilters, contacts_filtered
from .models import Contact, Conversation
from .services.contacts import contact_update

TAGS = ["contacts"]


def _choices(pairs: tuple[tuple[str, str], ...]) -> list[str]:
    return [key for key, _ in pairs if key]


class ContactDetailOutput(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    widget_id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.CharField()
    email_source = serializers.CharField(
        help_text="Where the email came from: prechat, verified, unsigned, or empty (unknown)."
    )
    phone = serializers.CharField()
    country = serializers.CharField(help_text="ISO 3166-1 alpha-2, or empty.")
    external_id = serializers.CharField(help_text="Your site's user id (identify), or empty.")
    identity_verified = serializers.BooleanField()
    answers = serializers.DictField(help_text="The prechat form's other answers, by field key.")
    consent_given_at = serializers.DateTimeField(allow_null=True)
    prechat_submitted_at = serializers.DateTimeField(allow_null=True)
    locale = serializers.CharField()
    page_url = serializers.CharField()
    created_at = serializers.DateTimeField(help_text="First seen.")
    last_seen_at = serializers.DateTimeField()


ContactPageOutput = page_output("ContactPageOutput", ContactDetailOutput)

CONTACT_EXAMPLE = {
    "id": "5b0f7a9e-3c1d-4e55-9a51-0c6f0d7e2a11",
    "widget_id": 1,
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "email_source": "prechat",
    "phone": "",
    "country": "GB",
    "external_id": "user-42",
    "identity_verified": True,
    "answers": {"company_size": "11-50"},
    "consent_given_at": "2026-01-05T09:30:00Z",
    "prechat_submitted_at": "2026-01-05T09:30:00Z",
    "locale": "en",
    "page_url": "https://customer.example/pricing",
    "created_at": "2026-01-05T09:29:12Z",
    "last_seen_at": "2026-01-06T14:02:45Z",
}


class ContactFilterInput(PageInput):
    q = serializers.CharField(
        required=False,
        max_length=200,
        help_text="A part of the name, email, phone, user id or a prechat answer.",
    )
    widget = serializers.IntegerField(min_value=1, required=False, help_text="A widget's id.")
    consent = serializers.ChoiceField(choices=_choices(CONSENT_CHOICES), required=False)
    identified = serializers.ChoiceField(
        choices=_choices(IDENTIFIED_CHOICES),
        required=False,
        help_text="yes (your site identified them), verified (a signed identity), no.",
    )
    has_email = serializers.ChoiceField(choices=_choices(EMAIL_CHOICES), required=False)
    date_from = serializers.DateField(
        required=False, help_text="First seen on or after this day, in the workspace's time zone."
    )
    date_to = serializers.DateField(required=False, help_text="First seen on or before this day.")
    everyone = serializers.BooleanField(
        default=False,
        help_text="Also visitors who only opened a widget (no conversation, nothing told); "
        "left out by default, as on the Contacts page.",
    )
    ordering = ordering_field(("created_at", "last_seen_at"), default="-created_at")

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if "date_from" in data and "date_to" in data and data["date_from"] > data["date_to"]:
            error = {"date_to": ["Choose a day on or after date_from."]}
            raise serializers.ValidationError(error, code="invalid")
        return data


class ContactConversationsInput(PageInput):
    ordering = ordering_field(("created_at", "updated_at"), default="-created_at")


class ContactUpdateInput(serializers.Serializer):
    name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    email = serializers.EmailField(
        required=False,
        allow_blank=True,
        help_text="Stored as unsigned: transcripts go only to an address the visitor gave or a "
        "verified identity carries.",
    )
    phone = serializers.RegexField(
        r"^\+?[0-9 ()-]{0,20}$",
        max_length=20,
        required=False,
        allow_blank=True,
        error_messages={"invalid": "Digits, spaces, ( ) - and a leading +."},
    )
    country = serializers.RegexField(
        r"^([A-Za-z]{2})?$",
        required=False,
        allow_blank=True,
        error_messages={"invalid": "Two letters (ISO 3166-1 alpha-2)."},
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if not data:
            raise serializers.ValidationError(
                {"name": ["Send at least one field to change."]}, code="required"
            )
        if "phone" in data:
            data["phone"] = data["phone"].replace(" ", "")
        if "country" in data:
            data["country"] = data["country"].upper()
        return data


class ContactApiBase(ConversationApiBase):
    """The contacts the caller may see (the inbox's widget rule), by public id."""

    # A queryset of contacts where the base serves conversations.
    queryset = cast(QuerySet[Any], Contact.objects.select_related("widget"))
    lookup_field = "public_id"
    lookup_url_kwarg = "contact_id"
    required_roles = {"GET": ALL_ROLES, "PATCH": ALL_ROLES}

    def time_zone(self) -> zoneinfo.ZoneInfo:
        try:
            return zoneinfo.ZoneInfo(self.tenant.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return zoneinfo.ZoneInfo("UTC")


class ContactListApi(ContactApiBase):
    @extend_schema(
        operation_id="contacts_list",
        tags=TAGS,
        description="The workspace's contacts you may see, newest first unless `ordering` says "
        "otherwise, with the Contacts page's search and filters, a page at a time.",
        parameters=page_parameters(ContactFilterInput),
        responses={200: ContactPageOutput, **_problems(401, 403, 422)},
        examples=[
            OpenApiExample(
                "A page", value={"results": [CONTACT_EXAMPLE], "next_cursor": None}, response_only=True
            )
        ],
    )
    def get(self, request: Request) -> Response:
        query = valid_query(ContactFilterInput, request)
        filters = ContactFilters(
            q=query.get("q", ""),
            widget_id=query.get("widget"),
            consent=query.get("consent", ""),
            identified=query.get("identified", ""),
            has_email=query.get("has_email", ""),
            date_from=query.get("date_from"),
            date_to=query.get("date_to"),
            everyone=query["everyone"],
        )
        rows = contacts_filtered(self.get_queryset(), filters, self.time_zone())
        page, next_cursor = page_of(rows, query)
        return Response({"results": ContactDetailOutput(page, many=True).data, "next_cursor": next_cursor})


class ContactDetailApi(ContactApiBase):
    @extend_schema(
        operation_id="contacts_retrieve",
        tags=TAGS,
        responses={200: ContactDetailOutput, **_problems(401, 403, 404)},
        examples=[OpenApiExample("A contact", value=CONTACT_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, contact_id: str) -> Response:
        return Response(ContactDetailOutput(self.get_object()).data)

    @extend_schema(
        operation_id="contacts_partial_update",
        tags=TAGS,
        description="Correct the contact's name, email, phone or country (send only what changes).",
        request=ContactUpdateInput,
        responses={200: ContactDetailOutput, **_problems(401, 403, 404, 422)},
        examples=[
            OpenApiExample("A new name", value={"name": "Ada King"}, request_only=True),
            OpenApiExample("The contact", value=CONTACT_EXAMPLE, response_only=True),
        ],
    )
    def patch(self, request: Request, contact_id: str) -> Response:
        data = _valid(ContactUpdateInput(data=request.data))
        contact = contact_update(contact=self.get_object(), changes=data)
        return Response(ContactDetailOutput(contact).data)


class ContactConversationsApi(ContactApiBase):
    @extend_schema(
        operation_id="contact_conversations_list",
        tags=TAGS,
        description="The contact's conversations, newest first unless `ordering` says otherwise, "
        "a page at a time.",
        parameters=page_parameters(ContactConversationsInput),
        responses={200: ConversationPageOutput, **_problems(401, 403, 404, 422)},
        examples=[PAGE_EXAMPLE],
    )
    def get(self, request: Request, contact_id: str) -> Response:
        query = valid_query(ContactConversationsInput, request)
        contact = self.get_object()
        rows: QuerySet[Conversation] = self.tenant_queryset(
            Conversation.objects.select_related("contact")
        ).filter(contact=contact)
        page, next_cursor = page_of(rows, query)
        return Response({"results": ConversationOutput(page, many=True).data, "next_cursor": next_cursor})
