"""Public URLs for the benchmarks: the real ones plus the baselines (a bare JSON view, a
bare INSERT, a blank HTML page)."""

import json

from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from saas.urls_public import urlpatterns as public_urlpatterns


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


urlpatterns = [
    path("bench/bare", bare),
    path("bench/blank/", blank),
    path("bench/insert", insert),
    *public_urlpatterns,
]
