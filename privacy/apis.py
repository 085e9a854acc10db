"""Tenant REST API, v1: a contact's data protection rights. ``GET contacts/<id>/export``
(everything held about them, as a ZIP) and ``POST contacts/<id>/erase`` (``{"confirm":
"erase"}``: their details, conversations, messages, files and consent go; an erasure
record without personal data remains). Owners, admins and admin keys; agents and agent
keys get 403. The contact is one the caller may see (``ContactApiBase``): another
workspace's id is 404 like an unknown one."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from chat.apis import _problems, _valid
from chat.apis_contacts import ContactApiBase
from tenants.api_base import MANAGERS

from . import services
from .streaming import zip_response, zip_spool

TAGS = ["contacts"]


class EraseInput(serializers.Serializer):
    confirm = serializers.CharField(max_length=20, help_text='The word "erase": an erasure cannot be undone.')

    def validate_confirm(self, value: str) -> str:
        if value.strip().lower() != "erase":
            raise serializers.ValidationError('Send "erase" to confirm.', code="erasure_not_confirmed")
        return value


class ErasureOutput(serializers.Serializer):
    contact_id = serializers.UUIDField(source="contact_public_id")
    erased_at = serializers.DateTimeField()
    conversations = serializers.IntegerField()
    messages = serializers.IntegerField()
    attachments = serializers.IntegerField()
    had_consent = serializers.BooleanField(help_text="A consent record was replaced by this erasure record.")


ERASURE_EXAMPLE = {
    "contact_id": "5b0f7a9e-3c1d-4e55-9a51-0c6f0d7e2a11",
    "erased_at": "2026-12-04T12:00:00.123456Z",
    "conversations": 2,
    "messages": 14,
    "attachments": 1,
    "had_consent": True,
}


class ContactExportApi(ContactApiBase):
    required_roles = {"GET": MANAGERS}

    @extend_schema(
        operation_id="contacts_export",
        tags=TAGS,
        description="Everything the workspace holds about the contact, as a ZIP: `contact.json` "
        "(their fields, prechat answers, consent record, conversations with every message, "
        "feedback and rating) and `attachments/` (the files exchanged). Recorded in the "
        "workspace's audit log.",
        responses={
            (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, description="The ZIP archive."),
            **_problems(401, 403, 404),
        },
    )
    def get(self, request: Request, contact_id: str) -> object:
        contact = self.get_object()
        spool = zip_spool()
        try:
            services.contact_export_write(contact=contact, request=request, out=spool)
        except BaseException:
            spool.close()
            raise
        return zip_response(spool, filename=f"contact-{contact.public_id}.zip")


class ContactEraseApi(ContactApiBase):
    required_roles = {"POST": MANAGERS}

    @extend_schema(
        operation_id="contacts_erase",
        tags=TAGS,
        description="Erase the contact: their details, prechat answers, consent, conversations, "
        "messages, attachments (and the stored files), and cached traces. Cannot be undone; "
        "usage counts and analytics stay as anonymous aggregates. Answers the erasure record.",
        request=EraseInput,
        responses={200: ErasureOutput, **_problems(401, 403, 404, 422)},
        examples=[
            OpenApiExample("Confirmed", value={"confirm": "erase"}, request_only=True),
            OpenApiExample("The erasure record", value=ERASURE_EXAMPLE, response_only=True),
        ],
    )
    def post(self, request: Request, contact_id: str) -> Response:
        _valid(EraseInput(data=request.data))
        record = services.contact_erase(contact=self.get_object(), request=request)
        return Response(ErasureOutput(record).data)
