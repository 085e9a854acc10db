"""Writes for a workspace's own settings (the dashboard's Settings section): its name, time
zone, default language and logo.

The logo is checked by its content (Pillow decodes it: PNG, JPEG or WebP; SVG and anything
else are refused), then drawn again as a PNG of at most 128 px: what is stored is pixels we
encoded, never the uploaded bytes (no metadata, nothing active). It is kept as a ``data:``
URI on the tenant (small: the app shell shows it on every page without another request).
"""

from __future__ import annotations

import base64
import functools
import io
import zoneinfo
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from PIL import Image, UnidentifiedImageError
from rest_framework.request import Request

from saas.errors import ValidationFailed

from ..context import in_public_schema
from ..errors import RoleNotAllowed
from ..models import Membership, Tenant
from ..selectors import tenant_routes_cache_forget
from ..signals import workspace_action_send
from .audit import audit_event_record

# The languages the widget speaks (widget_builder.models.Widget.locale, less "auto"): a new
# widget starts in the workspace's.
LANGUAGES: list[tuple[str, str]] = [
    ("en", "English"),
    ("es", "Español"),
    ("fr", "Français"),
    ("de", "Deutsch"),
]
LOGO_MAX_BYTES = 256 * 1024
LOGO_SIZE = 128  # px, the longer side
LOGO_MAX_PIXELS = 4_000_000  # refuse decompression bombs before decoding (2000 x 2000)
LOGO_FORMATS = {"PNG", "JPEG", "WEBP"}
MANAGERS = {Membership.Role.OWNER, Membership.Role.ADMIN}
NAME_MAX = 120


@functools.cache
def time_zone_choices() -> list[tuple[str, str]]:
    """Every IANA time zone this machine knows (``zoneinfo``), "Europe/Berlin" shown as
    "Europe / Berlin"; the legacy aliases without a region are left out but UTC."""
    names = sorted(
        n for n in zoneinfo.available_timezones() if "/" in n and not n.startswith(("Etc/", "SystemV/"))
    )
    return [("UTC", "UTC"), *[(n, n.replace("_", " ").replace("/", " / ")) for n in names]]


def _error(code: str, message: str) -> list[dict[str, str]]:
    return [{"code": code, "message": message}]


def logo_data_uri(data: bytes) -> str:
    """The image in ``data`` drawn again as a PNG of at most ``LOGO_SIZE`` px, as a data URI.
    Raises ValidationFailed (field ``logo``) for anything but a PNG, JPEG or WebP image."""
    if len(data) > LOGO_MAX_BYTES:
        raise ValidationFailed(
            errors={"logo": _error("too_large", f"Use an image of at most {LOGO_MAX_BYTES // 1024} KB.")}
        )
    refused = ValidationFailed(errors={"logo": _error("invalid_image", "Use a PNG, JPEG or WebP image.")})
    try:
        # Only the three formats' decoders are tried; the size is read from the header.
        with Image.open(io.BytesIO(data), formats=sorted(LOGO_FORMATS)) as image:
            if image.width * image.height > LOGO_MAX_PIXELS:
                raise ValidationFailed(
                    errors={"logo": _error("too_large", "This image has too many pixels.")}
                )
            # A JPEG decodes straight at a fraction of its size; then it shrinks before
            # any full-size copy in RGBA is made.
            image.draft("RGB", (LOGO_SIZE * 2, LOGO_SIZE * 2))
            image.thumbnail((LOGO_SIZE, LOGO_SIZE), Image.Resampling.LANCZOS)
            frame = image.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise refused from exc
    out = io.BytesIO()
    frame.save(out, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def _validated(*, name: str, time_zone: str, language: str, logo: bytes | None) -> dict[str, Any]:
    errors: dict[str, list[dict[str, str]]] = {}
    name = " ".join((name or "").split())
    if not name:
        errors["name"] = _error("required", "Give the workspace a name.")
    elif len(name) > NAME_MAX:
        errors["name"] = _error("too_long", f"Use at most {NAME_MAX} characters.")
    if time_zone not in dict(time_zone_choices()):
        errors["time_zone"] = _error("invalid", "Choose a time zone from the list.")
    if language not in dict(LANGUAGES):
        errors["language"] = _error("invalid", "Choose one of the languages the widget speaks.")
    values: dict[str, Any] = {"name": name, "time_zone": time_zone, "language": language}
    if logo is not None:
        try:
            values["logo"] = logo_data_uri(logo)
        except ValidationFailed as refused:
            errors.update(refused.errors or {})
    if errors:
        raise ValidationFailed("Some settings are not valid.", errors=errors)
    return values


@in_public_schema
def tenant_settings_update(
    *,
    tenant: Tenant,
    by: Membership,
    name: str,
    time_zone: str,
    language: str,
    logo: bytes | None = None,
    remove_logo: bool = False,
    ip: str | None = None,
    request: HttpRequest | Request | None = None,
) -> Tenant:
    """Change the workspace's settings. ``logo`` (the uploaded bytes) replaces the logo;
    ``remove_logo`` removes it (a new logo wins). Owners and admins only. Recorded in the
    platform audit log and the workspace's (``workspace.settings_changed``: which fields
    changed, old and new values, never the image), and every cached copy of
    the tenant is forgotten so the next page shows the change. Raises ValidationFailed
    with per-field errors, RoleNotAllowed.

    Locks the tenant's row; ``tenant`` is updated in place too (the page being answered
    shows the new values)."""
    if by.role not in MANAGERS or by.tenant_id != tenant.pk:
        raise RoleNotAllowed("Only owners and admins change the workspace's settings.")
    values = _validated(name=name, time_zone=time_zone, language=language, logo=logo)
    if logo is None and remove_logo:
        values["logo"] = ""
    with transaction.atomic():
        locked = Tenant.objects.select_for_update().get(pk=tenant.pk)
        changed = sorted(field for field, value in values.items() if getattr(locked, field) != value)
        if not changed:
            return locked
        metadata: dict[str, Any] = {"changed": changed}
        for field in ("name", "time_zone", "language"):
            if field in changed:
                metadata[field] = {"from": getattr(locked, field), "to": values[field]}
        if "logo" in changed:
            metadata["logo"] = "removed" if not values["logo"] else "replaced"
        for field in changed:
            setattr(locked, field, values[field])
            setattr(tenant, field, values[field])
        locked.save(update_fields=[*changed, "updated_at"])
        audit_event_record(
            actor=by.user, action="tenant.settings_update", target=locked, metadata=metadata, ip=ip
        )
        workspace_action_send(
            tenant=locked,
            action="workspace.settings_changed",
            request=request,
            actor=None if request is not None else by.user,
            target=locked,
            metadata=metadata,
        )
    tenant_routes_cache_forget(locked)  # the host routing cache holds the tenant object
    return locked
