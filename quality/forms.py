"""Dashboard forms of the quality pages: the answer to a group of questions, and a bot
test. They shape the input; the services judge the rest and their refusals are put back on
the form (``knowledge.forms.add_problem``). Nothing here writes. Preconditions: the
tenant's schema is active."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from knowledge.models import KnowledgeBase, Source
from widget_builder.models import Widget

MAX_IDS = 500


def message_ids(values: list[str]) -> list[int]:
    """The question ids a form posted (``q``), junk left out."""
    return [int(v) for v in values if v.isdigit() and len(v) < 12][:MAX_IDS]


class AnswerForm(forms.Form):
    knowledge_base = forms.ModelChoiceField(
        queryset=KnowledgeBase.objects.none(), empty_label=None, label="Knowledge base"
    )
    question = forms.CharField(
        max_length=1000,
        label="Question",
        help_text="As visitors ask it; similar wordings find it too.",
    )
    answer = forms.CharField(
        max_length=5000,
        label="Answer",
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="What the bot should tell visitors who ask this.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ModelChoiceField, self.fields["knowledge_base"])
        field.queryset = KnowledgeBase.objects.order_by("created_at", "id")


class SourceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.title[:80]} ({obj.knowledge_base.name})"


class BotTestForm(forms.Form):
    widget = forms.ModelChoiceField(queryset=Widget.objects.none(), empty_label=None, label="Widget")
    question = forms.CharField(max_length=1000, label="Question", help_text="Asked as a visitor would.")
    must_contain = forms.CharField(
        required=False,
        label="A good answer contains",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One phrase per line; every one must appear (case does not matter).",
    )
    must_cite = SourceChoiceField(
        queryset=Source.objects.none(),
        required=False,
        label="A good answer cites",
        empty_label="Any source (or none)",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        widget = cast(forms.ModelChoiceField, self.fields["widget"])
        cite = cast(forms.ModelChoiceField, self.fields["must_cite"])
        widget.queryset = Widget.objects.order_by("name", "id")
        cite.queryset = Source.objects.select_related("knowledge_base").order_by("title", "id")
