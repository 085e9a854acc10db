"""chat.services.bot_settings: the rules the dashboard form and the REST API share (plan,
public server address, a key where one is needed, the key-wipe rule), the encrypted key
and its hint, knowledge bases and attachment kinds, and the cached snapshot forgotten on
commit."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django_tenants.utils import tenant_context

from billing.plans import plan_get
from chat.forms import BotSettingsForm
from chat.models import BotSettings
from chat.selectors import _snapshot_key, bot_snapshot
from chat.services import bot_settings_update
from saas.crypto import secret_decrypt, secret_encrypt
from saas.errors import ValidationFailed
from tests.chat.visitors import make_visitor
from tests.knowledge.factories import KnowledgeBaseFactory
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db

FREE, STARTER = plan_get("free"), plan_get("starter")
KEY, OTHER_KEY = "sk-own-key-1234", "sk-new-key-5678"
SERVER = "http://127.0.0.1:11434/v1"


@pytest.fixture
def widget(tenant_a, settings):
    settings.LLM_ALLOW_PRIVATE_BASE_URLS = True  # a local server stands for a tenant's own
    with tenant_context(tenant_a.tenant):
        yield Widget.objects.order_by("id").first()


def refused(**kwargs) -> dict:
    with pytest.raises(ValidationFailed) as error:
        bot_settings_update(**kwargs)
    assert error.value.status == 422 and error.value.code == "validation_error"
    return error.value.errors


def stored(widget) -> BotSettings:
    return BotSettings.objects.get(widget=widget)


# --- the rules ---------------------------------------------------------------------------


def test_own_keys_and_servers_need_a_plan_that_allows_them(widget):
    errors = refused(widget=widget, plan=FREE, provider="anthropic", key_source="own", api_key=KEY)
    assert errors == {
        "key_source": [
            {
                "code": "plan_upgrade_required",
                "message": "Your own API key or server needs the Starter plan or higher "
                "(this workspace is on Free).",
            }
        ]
    }
    errors = refused(widget=widget, plan=FREE, provider="openai_compatible", base_url=SERVER)
    assert [e["code"] for e in errors["provider"]] == ["plan_upgrade_required"]
    assert not BotSettings.objects.filter(widget=widget).exists()  # nothing stored, not even the row

    bot = bot_settings_update(
        widget=widget, plan=STARTER, provider="anthropic", key_source="own", api_key=KEY
    )
    assert stored(widget).provider == "anthropic" and bot.key_source == "own"
    # The platform's key needs no particular plan.
    assert bot_settings_update(widget=widget, plan=FREE, provider="openai", key_source="platform")


def test_the_server_address_must_be_public_and_given(widget, settings):
    settings.LLM_ALLOW_PRIVATE_BASE_URLS = False
    for address in ("http://169.254.169.254/latest", "http://10.0.0.5/v1", "http://[::1]:8000/v1"):
        errors = refused(widget=widget, plan=STARTER, provider="openai_compatible", base_url=address)
        assert errors["base_url"] == [
            {"code": "unsafe_address", "message": "This address is not on the public internet."}
        ], address
    errors = refused(widget=widget, plan=STARTER, provider="openai_compatible", base_url="")
    assert [e["code"] for e in errors["base_url"]] == ["required"]
    errors = refused(widget=widget, plan=STARTER, provider="openai_compatible", base_url="llm.example/v1")
    assert [e["code"] for e in errors["base_url"]] == ["invalid"]  # the model's URL check, once
    errors = refused(widget=widget, plan=STARTER, provider="openai_compatible", base_url="ftp://8.8.8.8/")
    assert errors["base_url"] == [
        {"code": "unsafe_address", "message": "Use an http:// or https:// address."}
    ]
    assert not BotSettings.objects.filter(widget=widget).exists()

    settings.LLM_ALLOW_PRIVATE_BASE_URLS = True
    bot_settings_update(widget=widget, plan=STARTER, provider="openai_compatible", base_url=SERVER)
    assert stored(widget).base_url == SERVER


def test_an_own_key_is_required_where_one_is_used(widget):
    for provider in ("anthropic", "openai"):
        errors = refused(widget=widget, plan=STARTER, provider=provider, key_source="own")
        assert errors["api_key"] == [
            {"code": "required", "message": "Paste your API key, or use the platform key."}
        ]
    # An OpenAI-compatible server may need no key (a local Ollama).
    bot = bot_settings_update(widget=widget, plan=STARTER, provider="openai_compatible", base_url=SERVER)
    assert bot.api_key_encrypted == ""


def test_the_models_own_checks_are_field_errors(widget):
    errors = refused(
        widget=widget,
        plan=STARTER,
        provider="nonsense",
        temperature=3.0,
        max_answer_tokens=40,
        attachment_max_mb=21,
        attachment_kinds=["image", "exe"],
    )
    assert set(errors) == {
        "provider",
        "temperature",
        "max_answer_tokens",
        "attachment_max_mb",
        "attachment_kinds",
    }
    assert errors["attachment_kinds"] == [
        {"code": "invalid_choice", "message": "Unknown attachment kind: exe."}
    ]
    assert not BotSettings.objects.filter(widget=widget).exists()


# --- the key -----------------------------------------------------------------------------


def test_a_new_key_is_stored_encrypted_with_its_hint_and_kept_when_blank(widget):
    bot = bot_settings_update(widget=widget, plan=STARTER, provider="openai", key_source="own", api_key=KEY)
    row = stored(widget)
    assert KEY not in row.api_key_encrypted and secret_decrypt(row.api_key_encrypted) == KEY
    assert row.api_key_hint == bot.api_key_hint == "…1234"

    # Same endpoint, no key given: the stored key stays, whatever else changes.
    bot_settings_update(widget=widget, plan=STARTER, provider="openai", api_key="", persona="Be brief.")
    row = stored(widget)
    assert secret_decrypt(row.api_key_encrypted) == KEY and row.api_key_hint == "…1234"
    assert row.persona == "Be brief."


def test_a_new_key_replaces_the_stored_one(widget):
    bot_settings_update(widget=widget, plan=STARTER, provider="anthropic", key_source="own", api_key=KEY)
    bot_settings_update(widget=widget, plan=STARTER, api_key=f"  {OTHER_KEY} ")
    row = stored(widget)
    assert secret_decrypt(row.api_key_encrypted) == OTHER_KEY and row.api_key_hint == "…5678"


def test_a_stored_key_is_wiped_when_the_endpoint_changes(widget):
    bot_settings_update(widget=widget, plan=STARTER, provider="openai", key_source="own", api_key=KEY)
    bot = bot_settings_update(widget=widget, plan=STARTER, provider="openai_compatible", base_url=SERVER)
    assert bot.api_key_encrypted == "" and stored(widget).api_key_hint == ""

    # Another server address wipes it too; the same address written with a slash does not.
    bot_settings_update(widget=widget, plan=STARTER, api_key=KEY)
    bot_settings_update(widget=widget, plan=STARTER, base_url=SERVER + "/")
    assert secret_decrypt(stored(widget).api_key_encrypted) == KEY
    bot_settings_update(widget=widget, plan=STARTER, base_url="http://127.0.0.2:11434/v1")
    assert stored(widget).api_key_encrypted == ""

    # A new endpoint with its own new key keeps the new key.
    bot_settings_update(
        widget=widget, plan=STARTER, provider="anthropic", key_source="own", api_key=OTHER_KEY
    )
    assert secret_decrypt(stored(widget).api_key_encrypted) == OTHER_KEY


def test_remove_key_wipes_it_unless_an_own_key_is_still_needed(widget):
    bot_settings_update(widget=widget, plan=STARTER, provider="anthropic", key_source="own", api_key=KEY)
    errors = refused(widget=widget, plan=STARTER, remove_key=True)
    assert [e["code"] for e in errors["api_key"]] == ["required"]
    assert secret_decrypt(stored(widget).api_key_encrypted) == KEY  # refused: nothing changed

    bot_settings_update(widget=widget, plan=STARTER, key_source="platform", remove_key=True)
    row = stored(widget)
    assert row.api_key_encrypted == "" and row.api_key_hint == "" and row.key_source == "platform"


# --- knowledge bases, attachments, partial changes -----------------------------------------


def test_knowledge_bases_and_attachment_kinds(widget):
    handbook = KnowledgeBaseFactory(name="Handbook")
    faq = KnowledgeBaseFactory(name="FAQ")
    bot_settings_update(
        widget=widget, plan=FREE, knowledge_bases=[handbook, faq], attachment_kinds=["text", "image", "text"]
    )
    row = stored(widget)
    assert set(row.knowledge_bases.all()) == {handbook, faq}
    assert row.attachment_kinds == ["image", "text"]  # known order, no repeats

    bot_settings_update(widget=widget, plan=FREE, persona="Be brief.")  # None: left as stored
    row = stored(widget)
    assert set(row.knowledge_bases.all()) == {handbook, faq} and row.attachment_kinds == ["image", "text"]

    bot_settings_update(widget=widget, plan=FREE, knowledge_bases=[faq], attachment_kinds=["pdf"])
    row = stored(widget)
    assert list(row.knowledge_bases.all()) == [faq] and row.attachment_kinds == ["pdf"]

    bot_settings_update(widget=widget, plan=FREE, knowledge_bases=[], attachment_kinds=[])
    row = stored(widget)
    assert not row.knowledge_bases.exists() and row.attachment_kinds == []


def test_the_first_change_creates_the_row_with_the_defaults(widget):
    assert not BotSettings.objects.filter(widget=widget).exists()
    bot_settings_update(widget=widget, plan=FREE, no_answer_text="No idea yet.")
    row = stored(widget)
    defaults = BotSettings()
    assert row.no_answer_text == "No idea yet."
    for name in (
        "provider",
        "temperature",
        "max_answer_tokens",
        "persona",
        "knowledge_only",
        "offer_handoff",
    ):
        assert getattr(row, name) == getattr(defaults, name), name


def test_answers_see_the_change_once_it_commits(widget, django_capture_on_commit_callbacks):
    old = bot_snapshot(widget)
    assert old.bot.no_answer_text != "No idea yet."
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        bot_settings_update(widget=widget, plan=FREE, no_answer_text="No idea yet.")
        # A request that read the settings before the commit caches them again meanwhile.
        cache.set(_snapshot_key(widget.pk), old, 60)
    assert callbacks
    assert bot_snapshot(widget).bot.no_answer_text == "No idea yet."


@pytest.mark.usefixtures("own_keys_allowed")
def test_a_stored_key_is_never_sent_to_a_new_endpoint(tenant_a, fake_llm):
    visitor = make_visitor(tenant_a)
    bot = visitor.bot(
        provider="openai",
        key_source="own",
        api_key_encrypted=secret_encrypt("sk-owner-key-9999"),
        api_key_hint="…9999",
    )
    with tenant_context(tenant_a.tenant):
        form = BotSettingsForm(
            {
                **{
                    f: getattr(bot, f)
                    for f in ("model", "temperature", "max_answer_tokens", "persona", "language")
                },
                **{f: getattr(bot, f) for f in ("no_answer_text", "unavailable_text")},
                "provider": "openai_compatible",
                "base_url": fake_llm.url + "/v1",  # an admin's own server
                "key_source": "own",
                "knowledge_only": "True",
                "attachment_max_mb": 5,
            },
            instance=bot,
        )
        assert form.is_valid(), form.errors
        saved = bot_settings_update(widget=visitor.widget, plan=plan_get("free"), **form.cleaned_data)
    assert saved.api_key_encrypted == "" and saved.api_key_hint == ""
