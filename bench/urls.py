"""Public URLs for the benchmarks: the real ones plus the baselines (a bare JSON view, a
bare INSERT, a blank HTML page, the chat path's irreducible work); and, for tenant hosts
(``bench.urls_tenant``), the API benchmark's bare DRF view."""

import json

from django.db import connection, transaction
from django.http import HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django_tenants.utils import schema_context
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from saas.urls_public import urlpatterns as public_urlpatterns
from tenants.api_base import ApiKeyAuthentication


def bare(request):
    return JsonResponse({"ok": True})


BLANK_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Blank</title></head>'
    '<body><a href="/">Home</a></body></html>'
)


def blank(request):
    """The dashboard benchmark's baseline: a static HTML page, no CSS, no JS."""
    return HttpResponse(BLANK_PAGE)


@csrf_exempt
def insert(request):
    """The throughput baseline of the chat benchmark: parse a body, one INSERT, JSON out."""
    body = json.loads(request.body or b"{}")
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_probe (body) VALUES (%s) RETURNING id", [str(body.get("text", ""))])
        (row_id,) = cursor.fetchone()
    return JsonResponse({"id": row_id})


@csrf_exempt
def floor(request):
    """The chat benchmark's floor: only the irreducible work of answering a visitor, with the
    real models and services in the widget's tenant schema. Store the visitor message, embed
    the question (the platform's local model: in-process, or the embedding server when
    EMBEDDING_SERVER_URL is set), one retrieval query on the vector index, store the answer.
    No widget lookup, origin, token, throttles, claims, settings, automations, billing,
    history, prompt or provider."""
    # The app modules load with the URL conf's first request (Django is set up by then).
    from chat.models import Conversation, Message
    from chat.services.messages import message_append
    from knowledge.embeddings import embedder_for

    body = json.loads(request.body)
    embedder = embedder_for("local")
    with schema_context(body["schema"]):
        conversation = Conversation.objects.only("pk").get(pk=body["conversation"])
        question, _ = message_append(conversation=conversation, role=Message.Role.VISITOR, text=body["text"])
        literal = "[" + ",".join(f"{x:.7g}" for x in embedder.embed_query(body["text"])) + "]"
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM knowledge_chunk WHERE embedding_dim = 384 AND embedding_model_id = %s "
                "ORDER BY embedding::vector(384) <=> %s::vector(384) LIMIT 10",
                [embedder.model_id, literal],
            )
            found = [row[0] for row in cursor.fetchall()]
        answer, _ = message_append(
            conversation=conversation,
            role=Message.Role.BOT,
            text=f"Floor answer from {len(found)} passages.",
            reply_to=question,
        )
    return JsonResponse({"id": answer.pk, "passages": len(found)})


class BareApi(APIView):
    """The API benchmark's baseline, on a tenant host: DRF's request cycle (content
    negotiation, the JSON renderer) and the same API-key authentication as the workspace
    API (``Authorization: Bearer sk_...``: one key lookup in the host's tenant), returning a
    small constant JSON list. No role lookup, no per-key rate limit, no Idempotency-Key, no
    query of rows, no serializer, no pagination."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes: list = []

    def get(self, request: Request) -> Response:
        return Response({"results": [{"id": n, "status": "open"} for n in range(1, 6)], "next_cursor": None})


urlpatterns = [
    path("bench/bare", bare),
    path("bench/blank/", blank),
    path("bench/insert", insert),
    path("bench/floor", floor),
    *public_urlpatterns,
]
