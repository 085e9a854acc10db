"""The icons browsers ask every host for at its root (/favicon.ico, /apple-touch-icon.png),
served from static/ui/ on the public host and every workspace's host alike."""

from __future__ import annotations

import mimetypes

from django.contrib.staticfiles import finders
from django.http import FileResponse, Http404, HttpRequest
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe

ROOT_ICONS = {
    "favicon.ico": "ui/favicon.ico",
    "apple-touch-icon.png": "ui/apple-touch-icon.png",
}


@require_safe
def root_icon(request: HttpRequest, name: str) -> FileResponse:
    found = finders.find(ROOT_ICONS[name])
    if not found:  # only if static/ui/ lost the file
        raise Http404
    content_type = "image/x-icon" if name.endswith(".ico") else mimetypes.guess_type(name)[0]
    response = FileResponse(open(found, "rb"), content_type=content_type)  # noqa: SIM115 (FileResponse closes it)
    patch_cache_control(response, public=True, max_age=86400)
    return response
