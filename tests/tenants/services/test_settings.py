"""tenants.services.settings, directly and through the Settings page: name, time zone,
default language and logo (checked by content, drawn again as a small PNG), audited, the
routing cache forgotten, owners and admins only."""

from __future__ import annotations

import base64
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from saas.errors import ValidationFailed
from tenants.errors import RoleNotAllowed
from tenants.models import Membership, PlatformAuditEvent, Tenant
from tenants.selectors import tenant_resolve_host
from tenants.services.settings import LOGO_MAX_BYTES, tenant_settings_update
from tests.tenants.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def _image(fmt="PNG", size=(400, 200), color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format=fmt)
    return out.getvalue()


def _owner(tenant_a) -> Membership:
    return Membership.objects.get(tenant=tenant_a.tenant, user=tenant_a.owner)


def _update(tenant_a, by=None, **changes):
    values = {"name": "Acme Support", "time_zone": "Europe/Berlin", "language": "de", **changes}
    return tenant_settings_update(tenant=tenant_a.tenant, by=by or _owner(tenant_a), **values)


def _errors(refused) -> dict[str, list[str]]:
    return {field: [e["code"] for e in errs] for field, errs in refused.value.errors.items()}


def test_update_saves_audits_and_forgets_the_cached_tenant(tenant_a):
    assert tenant_resolve_host(tenant_a.host).name == "MARKER-A Company"  # cached now
    _update(tenant_a, logo=_image("JPEG"))
    tenant = Tenant.objects.get(pk=tenant_a.tenant.pk)
    assert (tenant.name, tenant.time_zone, tenant.language) == ("Acme Support", "Europe/Berlin", "de")
    assert tenant_resolve_host(tenant_a.host).name == "Acme Support"
    event = PlatformAuditEvent.objects.get(action="tenant.settings_update", target_id=str(tenant.pk))
    assert event.actor_email == tenant_a.owner.email
    assert event.metadata["changed"] == ["language", "logo", "name", "time_zone"]
    assert event.metadata["name"] == {"from": "MARKER-A Company", "to": "Acme Support"}
    assert event.metadata["logo"] == "replaced" and "base64" not in str(event.metadata)


def test_the_logo_is_drawn_again_as_a_small_png(tenant_a):
    _update(tenant_a, logo=_image("WEBP", size=(600, 300)))
    logo = Tenant.objects.get(pk=tenant_a.tenant.pk).logo
    assert logo.startswith("data:image/png;base64,")
    with Image.open(io.BytesIO(base64.b64decode(logo.split(",", 1)[1]))) as image:
        assert image.format == "PNG" and image.size == (128, 64)


def test_remove_logo_and_nothing_changed_records_nothing(tenant_a):
    _update(tenant_a, logo=_image())
    _update(tenant_a, remove_logo=True)
    assert Tenant.objects.get(pk=tenant_a.tenant.pk).logo == ""
    before = PlatformAuditEvent.objects.count()
    _update(tenant_a)  # the same values again
    assert PlatformAuditEvent.objects.count() == before


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"name": "   "}, {"name": ["required"]}),
        ({"name": "x" * 121}, {"name": ["too_long"]}),
        ({"time_zone": "Mars/Olympus"}, {"time_zone": ["invalid"]}),
        ({"time_zone": "../../etc/passwd"}, {"time_zone": ["invalid"]}),
        ({"language": "xx"}, {"language": ["invalid"]}),
        (
            {"logo": b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"},
            {"logo": ["invalid_image"]},
        ),
        ({"logo": b"GIF89a" + b"\0" * 40}, {"logo": ["invalid_image"]}),
        ({"logo": _image("GIF")}, {"logo": ["invalid_image"]}),
        ({"logo": b"\x89PNG\r\n\x1a\n" + b"\0" * (LOGO_MAX_BYTES + 1)}, {"logo": ["too_large"]}),
        ({"time_zone": "Nowhere", "language": "xx"}, {"time_zone": ["invalid"], "language": ["invalid"]}),
    ],
)
def test_per_field_errors_change_nothing(tenant_a, changes, errors):
    with pytest.raises(ValidationFailed) as refused:
        _update(tenant_a, **changes)
    assert _errors(refused) == errors
    assert Tenant.objects.get(pk=tenant_a.tenant.pk).name == "MARKER-A Company"


def test_agents_and_other_workspaces_members_are_refused(tenant_a, tenant_b):
    agent = MembershipFactory(tenant=tenant_a.tenant, role="agent")
    with pytest.raises(RoleNotAllowed):
        _update(tenant_a, by=agent)
    with pytest.raises(RoleNotAllowed):
        _update(tenant_a, by=Membership.objects.get(tenant=tenant_b.tenant, user=tenant_b.owner))
    admin = MembershipFactory(tenant=tenant_a.tenant, role="admin")
    _update(tenant_a, by=admin)
    assert Tenant.objects.get(pk=tenant_a.tenant.pk).name == "Acme Support"


# --- the page -------------------------------------------------------------------------------


def _client(tenant_a, role="owner") -> Client:
    user = tenant_a.owner if role == "owner" else MembershipFactory(tenant=tenant_a.tenant, role=role).user
    client = Client()
    client.force_login(user, host=tenant_a.host)
    return client


def _post(client, tenant_a, **data):
    values = {"name": "Acme Support", "time_zone": "America/New_York", "language": "fr", **data}
    return client.post("/dashboard/settings/", values, HTTP_HOST=tenant_a.host)


def test_the_page_saves_and_the_sidebar_shows_the_logo(tenant_a):
    client = _client(tenant_a)
    page = client.get("/dashboard/settings/", HTTP_HOST=tenant_a.host).content.decode()
    assert '<option value="Europe/Berlin">Europe / Berlin</option>' in page
    # the owner's export and deletion (privacy): both buttons, each posting to its own action
    assert 'action="/dashboard/settings/export"' in page and 'action="/dashboard/settings/delete"' in page
    logo = SimpleUploadedFile("logo.png", _image(), content_type="image/png")
    response = _post(client, tenant_a, logo=logo)
    assert response.status_code == 302 and response["Location"] == "/dashboard/settings/"
    page = client.get("/dashboard/settings/", HTTP_HOST=tenant_a.host).content.decode()
    assert "Workspace settings saved." in page
    assert '<img class="workspace-mark" src="data:image/png;base64,' in page
    assert "Acme Support" in page and 'value="America/New_York" selected' in page


def test_a_refused_form_keeps_what_was_typed_with_errors_on_the_fields(tenant_a):
    client = _client(tenant_a, "admin")
    bad = SimpleUploadedFile("logo.png", b"not an image at all", content_type="image/png")
    response = _post(client, tenant_a, name="Typed name", logo=bad)
    assert response.status_code == 422
    page = response.content.decode()
    assert "Use a PNG, JPEG or WebP image." in page and 'id="id_logo_errors"' in page
    assert 'value="Typed name"' in page and 'aria-invalid="true"' in page
    assert 'class="alert alert-error"' in page and "alert-success" not in page
    response = _post(client, tenant_a, time_zone="Mars/Olympus")
    assert response.status_code == 400 and "id_time_zone_errors" in response.content.decode()
    assert Tenant.objects.get(pk=tenant_a.tenant.pk).name == "MARKER-A Company"


def test_agents_cannot_open_or_post_settings(tenant_a):
    client = _client(tenant_a, "agent")
    assert client.get("/dashboard/settings/", HTTP_HOST=tenant_a.host).status_code == 403
    assert _post(client, tenant_a).status_code == 403
    assert Tenant.objects.get(pk=tenant_a.tenant.pk).name == "MARKER-A Company"


def test_a_logo_with_too_many_pixels_is_refused_before_it_is_decoded():
    from tenants.services.settings import logo_data_uri

    out = io.BytesIO()
    Image.new("L", (2100, 2100)).save(out, format="PNG", optimize=True)  # small file, 4.4 M pixels
    with pytest.raises(ValidationFailed) as refused:
        logo_data_uri(out.getvalue())
    assert refused.value.errors["logo"][0]["code"] == "too_large"
