"""Dashboard forms of the chat app: conversation filters, a widget's bot settings, its
automations and the playground question. The forms shape input; the services
(``chat.services``) hold the rules and store, and their refusals are put back on the
fields (:meth:`ServiceForm.add_problem`). Preconditions: the tenant's schema is active."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.forms.models import model_to_dict

from knowledge.models import KnowledgeBase
from saas.errors import ProblemError
from widget_builder.models import Widget

from .attachments import KIND_LABELS
from .contacts import CONSENT_CHOICES, EMAIL_CHOICES, IDENTIFIED_CHOICES, ContactFilters
from .handoff_phrases import LANGUAGE_NAMES, LANGUAGES, SHIPPED, phrases_clean
from .inbox import DEFAULT_VIEW, InboxFilters
from .models import AgentProfile, AutomationRule, BotSettings, CannedReply, Conversation, InboxSettings
from .services import MAX_MESSAGE_CHARS


def _model_field(model: type[models.Model], name: str, **kwargs: Any) -> forms.Field:
    """The form field Django makes for the model's field (its type, choices, length)."""
    field = model._meta.get_field(name)
    made = field.formfield(**kwargs) if isinstance(field, models.Field) else None
    if made is None:  # a relation's reverse side, or a field with no form field
        raise ImproperlyConfigured(f"{model.__name__}.{name} makes no form field")
    return made


class ServiceForm(forms.Form):
    """A form whose input a service checks: its refusals go back on the form."""

    def add_problem(self, error: ProblemError) -> None:
        """Each field message of ``error`` on its field (on the form when the form has no
        such field), or its detail on the form when it names no field."""
        details: list[tuple[str | None, str]] = [
            (name, e["message"]) for name, errs in (error.errors or {}).items() for e in errs
        ]
        for name, message in details or [(None, error.detail)]:
            self.add_error(name if name in self.fields else None, message)


KNOWLEDGE_CHOICES = [
    ("True", "Only from the knowledge base"),
    ("False", "May use general knowledge"),
]
BOT_FIELDS = (
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
    "human_support",
    "knowledge_bases",
    "attachment_kinds",
    "attachment_max_mb",
    "files_as_context",
)


def _phrases_field(lang: str) -> forms.CharField:
    return forms.CharField(
        label=f"{LANGUAGE_NAMES[lang]} phrases",
        required=False,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "\n".join(SHIPPED[lang])}),
        help_text="One phrase per line. Empty: the built-in list (shown greyed).",
    )


class BotSettingsForm(ServiceForm):
    """The bot of one widget; ``cleaned_data`` is the keyword arguments of
    ``chat.services.bot_settings_update``. The API key is write-only: never rendered back,
    blank keeps the stored one, and only its hint is shown."""

    provider = _model_field(BotSettings, "provider")
    model = _model_field(
        BotSettings, "model", label="Model", help_text="Blank: the provider's default model."
    )
    base_url = forms.URLField(
        label="Server address",
        required=False,
        max_length=300,
        assume_scheme="https",
        help_text="OpenAI-compatible servers only, e.g. https://llm.example.com/v1. "
        "It must be reachable on the public internet.",
    )
    key_source = _model_field(BotSettings, "key_source", label="Key")
    api_key = forms.CharField(
        label="API key",
        required=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Stored encrypted and never shown again. Leave blank to keep the stored key.",
    )
    remove_key = forms.BooleanField(label="Remove the stored key", required=False)
    temperature = _model_field(
        BotSettings,
        "temperature",
        help_text="0 (always the same wording) to 1 (more varied).",
        widget=forms.NumberInput(attrs={"step": "0.05", "min": "0", "max": "1"}),
    )
    max_answer_tokens = _model_field(
        BotSettings,
        "max_answer_tokens",
        label="Longest answer (tokens)",
        widget=forms.NumberInput(attrs={"min": "50", "max": "4000"}),
    )
    persona = _model_field(BotSettings, "persona", widget=forms.Textarea(attrs={"rows": 4}))
    language = _model_field(BotSettings, "language")
    knowledge_only = forms.TypedChoiceField(
        label="Where answers come from",
        choices=KNOWLEDGE_CHOICES,
        coerce=lambda value: value == "True",
        widget=forms.RadioSelect,
    )
    no_answer_text = _model_field(
        BotSettings, "no_answer_text", label="When the knowledge base has no answer"
    )
    unavailable_text = _model_field(BotSettings, "unavailable_text", label="When the AI is unavailable")
    offer_handoff = _model_field(
        BotSettings, "offer_handoff", label="Offer a person when there is no good answer"
    )
    human_support = _model_field(
        BotSettings,
        "human_support",
        label="People answer on this widget",
        help_text="Visitors can ask for a person, with the widget's button or in words (the phrases "
        "below): the conversation then waits for your team. Off: the bot answers everything.",
    )
    handoff_phrases_en = _phrases_field("en")
    handoff_phrases_es = _phrases_field("es")
    handoff_phrases_fr = _phrases_field("fr")
    handoff_phrases_de = _phrases_field("de")
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
    attachment_max_mb = _model_field(
        BotSettings,
        "attachment_max_mb",
        label="Largest attachment (MB)",
        widget=forms.NumberInput(attrs={"min": "1", "max": "20"}),
    )
    files_as_context = _model_field(
        BotSettings,
        "files_as_context",
        label="The bot reads attached files",
        help_text="A visitor's CSV, JSON, text, Markdown or PDF file becomes context for that "
        "conversation only: the bot summarises it, answers from it and computes totals over its "
        "tables. Its content is sent to the AI provider. Needs text or PDF files accepted above.",
    )

    def __init__(self, data: Any = None, *, instance: BotSettings, **kwargs: Any) -> None:
        """``instance``: the stored bot (or the unsaved defaults), shown when ``data`` is None."""
        initial = model_to_dict(instance, fields=BOT_FIELDS)
        own = instance.handoff_phrases if isinstance(instance.handoff_phrases, dict) else {}
        initial |= {f"handoff_phrases_{lang}": "\n".join(own.get(lang) or []) for lang in LANGUAGES}
        super().__init__(data, initial=initial, **kwargs)
        self._knowledge_bases().queryset = KnowledgeBase.objects.order_by("name", "id")

    def phrase_fields(self) -> list[forms.BoundField]:
        """The phrase lists' fields, one per shipped language (the page lists them)."""
        return [self[f"handoff_phrases_{lang}"] for lang in LANGUAGES]

    def clean(self) -> dict[str, Any]:
        """The per-language lines become ``handoff_phrases`` (``{lang: [phrases]}``), each
        language's faults on its own field."""
        data = super().clean() or {}
        lists = {lang: data.pop(f"handoff_phrases_{lang}", "").splitlines() for lang in LANGUAGES}
        _, problems = phrases_clean(lists)
        for lang, message in problems.items():
            self.add_error(f"handoff_phrases_{lang}", message)
        data["handoff_phrases"] = lists
        return data

    def _knowledge_bases(self) -> forms.ModelMultipleChoiceField:
        return cast(forms.ModelMultipleChoiceField, self.fields["knowledge_bases"])

    def has_knowledge_bases(self) -> bool:
        """Whether there is any knowledge base to choose (else the page says how to add one)."""
        queryset = self._knowledge_bases().queryset  # set in __init__
        return queryset is not None and queryset.exists()


class AutomationRuleForm(ServiceForm):
    """A rule to add, or (``instance``) the rule being edited; ``cleaned_data`` is the
    keyword arguments of ``automation_rule_create`` (with the widget) and
    ``automation_rule_update`` (with the rule)."""

    kind = _model_field(AutomationRule, "kind")
    kind.choices = [("", "Choose a kind…"), *[c for c in kind.choices if c[0] != ""]]  # type: ignore[attr-defined]
    name = _model_field(AutomationRule, "name")
    pattern = _model_field(
        AutomationRule,
        "pattern",
        label="Keywords or expression",
        help_text="Keywords: separated by commas. Regular expression: matched case-insensitively. "
        "Not used by the greeting and the offline reply.",
    )
    reply = _model_field(AutomationRule, "reply", widget=forms.Textarea(attrs={"rows": 3}))
    replaces_answer = _model_field(
        AutomationRule,
        "replaces_answer",
        label="Answer with this reply instead of the AI",
        help_text="Off: the reply is sent first, then the AI answers too.",
    )
    position = _model_field(AutomationRule, "position", help_text="Lower numbers are tried first.")
    is_enabled = _model_field(AutomationRule, "is_enabled", label="Enabled")

    def __init__(self, data: Any = None, *, instance: AutomationRule | None = None, **kwargs: Any) -> None:
        initial = model_to_dict(instance, fields=list(self.base_fields)) if instance is not None else None
        super().__init__(data, initial=initial, **kwargs)


class PlaygroundForm(forms.Form):
    question = forms.CharField(
        label="Question",
        max_length=MAX_MESSAGE_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Asked with this widget's bot settings and knowledge, as a visitor would.",
    )


# --- the inbox ---------------------------------------------------------------------------


class _FilterForm(forms.Form):
    """A page's filters from the query string: what is valid, and how many are set."""

    FILTERS: tuple[str, ...] = ()

    def values(self) -> dict[str, Any]:
        """The valid fields' values (an invalid one is left out)."""
        self.is_valid()
        return {name: value for name, value in getattr(self, "cleaned_data", {}).items() if value}

    def active_filters(self) -> int:
        values = self.values()
        return sum(1 for name in self.FILTERS if values.get(name))


class InboxFilterForm(_FilterForm):
    """The inbox's view, filters and search (GET); a bad value is ignored, not an error."""

    view = forms.ChoiceField(label="View", required=False, choices=[])
    q = forms.CharField(label="Search messages, names and emails", required=False, max_length=200)
    widget = forms.ModelChoiceField(
        label="Widget", required=False, queryset=Widget.objects.none(), empty_label="All widgets"
    )
    status = forms.ChoiceField(
        label="Status",
        required=False,
        choices=[("", "Any status"), *[(k, str(v)) for k, v in Conversation.Status.choices]],
    )
    assignee = forms.ChoiceField(label="Assignee", required=False, choices=[])
    rating = forms.ChoiceField(
        label="Rating",
        required=False,
        choices=[
            ("", "Any rating"),
            ("rated", "Rated"),
            ("good", "Rated 4 or 5"),
            ("bad", "Rated 1 or 2"),
            ("thumbs_down", "An answer rated not helpful"),
        ],
    )
    date_from = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    FILTERS = ("widget", "status", "assignee", "rating", "date_from", "date_to")

    def __init__(
        self, *args: Any, views: list[tuple[str, str]], members: list[tuple[int, str]], **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["view"]).choices = views
        cast(forms.ChoiceField, self.fields["assignee"]).choices = [
            ("", "Anyone"),
            ("me", "Me"),
            ("none", "Nobody"),
            *[(str(user_id), name) for user_id, name in members],
        ]
        cast(forms.ModelChoiceField, self.fields["widget"]).queryset = Widget.objects.order_by("name", "id")

    def inbox_filters(self) -> InboxFilters:
        """The valid values as the inbox's filters (the page's list and its CSV export)."""
        values = self.values()
        widget = values.get("widget")
        return InboxFilters(
            view=values.get("view") or DEFAULT_VIEW,
            widget_id=widget.pk if widget is not None else None,
            status=values.get("status", ""),
            assignee=values.get("assignee", ""),
            rating=values.get("rating", ""),
            date_from=values.get("date_from"),
            date_to=values.get("date_to"),
            q=values.get("q", ""),
        )


class ContactFilterForm(_FilterForm):
    """The Contacts page's search and filters (GET); a bad value is ignored, not an error."""

    q = forms.CharField(label="Search names, emails, phones and answers", required=False, max_length=200)
    widget = forms.ModelChoiceField(
        label="Widget", required=False, queryset=Widget.objects.none(), empty_label="All widgets"
    )
    consent = forms.ChoiceField(label="Consent", required=False, choices=CONSENT_CHOICES)
    identified = forms.ChoiceField(label="Identity", required=False, choices=IDENTIFIED_CHOICES)
    has_email = forms.ChoiceField(label="Email", required=False, choices=EMAIL_CHOICES)
    date_from = forms.DateField(
        label="First seen from", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    everyone = forms.BooleanField(label="Include visitors who never wrote", required=False)

    FILTERS = ("widget", "consent", "identified", "has_email", "date_from", "date_to", "everyone")

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["widget"]).queryset = Widget.objects.order_by("name", "id")

    def contact_filters(self) -> ContactFilters:
        values = self.values()
        widget = values.get("widget")
        return ContactFilters(
            q=values.get("q", ""),
            widget_id=widget.pk if widget is not None else None,
            consent=values.get("consent", ""),
            identified=values.get("identified", ""),
            has_email=values.get("has_email", ""),
            date_from=values.get("date_from"),
            date_to=values.get("date_to"),
            everyone=bool(values.get("everyone")),
        )


class ComposerForm(forms.Form):
    """An agent's reply or private note, with attachments (Markdown in replies and notes)."""

    kind = forms.ChoiceField(
        label="Send as",
        choices=[("reply", "Reply"), ("note", "Private note")],
        initial="reply",
        widget=forms.RadioSelect,
    )
    text = forms.CharField(
        label="Message",
        required=False,
        max_length=MAX_MESSAGE_CHARS,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Write a reply… Type / for canned replies"}),
    )
    client_message_id = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not (data.get("text") or "").strip() and not self.files.getlist("attachments"):
            self.add_error("text", "Write a message or attach a file.")
        if data.get("kind") == "note" and self.files.getlist("attachments"):
            self.add_error(None, "Private notes take no attachments: send the file as a reply.")
        return data


class AssignForm(forms.Form):
    assignee = forms.ChoiceField(label="Assign to", required=False, choices=[])

    def __init__(self, *args: Any, members: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["assignee"]).choices = [
            ("", "Nobody (unassigned)"),
            *[(str(user_id), name) for user_id, name in members],
        ]

    def assignee_user_id(self) -> int | None:
        value = self.cleaned_data.get("assignee") or ""
        return int(value) if value else None


class SnoozeForm(forms.Form):
    preset = forms.ChoiceField(
        label="Snooze",
        required=False,
        choices=[
            ("hour", "In 1 hour"),
            ("tomorrow", "Tomorrow"),
            ("week", "Next week"),
            ("custom", "Custom"),
        ],
    )
    until = forms.DateTimeField(
        label="Until",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


class CannedReplyForm(forms.ModelForm):
    class Meta:
        model = CannedReply
        fields = ("shortcut", "title", "text")
        labels = {"shortcut": "Shortcut", "title": "Title", "text": "Text"}
        help_texts = {
            "shortcut": "Type /shortcut in the composer. Letters, digits, - and _.",
            "text": (
                "Markdown. Variables: {{contact.name}}, {{contact.email}}, {{agent.name}},"
                " {{workspace.name}}."
            ),
        }
        widgets = {"text": forms.Textarea(attrs={"rows": 4})}


class InboxSettingsForm(forms.ModelForm):
    class Meta:
        model = InboxSettings
        fields = ("visibility", "auto_assign", "offline_policy", "availability")
        labels = {
            "visibility": "Who sees which conversations",
            "auto_assign": "Assign new handoffs automatically (round robin among online agents)",
            "offline_policy": "When an agent goes offline, their open conversations",
            "availability": "Visitors can reach a person",
        }
        widgets = {"visibility": forms.RadioSelect, "offline_policy": forms.RadioSelect}


class AgentSetupForm(forms.Form):
    """One member's row in the inbox settings: the widgets they serve and their capacity."""

    user_id = forms.IntegerField(widget=forms.HiddenInput)
    capacity = forms.IntegerField(label="Capacity", min_value=1, max_value=100)
    widgets = forms.ModelMultipleChoiceField(
        label="Widgets", required=False, queryset=Widget.objects.none(), widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelMultipleChoiceField, self.fields["widgets"]).queryset = Widget.objects.order_by(
            "name", "id"
        )


class AgentPreferencesForm(forms.ModelForm):
    class Meta:
        model = AgentProfile
        fields = (
            "away",
            "capacity",
            "accepts_auto_assign",
            "notify_sound",
            "notify_browser",
            "email_on_handoff",
            "email_on_assigned",
            "email_on_replies",
        )
        labels = {
            "away": "Away (no new conversations are assigned to you)",
            "capacity": "Conversations at once",
            "accepts_auto_assign": "Assign conversations to me automatically",
            "notify_sound": "Play a sound",
            "notify_browser": "Browser notifications",
            "email_on_handoff": "Email me when a visitor asks for a person and nobody is online",
            "email_on_assigned": "Email me when a conversation is assigned to me",
            "email_on_replies": "Email me visitors' replies while I am away",
        }
        help_texts = {"capacity": "Automatic assignment stops at this many open conversations."}
