"""widget_builder.runtime_views, the embeddable scripts: one stable loader URL, a
content-addressed chat UI, small and cached."""

from __future__ import annotations

import gzip
import re

from tests.hosts import PUBLIC_HOST
from widget_builder.runtime_views import embed_snippet, runtime_assets

LOADER_GZIP_BUDGET = 6 * 1024
CHAT_UI_GZIP_BUDGET = 35 * 1024


def test_loader_is_small_gzipped_and_briefly_cached(client):
    response = client.get("/w/v1/loader.js", HTTP_HOST=PUBLIC_HOST, HTTP_ACCEPT_ENCODING="gzip, br")
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    assert len(response.content) <= LOADER_GZIP_BUDGET, len(response.content)
    assert response["Cache-Control"] == "public, max-age=300"
    assert response["Content-Type"].startswith("application/javascript")
    assert "Accept-Encoding" in response["Vary"]
    assert response["Cross-Origin-Resource-Policy"] == "cross-origin"
    source = gzip.decompress(response.content).decode()
    assert "__CHAT_UI_PATH__" not in source
    assert re.search(r'"/w/v1/chat\.[0-9a-f]{12}\.js"', source)


def test_chat_ui_is_content_addressed_and_cached_for_a_year(client):
    _, chat, chat_hash = runtime_assets()
    response = client.get(f"/w/v1/chat.{chat_hash}.js", HTTP_HOST=PUBLIC_HOST, HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200 and len(response.content) <= CHAT_UI_GZIP_BUDGET
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert client.get("/w/v1/chat.000000000000.js", HTTP_HOST=PUBLIC_HOST).status_code == 404
    not_modified = client.get(
        f"/w/v1/chat.{chat_hash}.js", HTTP_HOST=PUBLIC_HOST, HTTP_IF_NONE_MATCH=chat.etag
    )
    assert not_modified.status_code == 304


def test_plain_response_without_gzip(client):
    response = client.get("/w/v1/loader.js", HTTP_HOST=PUBLIC_HOST)
    assert "Content-Encoding" not in response and b"ChatWidget" in response.content


def test_snippet_is_one_async_script_tag():
    snippet = embed_snippet(base_url="https://chat.example.com", widget_key="wk_abc")
    assert (
        snippet
        == '<script async src="https://chat.example.com/w/v1/loader.js" data-widget="wk_abc"></script>'
    )
