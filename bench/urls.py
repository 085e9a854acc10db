"""Public URLs for the benchmarks: the real ones plus a bare JSON view as the baseline."""

from django.http import JsonResponse
from django.urls import path

from saas.urls_public import urlpatterns as public_urlpatterns


def bare(request):
    return JsonResponse({"ok": True})


urlpatterns = [path("bench/bare", bare), *public_urlpatterns]
