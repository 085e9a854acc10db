"""Tenant-host URLs for the benchmarks: the real ones plus the API benchmark's bare DRF
view (``bench.urls.BareApi``)."""

from django.urls import path

from bench.urls import BareApi
from saas.urls_tenant import handler400, handler403, handler404, handler500  # noqa: F401
from saas.urls_tenant import urlpatterns as tenant_urlpatterns

urlpatterns = [path("bench/api-bare", BareApi.as_view()), *tenant_urlpatterns]
