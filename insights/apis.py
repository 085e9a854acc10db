"""Tenant REST API, v1: the analytics summary of a date range (``/api/v1/analytics/summary``),
the same figures the Analytics page shows, from the same selector."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from tenants.api_base import ALL_ROLES, TenantAPIView
from widget_builder.models import Widget
from widget_builder.public_api import problem_responses

from .selectors import MAX_DAYS, WEEKDAYS, PeriodInvalid, Summary, analytics_summary, period_between

TAGS = ["analytics"]


class _SummaryInput(serializers.Serializer):
    # "from" (a Python keyword) is declared below, through type().
    to = serializers.DateField(help_text="The last day, included.")
    widget = serializers.IntegerField(
        min_value=1, required=False, help_text="One widget's id; all by default."
    )

    def validate_widget(self, value: int) -> int:
        if not Widget.objects.filter(pk=value).exists():
            raise serializers.ValidationError("No widget with this id in this workspace.", code="not_found")
        return value

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        try:
            data["period"] = period_between(data["from"], data["to"])
        except PeriodInvalid as invalid:
            raise serializers.ValidationError({invalid.field: [invalid.message]}, code="invalid") from invalid
        return data


SummaryInput = type(
    "SummaryInput",
    (_SummaryInput,),
    {"from": serializers.DateField(help_text="The first day (YYYY-MM-DD), in the workspace's time zone.")},
)


class FigureOutput(serializers.Serializer):
    value = serializers.FloatField(allow_null=True)
    previous = serializers.FloatField(allow_null=True, help_text="The same figure for the period before.")
    change_percent = serializers.IntegerField(allow_null=True)


class DayOutput(serializers.Serializer):
    date = serializers.DateField()
    conversations = serializers.IntegerField()
    ai_answers = serializers.IntegerField()


class SourceOutput(serializers.Serializer):
    title = serializers.CharField()
    url = serializers.CharField()
    answers = serializers.IntegerField(help_text="AI answers that cite it.")


class SpeedOutput(serializers.Serializer):
    widget = serializers.CharField()
    provider = serializers.CharField()
    answers = serializers.IntegerField()
    first_token_ms_p50 = serializers.IntegerField(allow_null=True)
    first_token_ms_p95 = serializers.IntegerField(allow_null=True)
    reported = serializers.IntegerField(help_text="Answers whose widget reported the full answer's time.")
    full_answer_ms_p50 = serializers.IntegerField(allow_null=True)
    full_answer_ms_p95 = serializers.IntegerField(allow_null=True)


class _SummaryOutput(serializers.Serializer):
    to = serializers.DateField()
    previous_from = serializers.DateField()
    previous_to = serializers.DateField()
    time_zone = serializers.CharField()
    widget = serializers.IntegerField(allow_null=True)
    figures = serializers.DictField(
        child=FigureOutput(),
        help_text="conversations, visitor_messages, ai_answers, deflection (%), handoffs, "
        "no_answer_rate (%), first_response (s, median), resolution (s, median), csat (1-5), "
        "csat_rate (%), thumbs_up, thumbs_down, first_token_p50 (ms).",
    )
    daily = DayOutput(many=True)
    busiest_hours = serializers.DictField(
        child=serializers.ListField(child=serializers.IntegerField()),
        help_text="Visitor messages per weekday (Mon..Sun), 24 hours each, in the workspace's time zone.",
    )
    csat_distribution = serializers.DictField(
        child=serializers.IntegerField(), help_text="Score 1..5 -> ratings."
    )
    csat_responses = serializers.IntegerField()
    top_sources = SourceOutput(many=True)
    answer_speed = SpeedOutput(many=True)


SummaryOutput = type("SummaryOutput", (_SummaryOutput,), {"from": serializers.DateField()})


def summary_payload(summary: Summary) -> dict[str, Any]:
    return {
        "from": summary.period.first,
        "to": summary.period.last,
        "previous_from": summary.previous.first,
        "previous_to": summary.previous.last,
        "time_zone": summary.time_zone,
        "widget": summary.widget_id,
        "figures": {
            f.key: {"value": f.value, "previous": f.previous, "change_percent": f.change}
            for f in summary.figures
        },
        "daily": [
            {"date": day, "conversations": n, "ai_answers": answers}
            for (day, n), (_, answers) in zip(summary.daily, summary.daily_answers, strict=True)
        ],
        "busiest_hours": dict(zip(WEEKDAYS, summary.heat, strict=True)),
        "csat_distribution": {str(score): n for score, n in summary.csat},
        "csat_responses": summary.csat_responses,
        "top_sources": [{"title": s.title, "url": s.url, "answers": s.answers} for s in summary.sources],
        "answer_speed": [
            {
                "widget": s.widget,
                "provider": s.provider,
                "answers": s.answers,
                "first_token_ms_p50": s.first_token_p50,
                "first_token_ms_p95": s.first_token_p95,
                "reported": s.reported,
                "full_answer_ms_p50": s.full_p50,
                "full_answer_ms_p95": s.full_p95,
            }
            for s in summary.speed
        ],
    }


def _figure(value: float | None, previous: float | None, change: int | None) -> dict[str, Any]:
    return {"value": value, "previous": previous, "change_percent": change}


# Three days of one widget (the document's example; a range is up to MAX_DAYS days).
SUMMARY_EXAMPLE = {
    "from": "2026-12-01",
    "to": "2026-12-03",
    "previous_from": "2026-11-28",
    "previous_to": "2026-11-30",
    "time_zone": "Europe/Berlin",
    "widget": 3,
    "figures": {
        "conversations": _figure(120, 100, 20),
        "visitor_messages": _figure(410, 380, 8),
        "ai_answers": _figure(352, 330, 7),
        "deflection": _figure(81.7, 78.0, 5),
        "handoffs": _figure(22, 22, 0),
        "no_answer_rate": _figure(6.1, 7.4, -18),
        "first_response": _figure(4.0, 5.0, -20),
        "resolution": _figure(380.0, 410.0, -7),
        "csat": _figure(4.5, 4.3, 5),
        "csat_rate": _figure(15.0, 12.0, 25),
        "thumbs_up": _figure(64, 51, 25),
        "thumbs_down": _figure(5, 8, -38),
        "first_token_p50": _figure(640, 700, -9),
    },
    "daily": [
        {"date": "2026-12-01", "conversations": 38, "ai_answers": 110},
        {"date": "2026-12-02", "conversations": 45, "ai_answers": 131},
        {"date": "2026-12-03", "conversations": 37, "ai_answers": 111},
    ],
    "busiest_hours": {
        day: [0] * 9 + [6, 9, 11, 8, 7, 10, 12, 9, 5] + [2] * 6 if day != "Sun" else [0] * 24
        for day in WEEKDAYS
    },
    "csat_distribution": {"1": 0, "2": 1, "3": 1, "4": 4, "5": 12},
    "csat_responses": 18,
    "top_sources": [{"title": "Shipping", "url": "https://shop.example.com/shipping", "answers": 41}],
    "answer_speed": [
        {
            "widget": "Website chat",
            "provider": "anthropic",
            "answers": 352,
            "first_token_ms_p50": 640,
            "first_token_ms_p95": 1900,
            "reported": 298,
            "full_answer_ms_p50": 2400,
            "full_answer_ms_p95": 6100,
        }
    ],
}


class AnalyticsSummaryApi(TenantAPIView):
    required_roles = {"GET": ALL_ROLES}

    @extend_schema(
        operation_id="analytics_summary",
        tags=TAGS,
        description="The Analytics page's figures for a date range (days of the workspace's time zone, "
        f"at most {MAX_DAYS}), each beside the same figure for the range of the same length just before; "
        "all widgets, or one.",
        parameters=[
            OpenApiParameter("from", str, required=True, description="YYYY-MM-DD, the first day."),
            OpenApiParameter("to", str, required=True, description="YYYY-MM-DD, the last day (included)."),
            OpenApiParameter("widget", int, required=False, description="A widget's id."),
        ],
        responses={
            200: SummaryOutput,
            **problem_responses(
                described={
                    401: "Not signed in, or the API key is not valid here (`not_authenticated`).",
                    403: "Your role does not allow this (`permission_denied`).",
                    422: "A date is missing or not valid, the end is before the start, the range is too "
                    "long, or no such widget (`validation_error`, with `errors` per field).",
                }
            ),
        },
        examples=[
            OpenApiExample("Three days", value=SUMMARY_EXAMPLE, response_only=True, status_codes=["200"]),
            OpenApiExample(
                "The end before the start",
                value={
                    "type": "/docs/errors#validation_error",
                    "title": "Some fields are not valid",
                    "status": 422,
                    "detail": "Some fields are not valid.",
                    "code": "validation_error",
                    "errors": {
                        "to": [{"code": "invalid", "message": "Choose a day on or after the first day."}]
                    },
                },
                response_only=True,
                status_codes=["422"],
                media_type="application/problem+json",
            ),
        ],
    )
    def get(self, request: Request) -> Response:
        serializer = SummaryInput(data=request.query_params.dict())
        serializer.is_valid(raise_exception=True)
        query = serializer.validated_data
        summary = analytics_summary(
            period=query["period"], time_zone=self.tenant.time_zone, widget_id=query.get("widget")
        )
        return Response(SummaryOutput(summary_payload(summary)).data)
