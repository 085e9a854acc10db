"""Serving the embeddable widget: ``/w/v1/loader.js`` and the content-addressed chat UI.

The loader URL is stable (it is pasted into customers' sites), so it is cached briefly; it
names the chat UI by a hash of its content, so the UI can be cached for a year and a new
release reaches visitors within the loader's cache lifetime. Both are plain JavaScript, no
build step; responses are gzipped when the browser accepts it.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

from csp.decorators import csp_update
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from saas.csp import INLINE_STYLES

RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"
LOADER_MAX_AGE = 300
UI_MAX_AGE = 31536000


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    etag: str


def _asset(body: bytes) -> Asset:
    return Asset(
        body, gzip.compress(body, compresslevel=9, mtime=0), '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
    )


# The chat UI's source files, one concern each, joined in this order in one closure (what
# one declares at its top level, the next may use; nothing more lands on the host page).
CHAT_UI_PARTS = ("conversations.js", "chat.js")


def chat_ui_source() -> bytes:
    parts = [(RUNTIME_DIR / name).read_text() for name in CHAT_UI_PARTS]
    return ("(function () {\n" + "\n".join(parts) + "\n})();\n").encode()


@functools.cache
def runtime_assets() -> tuple[Asset, Asset, str]:
    """(loader, chat UI, chat UI hash), read once per process."""
    chat = chat_ui_source()
    chat_hash = hashlib.sha256(chat).hexdigest()[:12]
    loader = (RUNTIME_DIR / "loader.js").read_text().replace("__CHAT_UI_PATH__", f"/w/v1/chat.{chat_hash}.js")
    return _asset(loader.encode()), _asset(chat), chat_hash


def _serve(request, asset: Asset, max_age: int, immutable: bool = False) -> HttpResponse:
    if request.headers.get("If-None-Match") == asset.etag:
        response = HttpResponse(status=304)
    elif "gzip" in request.headers.get("Accept-Encoding", ""):
        response = HttpResponse(asset.gzipped, content_type="application/javascript; charset=utf-8")
        response["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(asset.body, content_type="application/javascript; charset=utf-8")
    response["ETag"] = asset.etag
    response["Cache-Control"] = f"public, max-age={max_age}" + (", immutable" if immutable else "")
    response["Cross-Origin-Resource-Policy"] = "cross-origin"  # embeddable from any site
    patch_vary_headers(response, ["Accept-Encoding"])
    return response


@require_GET
def loader_js(request):
    loader, _, _ = runtime_assets()
    return _serve(request, loader, LOADER_MAX_AGE)


@require_GET
def chat_ui_js(request, content_hash: str):
    _, chat, chat_hash = runtime_assets()
    if content_hash != chat_hash:
        raise Http404
    return _serve(request, chat, UI_MAX_AGE, immutable=True)


def embed_snippet(*, base_url: str, widget_key: str) -> str:
    return f'<script async src="{base_url}/w/v1/loader.js" data-widget="{widget_key}"></script>'


# The real widget runs here (its Shadow DOM's <style>). django-csp types a view as taking
# the request alone; this one also takes its URL's widget key.
@csp_update(INLINE_STYLES)  # type: ignore[arg-type]
def widget_test_page(request, widget_key: str):
    """A blank page embedding the published widget ("test on a blank page" in the builder)."""

    return render(request, "widget_builder/test_page.html", {"widget_key": widget_key})
