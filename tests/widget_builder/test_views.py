"""widget_builder.views, the widget builder in the dashboard: draft, validation, publish,
snippet, secrets, roles."""

from __future__ import annotations

import json
from datetime import UTC

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from tests.hosts import PUBLIC_HOST
from tests.tenants.factories import MembershipFactory, UserFactory
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(tenant_a):
    client = Client(HTTP_HOST=tenant_a.host)
    client.force_login(tenant_a.owner)
    return client


def _widget(tenant) -> Widget:
    with tenant_context(tenant.tenant):
        return Widget.objects.order_by("id").first()


def _form(widget, **changes) -> dict:
    data = {
        "name": widget.name,
        "bot_name": "Sunny",
        "greeting": "Hello there!",
        "primary_color": "#1f4fd1",
        "text_color": "#ffffff",
        "position": "left",
        "prechat_enabled": "",
        "consent_text": "",
        "consent_url": "",
        "offset_x": "20",
        "offset_y": "24",
        "theme": "auto",
        "launcher_icon": "help",
        "locale": "de",
        "custom_css": ".panel{border-radius:4px}",
        "show_branding": "on",
        "offline_message": "Back soon.",
        "suggested_questions_text": "Do you ship abroad?\nWhat does it cost?",
        "business_hours_json": "",
        "allowed_origins_text": "https://shop.example.com\nhttps://*.example.org",
        "prechat_fields_json": json.dumps([{"kind": "email", "label": "Email", "required": True}]),
    }
    data.update(changes)
    return data


def test_save_draft_then_publish(owner, tenant_a, client):
    widget = _widget(tenant_a)
    url = f"/dashboard/widgets/{widget.pk}/"
    assert owner.get(url).status_code == 200
    assert owner.post(url, _form(widget)).status_code == 302
    with tenant_context(tenant_a.tenant):
        saved = Widget.objects.get(pk=widget.pk)
    assert saved.bot_name == "Sunny" and saved.customized_at is not None
    assert saved.allowed_origins == ["https://*.example.org", "https://shop.example.com"]
    assert saved.published_config["bot_name"] != "Sunny"  # a draft is not served

    owner.post(url, {**_form(widget), "publish": "1"})
    config = client.get(
        f"/api/widget/v1/{widget.key}/config", HTTP_HOST=PUBLIC_HOST, HTTP_ORIGIN="https://shop.example.com"
    ).json()
    assert config["bot_name"] == "Sunny" and config["position"] == "left"
    assert (
        config["launcher_icon"] == "help"
        and config["locale"] == "de"
        and config["offset"] == {"x": 20, "y": 24}
    )
    assert config["suggested_questions"] == ["Do you ship abroad?", "What does it cost?"]
    assert config["open_now"] is True and config["branding"] is True
    assert config["prechat"]["fields"][0]["kind"] == "email"


@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({"text_color": "#eeeeee", "primary_color": "#ffffff"}, "text_color", "contrast"),
        ({"primary_color": "blue"}, "primary_color", "#2d5bd7"),
        ({"prechat_fields_json": "[{"}, "prechat_fields_json", "not valid JSON"),
        (
            {"prechat_fields_json": '[{"kind": "teleport", "label": "x"}]'},
            "prechat_fields_json",
            "Choose name",
        ),
        ({"allowed_origins_text": "ftp://nope.example"}, "allowed_origins_text", "not an origin"),
        ({"show_branding": ""}, "show_branding", "Pro plan"),
        ({"suggested_questions_text": "a\nb\nc\nd\ne"}, "suggested_questions_text", "up to 4"),
        ({"business_hours_json": '{"tz": "Mars/Olympus", "days": {}}'}, "business_hours_json", "time zone"),
        (
            {"business_hours_json": '{"tz": "UTC", "days": {"mon": [["18:00", "09:00"]]}}'},
            "business_hours_json",
            "start before end",
        ),
        ({"offset_x": "900"}, "offset_x", "less than or equal to 200"),
    ],
)
def test_invalid_settings_show_inline_errors_and_save_nothing(owner, tenant_a, changes, field, fragment):
    widget = _widget(tenant_a)
    response = owner.post(f"/dashboard/widgets/{widget.pk}/", _form(widget, **changes))
    assert response.status_code == 200
    assert fragment in " ".join(response.context["form"].errors.get(field, [])), response.context[
        "form"
    ].errors
    with tenant_context(tenant_a.tenant):
        assert Widget.objects.get(pk=widget.pk).bot_name == widget.bot_name


def test_one_save_reports_every_mistake_at_once(owner, tenant_a):
    widget = _widget(tenant_a)
    changes = {"primary_color": "#zzz", "allowed_origins_text": "not a url"}
    response = owner.post(f"/dashboard/widgets/{widget.pk}/", _form(widget, **changes))
    errors = response.context["form"].errors
    assert "primary_color" in errors and "not a url" in " ".join(errors["allowed_origins_text"])
    # the page does not claim the widget is published as it stands in the form
    assert response.context["status"] == "Not saved"
    # the "any website" notice follows the form (hidden once a domain is listed)
    assert '<div id="any-origin-notice">' in response.content.decode()


def test_snippet_copy_ticks_the_onboarding_step(owner, tenant_a):
    widget = _widget(tenant_a)
    page = owner.get(f"/dashboard/widgets/{widget.pk}/")
    assert f'data-widget="{widget.key}"' in page.content.decode()
    assert owner.post(f"/dashboard/widgets/{widget.pk}/copied").status_code == 200
    steps = {s.key: done for s, done in owner.get("/dashboard/").context["checklist"]}
    assert steps["copy_snippet"] is True


def test_rotating_the_identity_secret(owner, tenant_a):
    widget = _widget(tenant_a)
    owner.post(f"/dashboard/widgets/{widget.pk}/rotate-secret")
    with tenant_context(tenant_a.tenant):
        assert Widget.objects.get(pk=widget.pk).identity_secret != widget.identity_secret


def test_agents_see_widgets_but_cannot_edit(tenant_a):
    agent = UserFactory(email="agent-w@example.com")
    MembershipFactory(tenant=tenant_a.tenant, user=agent, role="agent")
    client = Client(HTTP_HOST=tenant_a.host)
    client.force_login(agent)
    widget = _widget(tenant_a)
    assert client.get("/dashboard/widgets/").status_code == 200
    assert client.get(f"/dashboard/widgets/{widget.pk}/").status_code == 403
    assert client.post(f"/dashboard/widgets/{widget.pk}/rotate-secret").status_code == 403


def test_blank_test_page_embeds_the_widget(client, tenant_a):
    from widget_builder.services import widget_allowed_origins_set

    widget = _widget(tenant_a)
    with tenant_context(tenant_a.tenant):
        widget_allowed_origins_set(widget=widget, origins=["https://only.example.com"])
    page = client.get(f"/w/v1/test/{widget.key}/", HTTP_HOST=PUBLIC_HOST)
    assert page.status_code == 200 and f'data-widget="{widget.key}"' in page.content.decode()
    same_origin = client.get(
        f"/api/widget/v1/{widget.key}/config", HTTP_HOST=PUBLIC_HOST, HTTP_ORIGIN="http://saas.test"
    )
    assert same_origin.status_code == 200  # our own host may always run the widget
    elsewhere = client.get(
        f"/api/widget/v1/{widget.key}/config", HTTP_HOST=PUBLIC_HOST, HTTP_ORIGIN="https://other.example.com"
    )
    assert elsewhere.status_code == 403


def test_branding_can_be_removed_on_plans_that_allow_it(owner, tenant_a):
    from tenants.models import Tenant

    Tenant.objects.filter(pk=tenant_a.tenant.pk).update(plan="pro")
    widget = _widget(tenant_a)
    assert (
        owner.post(
            f"/dashboard/widgets/{widget.pk}/", {**_form(widget), "show_branding": "", "publish": "1"}
        ).status_code
        == 302
    )
    with tenant_context(tenant_a.tenant):
        assert Widget.objects.get(pk=widget.pk).published_config["branding"] is False


def test_open_now_follows_business_hours():
    from datetime import datetime

    from widget_builder.hours import is_open

    hours = {"tz": "Europe/Berlin", "days": {"mon": [["09:00", "17:00"]]}}
    monday_10_berlin = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 10:00 in Berlin
    monday_18_berlin = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
    sunday = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    assert (
        is_open(hours, monday_10_berlin)
        and not is_open(hours, monday_18_berlin)
        and not is_open(hours, sunday)
    )
    assert is_open({}, sunday)


def test_new_widgets_are_capped_by_the_plan(owner, tenant_a):
    from tenants.models import Tenant, WidgetRoute
    from tenants.selectors import tenant_routes_cache_forget

    # at the limit the list offers no creation form, and says why
    listing = owner.get("/dashboard/widgets/").content.decode()
    assert "The Free plan includes 1 widget, and this workspace has 1" in listing
    assert 'action="/dashboard/widgets/new"' not in listing
    response = owner.post("/dashboard/widgets/new", {"name": "Second"})  # free plan: 1 widget
    assert response["Location"] == "/dashboard/widgets/"
    page = owner.get("/dashboard/widgets/")
    assert b"includes 1 widget" in page.content
    with tenant_context(tenant_a.tenant):
        assert Widget.objects.count() == 1

    Tenant.objects.filter(pk=tenant_a.tenant.pk).update(plan="starter")
    created = owner.post("/dashboard/widgets/new", {"name": "Second"})
    with tenant_context(tenant_a.tenant):
        second = Widget.objects.get(name="Second")
    assert created["Location"] == f"/dashboard/widgets/{second.pk}/"
    assert WidgetRoute.objects.filter(key=second.key, tenant=tenant_a.tenant).exists()
    assert second.published_at is not None
    assert second.locale == "en"  # the workspace's default language (Settings)

    Tenant.objects.filter(pk=tenant_a.tenant.pk).update(language="fr", plan="pro")
    tenant_routes_cache_forget(tenant_a.tenant)  # as the settings service does
    owner.post("/dashboard/widgets/new", {"name": "Third"})
    with tenant_context(tenant_a.tenant):
        assert Widget.objects.get(name="Third").locale == "fr"


PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def test_avatar_upload_is_checked_by_content_and_published_inline(owner, tenant_a, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    widget = _widget(tenant_a)
    url = f"/dashboard/widgets/{widget.pk}/"
    svg = SimpleUploadedFile("avatar.png", b"<svg onload=alert(1)></svg>", content_type="image/png")
    refused = owner.post(url, {**_form(widget), "avatar_upload": svg})
    assert refused.status_code == 200 and "PNG, JPEG" in " ".join(
        refused.context["form"].errors["avatar_upload"]
    )
    big = SimpleUploadedFile("big.png", PNG_1PX + b"0" * 200_000, content_type="image/png")
    assert "at most 100 KB" in " ".join(
        owner.post(url, {**_form(widget), "avatar_upload": big}).context["form"].errors["avatar_upload"]
    )

    png = SimpleUploadedFile(
        "face.jpg", PNG_1PX, content_type="image/jpeg"
    )  # the name lies; the bytes decide
    assert owner.post(url, {**_form(widget), "avatar_upload": png, "publish": "1"}).status_code == 302
    config = client.get(
        f"/api/widget/v1/{widget.key}/config", HTTP_HOST=PUBLIC_HOST, HTTP_ORIGIN="https://shop.example.com"
    ).json()
    assert config["avatar"].startswith("data:image/png;base64,")


def test_editing_the_consent_text_in_the_builder_starts_a_new_consent_version(owner, tenant_a):
    widget = _widget(tenant_a)
    url = f"/dashboard/widgets/{widget.pk}/"
    owner.post(url, _form(widget, consent_text="I agree to be contacted."))
    with tenant_context(tenant_a.tenant):
        first = Widget.objects.get(pk=widget.pk).consent_version
    owner.post(url, _form(widget, consent_text="I agree to be contacted by email."))
    owner.post(url, _form(widget, consent_text="I agree to be contacted by email."))  # unchanged
    with tenant_context(tenant_a.tenant):
        stored = Widget.objects.get(pk=widget.pk)
    assert stored.consent_text == "I agree to be contacted by email."
    assert stored.consent_version == first + 1


def test_editor_errors_name_their_row(owner, tenant_a):
    widget = _widget(tenant_a)
    fields = [
        {"kind": "email", "label": "Email"},
        {"key": "plan", "kind": "select", "label": "Plan", "options": []},
    ]
    response = owner.post(
        f"/dashboard/widgets/{widget.pk}/",
        _form(
            widget,
            prechat_fields_json=json.dumps(fields),
            business_hours_json='{"tz": "UTC", "days": {"tue": [["10:00", "09:00"]]}}',
            suggested_questions_text="Fine\n" + "x" * 130,
        ),
    )
    form = response.context["form"]
    assert form.row_errors["prechat_fields"] == {
        "1": [
            {
                "code": "invalid_options",
                "message": "A choice list needs 1 to 50 options of up to 200 characters.",
            }
        ]
    }
    assert "Field 2: A choice list needs" in form.errors["prechat_fields_json"][0]
    assert list(form.row_errors["business_hours"]) == ["tue"]
    assert "start before end" in form.row_errors["business_hours"]["tue"][0]["message"]
    assert form.errors["business_hours_json"][0].startswith("Tuesday: ")
    assert list(form.row_errors["suggested_questions"]) == ["1"]
    # the page hands them to the editors, and says nothing was saved
    page = response.content.decode()
    assert 'id="builder-errors"' in page and "invalid_options" in page
    assert "Nothing was saved" in page


def test_contrast_verdict_matches_the_server_rule():
    from widget_builder.forms import contrast_verdict

    assert contrast_verdict("#2d5bd7", "#ffffff") == {
        "ratio": "5.8:1",
        "level": "AA",
        "tone": "success",
        "ok": True,
    }
    assert contrast_verdict("#000000", "#ffffff")["level"] == "AAA"
    assert contrast_verdict("#ffff00", "#ffffff") == {
        "ratio": "1.0:1",
        "level": "too low for text",
        "tone": "danger",
        "ok": False,
    }
    assert contrast_verdict("blue", "#ffffff") is None


def test_builder_page_shows_the_verdict_tabs_and_the_embed_card(owner, tenant_a):
    widget = _widget(tenant_a)
    page = owner.get(f"/dashboard/widgets/{widget.pk}/").content.decode()
    assert "5.8:1" in page and 'id="embed"' in page and 'id="preview-stage"' in page
    assert f'href="/dashboard/widgets/{widget.pk}/" aria-current="page"' in page
    assert 'data-confirm="Rotate the identity secret?' in page
    assert f'data-copied-url="/dashboard/widgets/{widget.pk}/copied"' in page


def test_widget_list_shows_each_widgets_status(owner, tenant_a):
    widget = _widget(tenant_a)
    assert "Published" in owner.get("/dashboard/widgets/").content.decode()
    owner.post(f"/dashboard/widgets/{widget.pk}/", _form(widget))  # a draft
    listing = owner.get("/dashboard/widgets/").content.decode()
    assert "Unpublished changes" in listing and "https://shop.example.com" in listing
    owner.post(f"/dashboard/widgets/{widget.pk}/", {**_form(widget), "publish": "1"})
    listing = owner.get("/dashboard/widgets/").content.decode()
    assert "Unpublished changes" not in listing and "badge-success" in listing
