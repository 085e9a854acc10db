"""Visitor attachments: the type comes from the bytes (never the name or the client's
header), the size is checked before the body is read, the file goes through the default
storage under the tenant's prefix (saas.storage), and it is only ever served as a download
with ``nosniff``."""

from __future__ import annotations

import re

from django.core.files.uploadedfile import UploadedFile

from saas.errors import PayloadTooLarge, ProblemError

KINDS = {
    "image": {"image/png", "image/jpeg", "image/gif", "image/webp"},
    "pdf": {"application/pdf"},
    "text": {"text/plain"},
}
KIND_LABELS = {
    "image": "Images (PNG, JPEG, GIF, WebP)",
    "pdf": "PDF documents",
    "text": "Text files (TXT, CSV, JSON, Markdown)",
}


class AttachmentRefused(ProblemError):
    status = 422
    code = "attachment_refused"
    title = "This file cannot be attached"


def sniff(head: bytes) -> str | None:
    """The content type the first bytes prove, among those we accept."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:  # a multi-byte character cut at the end is fine
            if exc.start < len(head) - 3:
                return None
        lowered = head[:512].lstrip().lower()
        if lowered.startswith((b"<!doctype", b"<html", b"<svg", b"<?xml", b"<script")):
            return None  # markup is not "plain text" however it is named
        return "text/plain"
    return None


def clean_name(name: str) -> str:
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[^\w.\- ()]+", "_", name).strip(" .")[:120]
    return name or "attachment"


def attachment_check(upload: UploadedFile, *, kinds: list[str], max_mb: int) -> str:
    """The upload's content type, or an error a visitor can act on."""
    allowed = set().union(*(KINDS[k] for k in kinds if k in KINDS)) if kinds else set()
    if not allowed:
        raise AttachmentRefused("This chat does not accept attachments.")
    if upload.size is None or upload.size > max_mb * 1024 * 1024:  # uploads always know their size
        raise PayloadTooLarge(f"Attach files of at most {max_mb} MB.")
    head = upload.read(2048)
    upload.seek(0)
    content_type = sniff(head)
    if content_type not in allowed:
        accepted = ", ".join(KIND_LABELS[k] for k in kinds if k in KIND_LABELS)
        raise AttachmentRefused(f"Accepted here: {accepted}.")
    return content_type
