"""Pages of the public host."""

from django.conf import settings
from django.shortcuts import render

from saas.errors import REGISTRY


def home(request):
    return render(request, "public_site/home.html", {"base_domain": settings.BASE_DOMAIN})


def error_reference(request):
    """Every problem-details ``code`` the APIs answer with (the ``type`` URIs point here)."""
    codes = sorted((code, status, title) for code, (status, title) in REGISTRY.items())
    return render(request, "public_site/errors.html", {"codes": codes})
