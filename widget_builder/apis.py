"""Tenant REST API, v1 (tenant host, ``/api/v1/widgets``): the workspace's widgets.

Roles as the dashboard's "widgets" section: every role (and both API key roles) reads;
owners and admins (and admin keys) create, change, publish, delete and rotate secrets.

A widget is edited as a draft and served to visitors once published, as in the builder.
``PATCH`` takes the builder's settings as JSON and validates them with the builder's own
form (``forms.WidgetSettingsForm``: contrast, prechat fields, business hours, origins,
images by their bytes, the plan's branding rule), then stores them with the builder's
service (``services.widget_settings_update``): what the API accepts is exactly what the
builder accepts. The identity secret is never read back: rotating it answers the new one,
once.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from functools import partial
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from billing.quotas import tenant_plan
from saas.api_pages import PageInput, ordering_field, page_of, page_output, page_parameters, valid_query
from saas.errors import PROBLEM_CONTENT_TYPE, FieldErrors, ValidationFailed
from saas.openapi import problems_of
from saas.request_body import NO_BODY_BYTES, SMALL_BODY_BYTES
from tenants.api_base import ALL_ROLES, MANAGERS, TenantAPIView

from . import services
from .forms import WidgetSettingsForm
from .images import MAX_BYTES
from .models import Widget
from .selectors import widget_public_config

TAGS = ["widgets"]
PROBLEMS = {
    401: "Not signed in, or the API key is not valid here (`not_authenticated`).",
    403: "Your role does not allow this (`permission_denied`), or the plan's limit (`quota_exceeded`).",
    404: "No such widget in this workspace (`not_found`).",
    409: "The widget has conversations and is kept (`widget_has_conversations`).",
    422: "Some fields are not valid (`validation_error`, with `errors` per field).",
}
# What the builder's form calls its fields, and what the API calls them.
FORM_NAMES = {
    "suggested_questions_text": "suggested_questions",
    "business_hours_json": "business_hours",
    "allowed_origins_text": "allowed_origins",
    "prechat_fields_json": "prechat_fields",
    "avatar_upload": "avatar",
    "launcher_upload": "launcher_image",
}
ROW_EDITORS = ("prechat_fields", "business_hours", "suggested_questions")
# The widget's fields the builder's form edits as they are.
FORM_FIELDS = tuple(WidgetSettingsForm.Meta.fields)
_DATA_URI = re.compile(r"^data:image/[a-z+.-]+;base64,(?P<data>[A-Za-z0-9+/=\s]+)$")


_problems = partial(problems_of, PROBLEMS)


def _choices(name: str) -> list[str]:
    field = Widget._meta.get_field(name)
    return [value for value, _ in getattr(field, "choices", None) or ()]


# --- output --------------------------------------------------------------------------------


class WidgetOutput(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.CharField(help_text="The public key of the embed snippet (`wk_...`).")
    name = serializers.CharField()
    status = serializers.SerializerMethodField(
        help_text="`draft` (never published), `published`, or `unpublished_changes` (the draft "
        "differs from what visitors see)."
    )
    published_at = serializers.DateTimeField(allow_null=True)
    bot_name = serializers.CharField()
    greeting = serializers.CharField()
    primary_color = serializers.CharField()
    text_color = serializers.CharField()
    position = serializers.ChoiceField(choices=_choices("position"))
    offset_x = serializers.IntegerField()
    offset_y = serializers.IntegerField()
    theme = serializers.ChoiceField(choices=_choices("theme"))
    launcher_icon = serializers.ChoiceField(choices=_choices("launcher_icon"))
    locale = serializers.ChoiceField(choices=_choices("locale"))
    custom_css = serializers.CharField(allow_blank=True)
    show_branding = serializers.BooleanField()
    offline_message = serializers.CharField(allow_blank=True)
    identity_enforced = serializers.BooleanField()
    suggested_questions = serializers.ListField(child=serializers.CharField())
    business_hours = serializers.DictField(help_text="Empty: always open.")
    allowed_origins = serializers.ListField(child=serializers.CharField(), help_text="Empty: any site.")
    prechat_enabled = serializers.BooleanField()
    prechat_fields = serializers.ListField(child=serializers.DictField())
    consent_text = serializers.CharField(allow_blank=True)
    consent_url = serializers.CharField(allow_blank=True)
    consent_version = serializers.IntegerField()
    avatar = serializers.CharField(allow_blank=True, help_text="A `data:` URI, or empty.")
    launcher_image = serializers.CharField(allow_blank=True, help_text="A `data:` URI, or empty.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_status(self, widget: Widget) -> str:
        if not widget.published_at:
            return "draft"
        return (
            "published" if widget.published_config == widget_public_config(widget) else "unpublished_changes"
        )


WidgetPageOutput = page_output("WidgetPageOutput", WidgetOutput)


class IdentitySecretOutput(serializers.Serializer):
    widget_id = serializers.IntegerField()
    identity_secret = serializers.CharField(
        help_text="Sign user ids with it (HMAC-SHA256, hex). Shown in this answer only."
    )


WIDGET_EXAMPLE = {
    "id": 3,
    "key": "wk_Q2hhdFdpZGdldEtleTE",
    "name": "Website chat",
    "status": "unpublished_changes",
    "published_at": "2026-12-04T12:00:00.123456Z",
    "bot_name": "Sunny",
    "greeting": "Hi! How can I help you today?",
    "primary_color": "#1f4fd1",
    "text_color": "#ffffff",
    "position": "right",
    "offset_x": 20,
    "offset_y": 20,
    "theme": "auto",
    "launcher_icon": "chat",
    "locale": "auto",
    "custom_css": "",
    "show_branding": True,
    "offline_message": "We're away right now.",
    "identity_enforced": False,
    "suggested_questions": ["Do you ship abroad?"],
    "business_hours": {"tz": "Europe/Berlin", "days": {"mon": [["09:00", "17:00"]]}},
    "allowed_origins": ["https://shop.example.com"],
    "prechat_enabled": True,
    "prechat_fields": [{"kind": "email", "label": "Your email", "required": True}],
    "consent_text": "",
    "consent_url": "",
    "consent_version": 1,
    "avatar": "",
    "launcher_image": "",
    "created_at": "2026-12-01T09:30:00Z",
    "updated_at": "2026-12-04T12:05:00Z",
}


# --- input ---------------------------------------------------------------------------------


class WidgetListInput(PageInput):
    ordering = ordering_field(("name", "created_at", "updated_at"), default="created_at")


class WidgetCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    locale = serializers.ChoiceField(
        choices=_choices("locale"),
        required=False,
        help_text="The widget's language; by default the workspace's default language (or the "
        "visitor's, when the widget does not speak it).",
    )


def _one_line(value: str) -> None:
    if "\n" in value or "\r" in value:
        raise serializers.ValidationError("One line each.", code="invalid")


class WidgetUpdateInput(serializers.Serializer):
    """The builder's settings; each one left out stays as stored. The rules are the
    builder's (``WidgetSettingsForm``)."""

    name = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    bot_name = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    greeting = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    primary_color = serializers.CharField(required=False, allow_blank=True, help_text="Like `#2d5bd7`.")
    text_color = serializers.CharField(
        required=False, allow_blank=True, help_text="Contrast with the primary colour of 4.5:1 or more."
    )
    position = serializers.ChoiceField(choices=_choices("position"), required=False)
    offset_x = serializers.IntegerField(required=False, help_text="0 to 200 px.")
    offset_y = serializers.IntegerField(required=False, help_text="0 to 200 px.")
    theme = serializers.ChoiceField(choices=_choices("theme"), required=False)
    launcher_icon = serializers.ChoiceField(choices=_choices("launcher_icon"), required=False)
    locale = serializers.ChoiceField(choices=_choices("locale"), required=False)
    custom_css = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    show_branding = serializers.BooleanField(required=False, help_text="Off needs the Pro plan or above.")
    offline_message = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    identity_enforced = serializers.BooleanField(required=False)
    suggested_questions = serializers.ListField(
        child=serializers.CharField(validators=[_one_line]), required=False, help_text="Up to 4."
    )
    business_hours = serializers.DictField(
        required=False,
        help_text='{"tz": "Europe/Berlin", "days": {"mon": [["09:00", "17:00"]]}}; {}: always open.',
    )
    allowed_origins = serializers.ListField(
        child=serializers.CharField(validators=[_one_line]),
        required=False,
        help_text="https://www.example.com or https://*.example.com; effective at once, without publishing.",
    )
    prechat_enabled = serializers.BooleanField(required=False)
    prechat_fields = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        help_text="Kinds: name, email, phone, country, message, text, select (with options), checkbox.",
    )
    consent_text = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, help_text="Empty: no consent checkbox."
    )
    consent_url = serializers.CharField(required=False, allow_blank=True)
    avatar = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text=f"A `data:image/...;base64,` URI: PNG, JPEG, GIF or WebP, up to {MAX_BYTES // 1024} KB "
        "(the JSON body is at most 64 KB: about 46 KB of image). Empty or the stored one: unchanged.",
    )
    launcher_image = serializers.CharField(
        required=False, allow_blank=True, help_text="As `avatar`: replaces the built-in launcher icon."
    )
    remove_images = serializers.BooleanField(
        required=False, help_text="Remove the avatar and launcher image (a new one in the same request wins)."
    )

    def validate_avatar(self, value: str) -> str:
        return _data_uri_check(value)

    def validate_launcher_image(self, value: str) -> str:
        return _data_uri_check(value)


def _data_uri_check(value: str) -> str:
    if value and not _DATA_URI.match(value):
        raise serializers.ValidationError("Send the image as a data:image/...;base64, URI.", code="invalid")
    return value


def _upload(name: str, value: str) -> SimpleUploadedFile | None:
    """The image of a data URI as the builder's upload (its bytes are checked by the form)."""
    match = _DATA_URI.match(value)
    if match is None:
        return None
    try:
        raw = base64.b64decode(re.sub(r"\s", "", match["data"]), validate=True)
    except (binascii.Error, ValueError) as error:
        invalid = [{"code": "invalid", "message": "This is not valid base64."}]
        raise ValidationFailed(errors={name: invalid}) from error
    return SimpleUploadedFile(name, raw)


def _form_data(widget: Widget, given: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The builder form's data and files: the stored settings, with ``given`` over them."""
    merged = {name: getattr(widget, name) for name in FORM_FIELDS}
    merged |= {
        "suggested_questions": widget.suggested_questions,
        "business_hours": widget.business_hours,
        "allowed_origins": widget.allowed_origins,
        "prechat_fields": widget.prechat_fields,
    }
    merged |= {name: value for name, value in given.items() if name not in ("avatar", "launcher_image")}
    data = {name: value for name, value in merged.items() if name not in FORM_NAMES.values()}
    data |= {
        "suggested_questions_text": "\n".join(merged["suggested_questions"]),
        "business_hours_json": json.dumps(merged["business_hours"]) if merged["business_hours"] else "",
        "allowed_origins_text": "\n".join(merged["allowed_origins"]),
        "prechat_fields_json": json.dumps(merged["prechat_fields"]),
        "remove_images": bool(given.get("remove_images")),
    }
    files = {}
    for api_name, form_name in (("avatar", "avatar_upload"), ("launcher_image", "launcher_upload")):
        image = given.get(api_name) or ""
        if image and image != getattr(widget, api_name):
            files[form_name] = _upload(api_name, image)
    return data, files


def _form_errors(form: WidgetSettingsForm) -> FieldErrors:
    """The builder form's errors under the API's names; an editor's errors per row
    (``prechat_fields.1``, ``business_hours.mon``) where the form keeps them so."""
    errors: FieldErrors = {}
    for editor in ROW_EDITORS:
        for row, problems in form.row_errors[editor].items():
            errors.setdefault(editor if row == "_" else f"{editor}.{row}", []).extend(problems)
    for field, items in form.errors.as_data().items():
        name = FORM_NAMES.get(field, field)
        if name in ROW_EDITORS:
            continue  # the editors' errors are all in row_errors (above)
        for item in items:
            errors.setdefault(name, []).append(
                {"code": item.code or "invalid", "message": " ".join(item.messages)}
            )
    return errors


# --- views ---------------------------------------------------------------------------------


class WidgetApiBase(TenantAPIView):
    queryset = Widget.objects.all()
    lookup_url_kwarg = "widget_id"
    required_roles = {"GET": ALL_ROLES, "POST": MANAGERS, "PATCH": MANAGERS, "DELETE": MANAGERS}


class WidgetListApi(WidgetApiBase):
    max_body_bytes = SMALL_BODY_BYTES

    @extend_schema(
        operation_id="widgets_list",
        tags=TAGS,
        description="The workspace's widgets, oldest first unless `ordering` says otherwise, a page "
        "at a time (`cursor` from the previous page's `next_cursor`).",
        parameters=page_parameters(WidgetListInput),
        responses={200: WidgetPageOutput, **_problems(401, 403, 404, 422)},
        examples=[
            OpenApiExample(
                "A page", value={"results": [WIDGET_EXAMPLE], "next_cursor": None}, response_only=True
            )
        ],
    )
    def get(self, request: Request) -> Response:
        query = valid_query(WidgetListInput, request)
        rows, next_cursor = page_of(self.get_queryset(), query)
        return Response({"results": WidgetOutput(rows, many=True).data, "next_cursor": next_cursor})

    @extend_schema(
        operation_id="widgets_create",
        tags=TAGS,
        description="A new widget with the default design, published at once (its snippet works "
        "straight away); the plan caps how many a workspace has (403 `quota_exceeded`).",
        request=WidgetCreateInput,
        responses={201: WidgetOutput, **_problems(401, 403, 404, 422)},
        examples=[
            OpenApiExample("Create", value={"name": "Help center", "locale": "en"}, request_only=True),
            OpenApiExample("Created", value=WIDGET_EXAMPLE, response_only=True, status_codes=["201"]),
        ],
    )
    def post(self, request: Request) -> Response:
        data = WidgetCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        locale = data.validated_data.get("locale") or self.tenant.language
        widget = services.widget_create(
            tenant=self.tenant, name=data.validated_data["name"], locale=locale, request=request
        )
        return Response(WidgetOutput(widget).data, status=status.HTTP_201_CREATED)


class WidgetDetailApi(WidgetApiBase):
    @extend_schema(
        operation_id="widgets_retrieve",
        tags=TAGS,
        description="One widget: its draft settings and whether they are published.",
        responses={200: WidgetOutput, **_problems(401, 403, 404)},
        examples=[OpenApiExample("A widget", value=WIDGET_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, widget_id: int) -> Response:
        return Response(WidgetOutput(self.get_object()).data)

    @extend_schema(
        operation_id="widgets_update",
        tags=TAGS,
        description="Change the draft, as the builder saves it: the settings sent replace the stored "
        "ones (the others stay), validated by the builder's rules, all or nothing. Visitors see "
        "the draft once it is published (`POST widgets/{id}/publish`); `allowed_origins` apply at "
        "once.",
        request=WidgetUpdateInput,
        responses={200: WidgetOutput, **_problems(401, 403, 404, 422)},
        examples=[
            OpenApiExample(
                "Colours and questions",
                value={
                    "primary_color": "#1f4fd1",
                    "text_color": "#ffffff",
                    "suggested_questions": ["Do you ship abroad?"],
                    "allowed_origins": ["https://shop.example.com"],
                },
                request_only=True,
            ),
            OpenApiExample("Saved", value=WIDGET_EXAMPLE, response_only=True),
        ],
    )
    def patch(self, request: Request, widget_id: int) -> Response:
        given = WidgetUpdateInput(data=request.data)
        given.is_valid(raise_exception=True)
        widget = self.get_object()
        data, files = _form_data(widget, dict(given.validated_data))
        form = WidgetSettingsForm(data, files, instance=widget, plan=tenant_plan(self.tenant))
        if not form.is_valid():
            raise ValidationFailed(
                "Some settings are not valid; nothing was saved.", errors=_form_errors(form)
            )
        saved = services.widget_settings_update(widget=widget, draft=form.draft(), request=request)
        return Response(WidgetOutput(saved).data)

    @extend_schema(
        operation_id="widgets_destroy",
        tags=TAGS,
        description="Delete a widget with its settings, automations and bot; its snippet stops "
        "working at once. A widget with conversations is kept (409).",
        responses={204: None, **_problems(401, 403, 404, 409)},
        examples=[
            OpenApiExample(
                "Has conversations",
                value={
                    "type": "/docs/errors#widget_has_conversations",
                    "title": "This widget has conversations",
                    "status": 409,
                    "detail": "This widget has conversations; it can be deleted only while it has none.",
                    "code": "widget_has_conversations",
                },
                response_only=True,
                status_codes=["409"],
                media_type=PROBLEM_CONTENT_TYPE,
            )
        ],
    )
    def delete(self, request: Request, widget_id: int) -> Response:
        services.widget_delete(widget=self.get_object(), request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WidgetPublishApi(WidgetApiBase):
    max_body_bytes = NO_BODY_BYTES

    @extend_schema(
        operation_id="widgets_publish",
        tags=TAGS,
        description="The draft becomes what visitors see.",
        request=None,
        responses={200: WidgetOutput, **_problems(401, 403, 404)},
        examples=[
            OpenApiExample("Published", value={**WIDGET_EXAMPLE, "status": "published"}, response_only=True)
        ],
    )
    def post(self, request: Request, widget_id: int) -> Response:
        return Response(WidgetOutput(services.widget_publish(widget=self.get_object(), request=request)).data)


class WidgetSecretRotateApi(WidgetApiBase):
    max_body_bytes = NO_BODY_BYTES

    @extend_schema(
        operation_id="widgets_rotate_identity_secret",
        tags=TAGS,
        description="A new identity verification secret, in this answer only (store it now); "
        "`identify` calls signed with the old one fail from now on.",
        request=None,
        responses={200: IdentitySecretOutput, **_problems(401, 403, 404)},
        examples=[
            OpenApiExample(
                "Rotated",
                value={"widget_id": 3, "identity_secret": "c2VjcmV0LXNob3duLW9uY2UtYW5kLW5ldmVyLWFnYWlu"},
                response_only=True,
            )
        ],
    )
    def post(self, request: Request, widget_id: int) -> Response:
        widget = services.widget_identity_secret_rotate(widget=self.get_object(), request=request)
        return Response({"widget_id": widget.pk, "identity_secret": widget.identity_secret})
