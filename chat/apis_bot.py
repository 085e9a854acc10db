"""Tenant REST API, v1 (tenant host): a widget's bot settings and automations
(``/api/v1/widgets/<id>/bot``, ``.../automations``); canned replies are in ``apis_canned``.

Roles as their dashboard pages, which exist to change settings: owners and admins (and
admin API keys), for reading too. Each write is the service the dashboard calls
(``chat.services.bot_settings``, ``automations``), which holds the rules: its refusals
are 422 with errors per field. A widget of another workspace, or a rule of another
widget, is 404.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

from django.db.models import Count, Max, QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from billing.quotas import tenant_plan
from knowledge.models import KnowledgeBase
from saas.api_pages import PageInput, ordering_field, page_of, page_output, page_parameters, valid_query
from saas.errors import PROBLEM_CONTENT_TYPE, NotFound, ValidationFailed
from saas.openapi import problems_of
from saas.request_body import NO_BODY_BYTES
from tenants.api_base import MANAGERS, TenantAPIView
from widget_builder.models import Widget

from .attachments import KIND_LABELS
from .handoff_phrases import LANGUAGES
from .models import AutomationRule, BotSettings
from .selectors import bot_settings_for
from .services import automations as automation_services
from .services.bot_settings import bot_settings_update

PROBLEMS = {
    401: "Not signed in, or the API key is not valid here (`not_authenticated`).",
    403: "Your role does not allow this (`permission_denied`).",
    404: "No such widget, rule or canned reply in this workspace (`not_found`).",
    422: "Some fields are not valid (`validation_error`, with `errors` per field).",
}
EVERY_METHOD: dict[str, frozenset[str]] = {
    "GET": MANAGERS,
    "POST": MANAGERS,
    "PATCH": MANAGERS,
    "DELETE": MANAGERS,
}


# The problem answers of these statuses, as this module and ``apis_canned`` describe them.
problems = partial(problems_of, PROBLEMS)


def not_found_example(what: str) -> OpenApiExample:
    """An example 404 answer (the delete endpoints answer no body when they succeed)."""
    return OpenApiExample(
        "Not found",
        value={
            "type": "/docs/errors#not_found",
            "title": "Not found",
            "status": 404,
            "detail": f"No such {what} in this workspace.",
            "code": "not_found",
        },
        response_only=True,
        status_codes=["404"],
        media_type=PROBLEM_CONTENT_TYPE,
    )


def valid(serializer: serializers.Serializer) -> dict[str, Any]:
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class WidgetScopedApi(TenantAPIView):
    """A view under ``widgets/<widget_id>/``: the widget is this workspace's, or 404."""

    required_roles = EVERY_METHOD

    def widget(self) -> Widget:
        widget = self.tenant_queryset(Widget).filter(pk=self.kwargs["widget_id"]).first()
        if widget is None:
            raise NotFound()
        return widget


# --- bot settings --------------------------------------------------------------------------


class BotSettingsOutput(serializers.Serializer):
    widget_id = serializers.IntegerField()
    provider = serializers.ChoiceField(choices=BotSettings.Provider.choices)
    model = serializers.CharField(allow_blank=True, help_text="Empty: the provider's default model.")
    base_url = serializers.CharField(allow_blank=True, help_text="OpenAI-compatible servers only.")
    key_source = serializers.ChoiceField(choices=BotSettings.KeySource.choices)
    has_api_key = serializers.BooleanField(help_text="An own API key is stored (never shown again).")
    api_key_hint = serializers.CharField(allow_blank=True, help_text="The stored key's last characters.")
    temperature = serializers.FloatField()
    max_answer_tokens = serializers.IntegerField()
    persona = serializers.CharField(allow_blank=True)
    language = serializers.ChoiceField(choices=BotSettings.Language.choices)
    knowledge_only = serializers.BooleanField()
    no_answer_text = serializers.CharField()
    unavailable_text = serializers.CharField()
    offer_handoff = serializers.BooleanField()
    human_support = serializers.BooleanField()
    handoff_phrases = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="The widget's own phrases by language; a language left out uses the built-in list.",
    )
    knowledge_bases = serializers.ListField(
        child=serializers.IntegerField(), help_text="Knowledge base ids; empty: all of them."
    )
    attachment_kinds = serializers.ListField(child=serializers.ChoiceField(choices=list(KIND_LABELS)))
    attachment_max_mb = serializers.IntegerField()
    files_as_context = serializers.BooleanField(
        help_text="The bot reads visitors' attached CSV, JSON, text, Markdown and PDF files as their "
        "conversation's context (docs/files.md)."
    )
    updated_at = serializers.DateTimeField(allow_null=True, help_text="Null: never changed (the defaults).")


def _bot(bot: BotSettings) -> dict[str, Any]:
    stored = bot.pk is not None
    plain = (
        "provider",
        "model",
        "base_url",
        "key_source",
        "api_key_hint",
        "temperature",
        "max_answer_tokens",
        "persona",
        "language",
        "knowledge_only",
        "no_answer_text",
        "unavailable_text",
        "offer_handoff",
        "human_support",
        "attachment_kinds",
        "attachment_max_mb",
        "files_as_context",
    )
    return {
        **{name: getattr(bot, name) for name in plain},
        "widget_id": bot.widget_id,
        "has_api_key": bool(bot.api_key_encrypted),
        "handoff_phrases": bot.handoff_phrases if isinstance(bot.handoff_phrases, dict) else {},
        "knowledge_bases": sorted(bot.knowledge_bases.values_list("pk", flat=True)) if stored else [],
        "updated_at": bot.updated_at if stored else None,
    }


class BotSettingsInput(serializers.Serializer):
    """Each setting left out stays as stored."""

    provider = serializers.ChoiceField(choices=BotSettings.Provider.choices, required=False)
    model = serializers.CharField(required=False, allow_blank=True, max_length=100)
    base_url = serializers.CharField(required=False, allow_blank=True, max_length=300)
    key_source = serializers.ChoiceField(choices=BotSettings.KeySource.choices, required=False)
    api_key = serializers.CharField(
        required=False,
        max_length=500,
        write_only=True,
        help_text="A new key for the provider or server being saved: stored encrypted, never shown.",
    )
    remove_key = serializers.BooleanField(required=False, default=False)
    temperature = serializers.FloatField(required=False, help_text="0 to 1.")
    max_answer_tokens = serializers.IntegerField(required=False, help_text="50 to 4000.")
    persona = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    language = serializers.ChoiceField(choices=BotSettings.Language.choices, required=False)
    knowledge_only = serializers.BooleanField(required=False)
    no_answer_text = serializers.CharField(required=False)
    unavailable_text = serializers.CharField(required=False)
    offer_handoff = serializers.BooleanField(required=False)
    human_support = serializers.BooleanField(required=False)
    handoff_phrases = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField(allow_blank=True)),
        required=False,
        help_text="Replaces the widget's own lists: {language: [phrases]}, languages "
        f"{', '.join(LANGUAGES)}.",
    )
    knowledge_bases = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, help_text="Ids; empty: all of them."
    )
    attachment_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=list(KIND_LABELS)), required=False
    )
    attachment_max_mb = serializers.IntegerField(required=False, help_text="1 to 20.")
    files_as_context = serializers.BooleanField(required=False)

    def validate_temperature(self, value: float) -> float:
        if not math.isfinite(value):
            raise serializers.ValidationError("Give a number from 0 to 1.", code="invalid")
        return value


BOT_EXAMPLE = {
    "widget_id": 3,
    "provider": "anthropic",
    "model": "",
    "base_url": "",
    "key_source": "platform",
    "has_api_key": False,
    "api_key_hint": "",
    "temperature": 0.3,
    "max_answer_tokens": 600,
    "persona": "You are a friendly, concise support assistant.",
    "language": "visitor",
    "knowledge_only": True,
    "no_answer_text": "I'm sorry, I don't have a good answer to that yet.",
    "unavailable_text": "Sorry, I can't answer right now. Please try again in a moment.",
    "offer_handoff": True,
    "human_support": True,
    "handoff_phrases": {"en": ["speak to sales"]},
    "knowledge_bases": [1],
    "attachment_kinds": ["image", "pdf"],
    "attachment_max_mb": 5,
    "files_as_context": False,
    "updated_at": "2026-12-04T12:00:00.123456Z",
}


class BotSettingsApi(WidgetScopedApi):
    @extend_schema(
        operation_id="widget_bot_retrieve",
        tags=["bot settings"],
        description="The widget's bot: provider, model, persona, knowledge, handoff and attachments "
        "(the defaults until first changed). The API key is never shown: `has_api_key` and its hint.",
        responses={200: BotSettingsOutput, **problems(401, 403, 404)},
        examples=[OpenApiExample("A bot", value=BOT_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, widget_id: int) -> Response:
        return Response(BotSettingsOutput(_bot(bot_settings_for(self.widget()))).data)

    @extend_schema(
        operation_id="widget_bot_update",
        tags=["bot settings"],
        description="Change the bot, effective for the next message; the settings left out stay. "
        "The rules are the dashboard's: own keys and servers need a plan that allows them, a "
        "server must be on the public internet, a stored key is wiped when the provider or "
        "server changes. All or nothing.",
        request=BotSettingsInput,
        responses={200: BotSettingsOutput, **problems(401, 403, 404, 422)},
        examples=[
            OpenApiExample(
                "Persona and knowledge",
                value={"persona": "You answer for Acme's shop.", "knowledge_bases": [1], "temperature": 0.2},
                request_only=True,
            ),
            OpenApiExample("Saved", value=BOT_EXAMPLE, response_only=True),
        ],
    )
    def patch(self, request: Request, widget_id: int) -> Response:
        data = valid(BotSettingsInput(data=request.data))
        widget = self.widget()
        if "knowledge_bases" in data:
            wanted = set(data["knowledge_bases"])
            found = list(KnowledgeBase.objects.filter(pk__in=wanted))
            if missing := sorted(wanted - {kb.pk for kb in found}):
                message = f"No knowledge base {', '.join(map(str, missing))} in this workspace."
                raise ValidationFailed(
                    errors={"knowledge_bases": [{"code": "not_found", "message": message}]}
                )
            data["knowledge_bases"] = found
        bot = bot_settings_update(widget=widget, plan=tenant_plan(self.tenant), request=request, **data)
        return Response(BotSettingsOutput(_bot(bot)).data)


# --- automations ---------------------------------------------------------------------------


class AutomationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    widget_id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=AutomationRule.Kind.choices)
    name = serializers.CharField()
    pattern = serializers.CharField(allow_blank=True, help_text="Keywords (comma separated) or a regex.")
    reply = serializers.CharField()
    replaces_answer = serializers.BooleanField()
    position = serializers.IntegerField(help_text="Lower numbers are tried first.")
    is_enabled = serializers.BooleanField()
    fire_count = serializers.IntegerField(help_text="How often it has answered.")
    last_fired_at = serializers.DateTimeField(allow_null=True, source="last_fired")
    created_at = serializers.DateTimeField()


AutomationPageOutput = page_output("AutomationPageOutput", AutomationOutput)


class AutomationListInput(PageInput):
    ordering = ordering_field(("position", "created_at", "name"), default="position")
    kind = serializers.ChoiceField(choices=AutomationRule.Kind.choices, required=False)
    is_enabled = serializers.BooleanField(required=False, help_text="Only enabled (true) or disabled rules.")


class AutomationInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=AutomationRule.Kind.choices)
    name = serializers.CharField(max_length=120)
    pattern = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=500,
        help_text="Keywords: comma separated. Regex (RE2): matched case-insensitively. "
        "Not used by `greeting` and `offline`.",
    )
    reply = serializers.CharField(max_length=4000)
    replaces_answer = serializers.BooleanField(
        required=False, help_text="Answer with the reply instead of the AI (true by default)."
    )
    position = serializers.IntegerField(required=False, min_value=0, max_value=2_147_483_647)
    is_enabled = serializers.BooleanField(required=False)


class AutomationUpdateInput(AutomationInput):
    """Each field left out stays as stored."""

    kind = serializers.ChoiceField(choices=AutomationRule.Kind.choices, required=False)
    name = serializers.CharField(max_length=120, required=False)
    reply = serializers.CharField(max_length=4000, required=False)


AUTOMATION_EXAMPLE = {
    "id": 12,
    "widget_id": 3,
    "kind": "keyword",
    "name": "Opening hours",
    "pattern": "hours, open, closing",
    "reply": "We're open 9 to 17, Monday to Friday.",
    "replaces_answer": True,
    "position": 10,
    "is_enabled": True,
    "fire_count": 42,
    "last_fired_at": "2026-12-04T11:58:02.5Z",
    "created_at": "2026-11-20T08:00:00Z",
}
AUTOMATION_TAGS = ["automations"]


class AutomationApiBase(WidgetScopedApi):
    queryset = AutomationRule.objects.annotate(
        fire_count=Count("firings"), last_fired=Max("firings__fired_at")
    )
    lookup_url_kwarg = "rule_id"

    def narrow_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(widget_id=self.kwargs["widget_id"])

    def rule(self) -> AutomationRule:
        self.widget()  # this workspace's widget, or 404
        rule: AutomationRule = self.get_object()
        return rule

    def answer(self, rule: AutomationRule, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=rule.pk)  # with its firing counts
        return Response(AutomationOutput(fresh).data, status=code)


class AutomationListApi(AutomationApiBase):
    @extend_schema(
        operation_id="widget_automations_list",
        tags=AUTOMATION_TAGS,
        description="The widget's rules in the order they are tried (unless `ordering` says "
        "otherwise), with how often each fired, a page at a time.",
        parameters=page_parameters(AutomationListInput),
        responses={200: AutomationPageOutput, **problems(401, 403, 404, 422)},
        examples=[
            OpenApiExample(
                "A page", value={"results": [AUTOMATION_EXAMPLE], "next_cursor": None}, response_only=True
            )
        ],
    )
    def get(self, request: Request, widget_id: int) -> Response:
        query = valid_query(AutomationListInput, request)
        self.widget()
        rows = self.get_queryset()
        if "kind" in query:
            rows = rows.filter(kind=query["kind"])
        if "is_enabled" in query:
            rows = rows.filter(is_enabled=query["is_enabled"])
        page, next_cursor = page_of(rows, query)
        return Response({"results": AutomationOutput(page, many=True).data, "next_cursor": next_cursor})

    @extend_schema(
        operation_id="widget_automations_create",
        tags=AUTOMATION_TAGS,
        description="A new rule, effective for the next message. Keywords must be given and a "
        "regex must be valid RE2 (422 `invalid_pattern`).",
        request=AutomationInput,
        responses={201: AutomationOutput, **problems(401, 403, 404, 422)},
        examples=[
            OpenApiExample(
                "Keywords",
                value={
                    "kind": "keyword",
                    "name": "Opening hours",
                    "pattern": "hours, open",
                    "reply": "9 to 17.",
                },
                request_only=True,
            ),
            OpenApiExample("Created", value=AUTOMATION_EXAMPLE, response_only=True, status_codes=["201"]),
        ],
    )
    def post(self, request: Request, widget_id: int) -> Response:
        data = valid(AutomationInput(data=request.data))
        rule = automation_services.automation_rule_create(widget=self.widget(), request=request, **data)
        return self.answer(rule, status.HTTP_201_CREATED)


class AutomationDetailApi(AutomationApiBase):
    @extend_schema(
        operation_id="widget_automations_retrieve",
        tags=AUTOMATION_TAGS,
        responses={200: AutomationOutput, **problems(401, 403, 404)},
        examples=[OpenApiExample("A rule", value=AUTOMATION_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, widget_id: int, rule_id: int) -> Response:
        return Response(AutomationOutput(self.rule()).data)

    @extend_schema(
        operation_id="widget_automations_update",
        tags=AUTOMATION_TAGS,
        description="Change a rule; the fields left out stay. The pattern is checked against the "
        "rule's kind after the change.",
        request=AutomationUpdateInput,
        responses={200: AutomationOutput, **problems(401, 403, 404, 422)},
        examples=[
            OpenApiExample("Reword", value={"reply": "We're open 8 to 18."}, request_only=True),
            OpenApiExample("Saved", value=AUTOMATION_EXAMPLE, response_only=True),
        ],
    )
    def patch(self, request: Request, widget_id: int, rule_id: int) -> Response:
        data = valid(AutomationUpdateInput(data=request.data))
        rule = automation_services.automation_rule_update(rule=self.rule(), request=request, **data)
        return self.answer(rule)

    @extend_schema(
        operation_id="widget_automations_destroy",
        tags=AUTOMATION_TAGS,
        description="Delete a rule; the messages it sent stay.",
        responses={204: None, **problems(401, 403, 404)},
        examples=[not_found_example("rule")],
    )
    def delete(self, request: Request, widget_id: int, rule_id: int) -> Response:
        automation_services.automation_rule_delete(rule=self.rule(), request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AutomationToggleApi(AutomationApiBase):
    """``enable`` or ``disable`` a rule (``enabled``)."""

    max_body_bytes = NO_BODY_BYTES
    enabled = True

    def toggled(self) -> Response:
        rule = automation_services.automation_rule_toggle(
            rule=self.rule(), enabled=self.enabled, request=self.request
        )
        return self.answer(rule)


def _toggle_schema(enabled: bool) -> Any:
    verb = "enable" if enabled else "disable"
    return extend_schema(
        operation_id=f"widget_automations_{verb}",
        tags=AUTOMATION_TAGS,
        description=f"{verb.capitalize()} the rule, effective for the next message; doing it "
        "again changes nothing.",
        request=None,
        responses={200: AutomationOutput, **problems(401, 403, 404)},
        examples=[
            OpenApiExample(
                f"{verb.capitalize()}d",
                value={**AUTOMATION_EXAMPLE, "is_enabled": enabled},
                response_only=True,
            )
        ],
    )


class AutomationEnableApi(AutomationToggleApi):
    enabled = True

    @_toggle_schema(True)
    def post(self, request: Request, widget_id: int, rule_id: int) -> Response:
        return self.toggled()


class AutomationDisableApi(AutomationToggleApi):
    enabled = False

    @_toggle_schema(False)
    def post(self, request: Request, widget_id: int, rule_id: int) -> Response:
        return self.toggled()
