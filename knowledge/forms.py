"""Dashboard forms of the knowledge pages: a knowledge base and its settings (with the
embedding model), and the four ways to add a source. The forms only shape the input and
check each field on its own; the services (``knowledge.services``) judge the rest (file
types by content, sizes, quotas, unsafe addresses, the language lock, which embedding
models work) and their refusals are put back on the form (:func:`add_problem`). Nothing
here writes. Preconditions: the tenant's schema is active."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError

from saas.errors import ProblemError

from .models import INDEXED_DIMENSIONS, KnowledgeBase, Source
from .relevance import default_min_relevance
from .services import LANGUAGE_LOCKED, OPENAI_DEFAULT_MODEL, RELEVANCE_RANGE, EmbeddingSettings

UPLOAD_ACCEPT = ".pdf,.docx,.txt,.md,.html,.htm,.csv,.json"
QA_BLANK_ROWS = 3


def add_problem(
    form: forms.BaseForm,
    error: ProblemError,
    *,
    default_field: str | None = None,
    others: Sequence[forms.BaseForm] = (),
) -> None:
    """Put a service's refusal on ``form``: each field message on its field when the form
    has it (or on the first of ``others``, forms shown with it, that has it), else on
    ``default_field``; the detail when there are no field messages."""
    details: list[tuple[str | None, str]] = [
        (name, e["message"]) for name, errs in (error.errors or {}).items() for e in errs
    ]
    if not details:
        details = [(default_field, error.detail)]
    for name, message in details:
        owner = next((f for f in (form, *others) if name in f.fields), form)
        owner.add_error(name if name in owner.fields else default_field, message)


class KnowledgeBaseForm(forms.ModelForm):
    """Create a knowledge base, or rename one (settings page: the knowledge base's values
    come as ``initial``, so the form never touches the stored object)."""

    class Meta:
        model = KnowledgeBase
        fields = ["name", "description", "language"]
        labels = {"language": "Language of the content"}
        help_texts = {
            "language": "Used for keyword search (stemming and stop words).",
            "description": "For your team; visitors never see it.",
        }
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args: Any, language_locked: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if language_locked:  # the service refuses another language too
            self.fields["language"].disabled = True
            self.fields["language"].help_text = LANGUAGE_LOCKED

    @classmethod
    def for_base(cls, kb: KnowledgeBase, data: Any = None, **kwargs: Any) -> KnowledgeBaseForm:
        initial = {"name": kb.name, "description": kb.description, "language": kb.language}
        return cls(data, initial=initial, **kwargs)


# --- adding sources ------------------------------------------------------------------------


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files: the ones refused (empty, no name...) are listed in ``refused`` as
    "name: reason" and the others kept; the field is invalid only when none is left."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": UPLOAD_ACCEPT}))
        super().__init__(*args, **kwargs)
        self.refused: list[str] = []

    def clean(self, data, initial=None):
        items = list(data) if isinstance(data, list | tuple) else [data] if data else []
        if not items:
            super().clean(None, initial)  # "required" is raised here
            return []
        kept, self.refused = [], []
        for item in items:
            try:
                kept.append(super().clean(item, initial))
            except ValidationError as error:
                name = getattr(item, "name", "") or "A file"
                self.refused += [f"{name}: {message}" for message in error.messages]
        if not kept:
            raise ValidationError(self.refused)
        return kept


class FileSourceForm(forms.Form):
    # The form's metaclass takes declared fields off the class: BaseForm.files stays.
    files = MultipleFileField(  # type: ignore[assignment]
        label="Files",
        help_text="PDF, Word (.docx), text, Markdown, HTML, CSV or JSON; up to 20 MB each. "
        "The type is read from the content, not the name.",
        error_messages={"required": "Choose at least one file."},
    )

    def refused_files(self) -> list[str]:
        """The files left out by cleaning, as "name: reason" (the others are kept)."""
        return list(cast(MultipleFileField, self.fields["files"]).refused)


URL_MODES = [
    (Source.Kind.URL, "This page only"),
    (Source.Kind.CRAWL, "Crawl the website (same site, following links)"),
    (Source.Kind.SITEMAP, "Pages listed in a sitemap"),
]


class UrlSourceForm(forms.Form):
    url = forms.URLField(
        label="Address",
        max_length=2000,
        assume_scheme="https",
        help_text="A page, the start page of a site, or a sitemap (e.g. https://example.com/sitemap.xml).",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/help"}),
    )
    kind = forms.ChoiceField(label="What to read", choices=URL_MODES, widget=forms.RadioSelect, initial="url")
    depth = forms.IntegerField(
        label="Link depth (crawl)",
        min_value=0,
        max_value=5,
        initial=2,
        help_text="0: the start page only; each step follows the links one page further.",
    )
    page_limit = forms.IntegerField(
        label="Most pages (crawl and sitemap)", min_value=1, max_value=5000, initial=50
    )
    schedule = forms.ChoiceField(
        label="Read it again",
        required=False,
        choices=Source.Schedule.choices,
        initial="",
        help_text="Re-syncing adds new pages, updates changed ones and removes pages that are gone.",
    )


class TextSourceForm(forms.Form):
    title = forms.CharField(label="Title", max_length=300)
    text = forms.CharField(label="Text", widget=forms.Textarea(attrs={"rows": 8}), max_length=1_000_000)


class QaSourceForm(forms.Form):
    """Q&A pairs posted as repeated ``question``/``answer`` fields (one row each; rows
    without both are dropped by the service)."""

    title = forms.CharField(label="Title", max_length=300, initial="Q&A")

    def __init__(self, data=None, *args, pairs: list[dict] | None = None, **kwargs):
        super().__init__(data, *args, **kwargs)
        if data is not None:
            questions = data.getlist(self.add_prefix("question"))
            answers = data.getlist(self.add_prefix("answer"))
            pairs = [
                {"question": q, "answer": a}
                for q, a in zip(questions, answers + [""] * (len(questions) - len(answers)), strict=False)
            ]
        self.pairs = list(pairs or [])

    def rows(self) -> list[dict]:
        """The rows to show: the pairs given, then blank ones to fill in."""
        filled = [p for p in self.pairs if p.get("question") or p.get("answer")]
        return filled + [{"question": "", "answer": ""}] * QA_BLANK_ROWS


# --- knowledge base settings -----------------------------------------------------------------


class RelevanceForm(forms.Form):
    """The similarity a passage needs to be given to the bot (knowledge.relevance); blank:
    the calibrated default of the knowledge base's embedding model."""

    min_relevance = forms.FloatField(
        label="Minimum relevance",
        required=False,
        min_value=0.0,
        max_value=1.0,
        error_messages={
            "invalid": RELEVANCE_RANGE,
            "min_value": RELEVANCE_RANGE,
            "max_value": RELEVANCE_RANGE,
        },
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "max": "1", "inputmode": "decimal"}),
    )

    def __init__(self, *args: Any, kb: KnowledgeBase, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"min_relevance": kb.min_relevance})
        super().__init__(*args, **kwargs)
        default = default_min_relevance(kb.embedding_provider, kb.embedding_model)
        field = self.fields["min_relevance"]
        if default is None:
            field.help_text = (
                "Cosine similarity, 0 to 1. This model has no calibrated default: blank gives the bot "
                "every passage found. Try questions on the Test retrieval tab to choose one."
            )
        else:
            field.widget.attrs["placeholder"] = f"{default:.2f}"
            field.help_text = (
                f"Cosine similarity, 0 to 1. Blank: {default:.2f}, the default for this embedding model. "
                "Higher: fewer, closer passages; lower: more answers, some off the point."
            )


class EmbeddingForm(forms.Form):
    """The embedding model of a knowledge base. The API key is write-only: never rendered
    back; blank keeps the stored key unless the provider or server changes (a key belongs
    to the endpoint it was given for)."""

    provider = forms.ChoiceField(
        label="Embedding model", choices=KnowledgeBase.EmbeddingProvider.choices, widget=forms.RadioSelect
    )
    model = forms.CharField(
        label="Model name",
        required=False,
        max_length=120,
        help_text=f"OpenAI: blank for {OPENAI_DEFAULT_MODEL}. Your server: the model it serves.",
    )
    dimensions = forms.TypedChoiceField(
        label="Vector size",
        coerce=int,
        empty_value=None,
        required=False,
        choices=[("", "The model's default"), *((d, str(d)) for d in INDEXED_DIMENSIONS)],
        help_text="The built-in model makes 384; OpenAI models default to 1536. "
        "Only these two sizes are indexed.",
    )
    base_url = forms.URLField(
        label="Server address",
        required=False,
        max_length=300,
        assume_scheme="https",
        help_text="OpenAI-compatible servers only, e.g. https://embeddings.example.com/v1.",
    )
    api_key = forms.CharField(
        label="API key",
        required=False,
        max_length=500,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Stored encrypted and never shown again. Leave blank to keep the stored key.",
    )

    def __init__(self, *args: Any, kb: KnowledgeBase, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "provider": kb.embedding_provider,
                "model": kb.embedding_model,
                # The built-in model has one size: "default" lets a switch to OpenAI get 1536.
                "dimensions": ""
                if kb.embedding_provider == KnowledgeBase.EmbeddingProvider.LOCAL
                else kb.embedding_dimensions,
                "base_url": kb.embedding_base_url,
            },
        )
        super().__init__(*args, **kwargs)

    def embedding_settings(self) -> EmbeddingSettings:
        data = self.cleaned_data
        return EmbeddingSettings(
            provider=data["provider"],
            model=data.get("model") or "",
            dimensions=data.get("dimensions"),
            base_url=data.get("base_url") or "",
            api_key=data.get("api_key") or "",
        )
