"""widget_builder.services: the builder's draft stored in one transaction, from a fresh row
(widget_settings_update), the snippet copy recorded once, and the prechat form's
definition checked field by field."""

from __future__ import annotations

import dataclasses

import pytest
from django_tenants.utils import tenant_context

from saas.errors import ValidationFailed
from widget_builder.drafts import WidgetDraft
from widget_builder.models import Widget
from widget_builder.services import widget_prechat_set, widget_settings_update, widget_snippet_copied_record

pytestmark = pytest.mark.django_db

PNG = "data:image/png;base64,iVBORw0KGgo="


def _draft(**changes) -> WidgetDraft:
    values = {
        "name": "Support",
        "bot_name": "Sunny",
        "greeting": "Hello there!",
        "primary_color": "#1f4fd1",
        "text_color": "#ffffff",
        "position": "left",
        "offset_x": 20,
        "offset_y": 24,
        "theme": "dark",
        "launcher_icon": "help",
        "locale": "de",
        "custom_css": ".panel{border-radius:4px}",
        "show_branding": True,
        "offline_message": "Back soon.",
        "identity_enforced": False,
        "suggested_questions": ["Do you ship abroad?"],
        "business_hours": {"tz": "UTC", "days": {"mon": [["09:00", "17:00"]]}},
        "allowed_origins": ["https://shop.example.com"],
        "prechat_enabled": True,
        "prechat_fields": [{"kind": "email", "label": "Email", "required": True}],
        "consent_text": "I agree to be contacted.",
        "consent_url": "https://shop.example.com/privacy",
    }
    return WidgetDraft(**(values | changes))


@pytest.fixture
def widget(tenant_a):
    with tenant_context(tenant_a.tenant):
        yield Widget.objects.order_by("id").first()


def test_the_whole_draft_is_stored_and_not_published(widget):
    before = widget.published_config
    saved = widget_settings_update(widget=widget, draft=_draft(avatar=PNG))
    stored = Widget.objects.get(pk=widget.pk)
    assert (stored.name, stored.bot_name, stored.theme, stored.offset_y) == ("Support", "Sunny", "dark", 24)
    assert stored.suggested_questions == ["Do you ship abroad?"]
    assert stored.business_hours["days"] == {"mon": [["09:00", "17:00"]]}
    assert stored.allowed_origins == ["https://shop.example.com"]
    assert stored.prechat_enabled and stored.prechat_fields[0]["kind"] == "email"
    assert stored.consent_text == "I agree to be contacted." and stored.avatar == PNG
    assert stored.customized_at is not None and saved.customized_at == stored.customized_at
    assert stored.published_config == before  # a draft is not served


def test_publishing_serves_what_was_just_stored(widget):
    widget_settings_update(widget=widget, draft=_draft(bot_name="Published"), publish=True)
    stored = Widget.objects.get(pk=widget.pk)
    assert stored.published_config["bot_name"] == "Published"
    assert stored.published_config["prechat"]["consent"]["text"] == "I agree to be contacted."


def test_invalid_input_stores_nothing_at_all(widget):
    with pytest.raises(ValidationFailed) as refused:
        widget_settings_update(
            widget=widget, draft=_draft(allowed_origins=["ftp://nope.example"]), publish=True
        )
    assert "allowed_origins" in refused.value.errors
    stored = Widget.objects.get(pk=widget.pk)
    assert stored.bot_name == widget.bot_name and stored.customized_at is None
    assert stored.published_config == widget.published_config

    with pytest.raises(ValidationFailed):
        widget_settings_update(widget=widget, draft=_draft(prechat_fields=[{"kind": "teleport"}]))
    assert Widget.objects.get(pk=widget.pk).bot_name == widget.bot_name


def test_a_new_consent_text_starts_a_new_version_once(widget):
    first = widget_settings_update(widget=widget, draft=_draft()).consent_version
    # The caller's instance may hold the new text already (a form sets it while validating).
    widget.consent_text = "I agree, version two."
    second = widget_settings_update(widget=widget, draft=_draft(consent_text="I agree, version two."))
    again = widget_settings_update(widget=widget, draft=_draft(consent_text="I agree, version two."))
    assert second.consent_version == first + 1 and again.consent_version == second.consent_version


def test_only_the_draft_is_written_not_what_the_instance_holds(widget):
    secret = widget.identity_secret
    widget.identity_secret = "changed-in-memory-only"
    widget.published_config = {"bot_name": "not published"}
    widget_settings_update(widget=widget, draft=_draft())
    stored = Widget.objects.get(pk=widget.pk)
    assert stored.identity_secret == secret and stored.published_config != {"bot_name": "not published"}


def test_images_are_kept_replaced_or_removed(widget):
    widget_settings_update(widget=widget, draft=_draft(avatar=PNG, launcher_image=PNG))
    widget_settings_update(widget=widget, draft=_draft())  # no upload: both kept
    stored = Widget.objects.get(pk=widget.pk)
    assert (stored.avatar, stored.launcher_image) == (PNG, PNG)
    other = PNG.replace("=", "A=")
    widget_settings_update(widget=widget, draft=_draft(remove_images=True, avatar=other))
    stored = Widget.objects.get(pk=widget.pk)
    assert (stored.avatar, stored.launcher_image) == (other, "")


def test_the_snippet_copy_is_recorded_once(widget):
    assert widget_snippet_copied_record(widget_id=widget.pk) is True
    copied_at = Widget.objects.get(pk=widget.pk).snippet_copied_at
    assert copied_at is not None
    assert widget_snippet_copied_record(widget_id=widget.pk) is False
    assert Widget.objects.get(pk=widget.pk).snippet_copied_at == copied_at


def test_the_draft_names_every_field_the_builder_edits():
    from widget_builder.forms import WidgetSettingsForm

    drafted = {f.name for f in dataclasses.fields(WidgetDraft)}
    assert set(WidgetSettingsForm.Meta.fields) <= drafted


def test_bad_form_definitions_are_refused_per_field(tenant_a):
    with tenant_context(tenant_a.tenant), pytest.raises(ValidationFailed) as info:
        widget = Widget.objects.order_by("id").first()
        widget_prechat_set(
            widget=widget,
            enabled=True,
            fields=[
                {"kind": "email", "label": "Email"},
                {"kind": "teleport", "label": "?"},
                {"key": "plan", "kind": "select", "label": "Plan", "options": []},
                {"kind": "email", "label": "Email again"},
            ],
        )
    assert set(info.value.errors) == {"prechat_fields.1", "prechat_fields.2", "prechat_fields.3"}
