"""chat.widget_api.attachments: a visitor's file checked by its content, stored under the
tenant's prefix, and served back only as a download to the visitor of its conversation."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from chat.models import Attachment
from tests.chat.visitors import make_visitor

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _upload(client, visitor, name: str, data: bytes, **extra):

    return client.post(
        visitor.path("attachments"),
        {"file": SimpleUploadedFile(name, data, content_type="image/png"), "text": "See attached"},
        **visitor.headers(**extra),
    )


def test_attachments_are_checked_by_content_stored_under_the_tenant_and_served_as_downloads(client, visitor):
    assert _upload(client, visitor, "shot.png", PNG).json()["code"] == "attachment_refused"  # off by default
    visitor.bot(attachment_kinds=["image", "pdf"], attachment_max_mb=1)
    disguised = _upload(client, visitor, "shot.png", b"<html><script>alert(1)</script></html>")
    assert disguised.status_code == 422 and disguised.json()["code"] == "attachment_refused"
    too_big = _upload(client, visitor, "big.png", PNG + b"\x00" * (1024 * 1024))
    assert too_big.status_code == 413

    ok = _upload(client, visitor, "../../etc/passwd shot.png", PNG)
    assert ok.status_code == 201, ok.content
    message = ok.json()
    (meta,) = message["attachments"]
    assert (
        meta["content_type"] == "image/png"
        and meta["name"] == "passwd shot.png"
        and message["text"] == "See attached"
    )
    with tenant_context(visitor.tenant):
        attachment = Attachment.objects.get(public_id=meta["id"])
        assert attachment.message.seq == message["seq"]
        assert default_storage.exists(attachment.file.name)
        path = default_storage.path(attachment.file.name) if hasattr(default_storage, "path") else ""
    assert f"tenants/{visitor.tenant.schema_name}/" in path or attachment.file.name.startswith("chat/")

    download = client.get(visitor.path(f"attachments/{meta['id']}"), **visitor.headers())
    assert download.status_code == 200 and b"".join(download.streaming_content) == PNG
    assert (
        download["X-Content-Type-Options"] == "nosniff"
        and download["Content-Type"] == "application/octet-stream"
    )
    assert download["Content-Disposition"].startswith("attachment;")

    stranger = make_visitor(visitor.tenant)
    stranger.conversation = visitor.conversation  # another visitor, same conversation id
    assert client.get(stranger.path(f"attachments/{meta['id']}"), **stranger.headers()).status_code == 404
