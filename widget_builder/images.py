"""Small images for the widget (bot avatar, custom launcher icon), checked by content.

They are kept as ``data:`` URIs in the widget's settings and published config, so the
widget never loads an image from anywhere (no remote fetch, nothing to serve, nothing for a
visitor's browser to request from a third party).
"""

from __future__ import annotations

import base64

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

MAX_BYTES = 100 * 1024
_SIGNATURES = [
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
]


def sniff_image_type(head: bytes) -> str | None:
    for signature, mime in _SIGNATURES:
        if head.startswith(signature):
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None  # SVG is refused on purpose: it can carry script


def image_data_uri(upload: UploadedFile) -> str:
    """A data URI for an uploaded image; ValidationError naming what is wrong."""
    if upload.size is None or upload.size > MAX_BYTES:  # request uploads always know their size
        raise ValidationError(f"Use an image of at most {MAX_BYTES // 1024} KB.", code="too_large")
    data = upload.read(MAX_BYTES + 1)
    mime = sniff_image_type(data[:16])
    if mime is None:
        raise ValidationError("Use a PNG, JPEG, GIF or WebP image.", code="invalid_image")
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"
