"""Dashboard forms of the chat app: conversation filters, a widget's bot settings, its
automations and the playground question. Preconditions: the tenant's schema is active."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q

from billing.plans import Plan, plan_get, plan_upgrade_for_feature
from knowledge.models import KnowledgeBase
from saas.crypto import secret_encrypt, secret_hint
from saas.outbound import UnsafeAddress, url_host_check
from widget_builder.models import Widget

from .attachments import KIND_LABELS
from .automations import pattern_error
from .models import AutomationRule, BotSettings, Conversation, Message
from .services import MAX_MESSAGE_CHARS


class ConversationFilterForm(forms.Form):
    status = forms.ChoiceField(
        label="Status", required=False, choices=[("", "Any status"), *Conversation.Status.choices]
    )
    widget = forms.ModelChoiceField(
        label="Widget", required=False, queryset=Widget.objects.none(), empty_label="All widgets"
    )
    thumbs_down = forms.BooleanField(label="Thumbs down only", required=False)
    q = forms.CharField(label="Contact name or email", required=False, max_length=200)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["widget"].queryset = Widget.objects.order_by("name", "id")

    def filtered(self, conversations):
        """``conversations`` narrowed by the valid filters (invalid ones are ignored)."""
        if not self.is_valid():
            return conversations
        data = self.cleaned_data
        if data.get("status"):
            conversations = conversations.filter(status=data["status"])
        if data.get("widget"):
            conversations = conversations.filter(widget=data["widget"])
        if data.get("thumbs_down"):
            conversations = conversations.filter(
                Exists(Message.objects.filter(conversation=OuterRef("pk"), feedback_rating=-1))
            )
        if query := (data.get("q") or "").strip():
            conversations = conversations.filter(
                Q(contact__name__icontains=query) | Q(contact__email__icontains=query)
            )
        return conversations


KNOWLEDGE_CHOICES = [
    ("True", "Only from the knowledge base"),
    ("False", "May use general knowledge"),
]
OWN_KEY_PROVIDERS = {BotSettings.Provider.ANTHROPIC, BotSettings.Provider.OPENAI}


class BotSettingsForm(forms.ModelForm):
    """The bot of one widget. The API key is write-only: never rendered back, blank keeps
    the stored one, and only its hint is shown."""

    base_url = forms.URLField(
        label="Server address",
        required=False,
        max_length=300,
        assume_scheme="https",
        help_text="OpenAI-compatible servers only, e.g. https://llm.example.com/v1. "
        "It must be reachable on the public internet.",
    )
    api_key = forms.CharField(
        label="API key",
        required=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Stored encrypted and never shown again. Leave blank to keep the stored key.",
    )
    remove_key = forms.BooleanField(label="Remove the stored key", required=False)
    knowledge_only = forms.TypedChoiceField(
        label="Where answers come from",
        choices=KNOWLEDGE_CHOICES,
        coerce=lambda value: value == "True",
        widget=forms.RadioSelect,
    )
    knowledge_bases = forms.ModelMultipleChoiceField(
        label="Knowledge bases",
        required=False,
        queryset=KnowledgeBase.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: all of this workspace's knowledge bases.",
    )
    attachment_kinds = forms.MultipleChoiceField(
        label="Visitors may attach",
        required=False,
        choices=list(KIND_LABELS.items()),
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: no attachments.",
    )

    class Meta:
        model = BotSettings
        fields = [
            "provider",
            "model",
            "base_url",
            "key_source",
            "temperature",
            "max_answer_tokens",
            "persona",
            "language",
            "knowledge_only",
            "no_answer_text",
            "unavailable_text",
            "offer_handoff",
            "knowledge_bases",
            "attachment_max_mb",
        ]
        labels = {
            "model": "Model",
            "key_source": "Key",
            "max_answer_tokens": "Longest answer (tokens)",
            "no_answer_text": "When the knowledge base has no answer",
            "unavailable_text": "When the AI is unavailable",
            "offer_handoff": "Offer a person when there is no good answer",
            "attachment_max_mb": "Largest attachment (MB)",
        }
        help_texts = {
            "model": "Blank: the provider's default model.",
            "temperature": "0 (always the same wording) to 1 (more varied).",
        }
        widgets = {
            "persona": forms.Textarea(attrs={"rows": 4}),
            "temperature": forms.NumberInput(attrs={"step": "0.05", "min": "0", "max": "1"}),
            "max_answer_tokens": forms.NumberInput(attrs={"min": "50", "max": "4000"}),
            "attachment_max_mb": forms.NumberInput(attrs={"min": "1", "max": "20"}),
        }

    def __init__(self, *args, plan: Plan | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.plan = plan or plan_get(None)
        self.fields["knowledge_bases"].queryset = KnowledgeBase.objects.order_by("name", "id")
        self.fields["attachment_kinds"].initial = list(self.instance.attachment_kinds or [])
        # A stored key belongs to the endpoint it was given for: it is never sent elsewhere.
        self._endpoint = (self.instance.provider, self.instance.base_url)

    def _endpoint_changed(self, data) -> bool:
        return (data.get("provider"), data.get("base_url") or "") != self._endpoint

    def clean(self):
        data = super().clean()
        provider, key_source = data.get("provider"), data.get("key_source")
        if provider == BotSettings.Provider.OPENAI_COMPATIBLE:
            base_url = data.get("base_url") or ""
            if not base_url and "base_url" not in self.errors:
                self.add_error("base_url", "Enter the address of your OpenAI-compatible server.")
            elif base_url:
                try:
                    url_host_check(base_url, allow_private=settings.LLM_ALLOW_PRIVATE_BASE_URLS)
                except UnsafeAddress as exc:
                    self.add_error("base_url", str(exc))
        own = provider == BotSettings.Provider.OPENAI_COMPATIBLE or (
            provider in OWN_KEY_PROVIDERS and key_source == BotSettings.KeySource.OWN
        )
        if own and not self.plan.own_llm_key:
            upgrade = plan_upgrade_for_feature("own_llm_key")
            self.add_error(
                "provider" if provider == BotSettings.Provider.OPENAI_COMPATIBLE else "key_source",
                f"Your own API key or server needs the {upgrade.name} plan or higher "
                f"(this workspace is on {self.plan.name}).",
            )
        new_key = data.get("api_key") or ""
        keeps_key = (
            bool(self.instance.api_key_encrypted)
            and not data.get("remove_key")
            and not self._endpoint_changed(data)
        )
        if (
            provider in OWN_KEY_PROVIDERS
            and key_source == BotSettings.KeySource.OWN
            and not new_key
            and not keeps_key
        ):
            self.add_error("api_key", "Paste your API key, or use the platform key.")
        return data

    @transaction.atomic
    def save(self, commit: bool = True) -> BotSettings:
        bot = super().save(commit=False)
        bot.attachment_kinds = [k for k in KIND_LABELS if k in self.cleaned_data.get("attachment_kinds", [])]
        new_key = self.cleaned_data.get("api_key") or ""
        if new_key:
            bot.api_key_encrypted, bot.api_key_hint = secret_encrypt(new_key), secret_hint(new_key)
        elif self.cleaned_data.get("remove_key") or self._endpoint_changed(self.cleaned_data):
            bot.api_key_encrypted, bot.api_key_hint = "", ""
        bot.save()
        self.save_m2m()
        return bot


class AutomationRuleForm(forms.ModelForm):
    class Meta:
        model = AutomationRule
        fields = ["kind", "name", "pattern", "reply", "replaces_answer", "position", "is_enabled"]
        labels = {
            "pattern": "Keywords or expression",
            "replaces_answer": "Answer with this reply instead of the AI",
            "is_enabled": "Enabled",
        }
        help_texts = {
            "pattern": "Keywords: separated by commas. Regular expression: matched case-insensitively. "
            "Not used by the greeting and the offline reply.",
            "replaces_answer": "Off: the reply is sent first, then the AI answers too.",
            "position": "Lower numbers are tried first.",
        }
        widgets = {"reply": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, widget: Widget, **kwargs):
        super().__init__(*args, **kwargs)
        self.widget = widget

    def clean(self):
        data = super().clean()
        if "kind" in data:
            error = pattern_error(data["kind"], data.get("pattern") or "")
            if error:
                self.add_error("pattern", error)
        return data

    def save(self, commit: bool = True) -> AutomationRule:
        rule = super().save(commit=False)
        rule.widget = self.widget
        rule.save()
        return rule


class PlaygroundForm(forms.Form):
    question = forms.CharField(
        label="Question",
        max_length=MAX_MESSAGE_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Asked with this widget's bot settings and knowledge, as a visitor would.",
    )
