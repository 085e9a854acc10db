"""Assist without a model (the offline provider): deterministic and useful, so the feature
works on a machine with no provider configured. The draft quotes the best passages with
their citation numbers (``chat.llm.offline``), the summary is built from the messages, and
a rewrite applies simple rules. The inbox labels these as offline quality. Translation has
no offline form: it is off without a provider."""

from __future__ import annotations

import re
from collections.abc import Sequence

from chat.llm.base import LLMRequest
from chat.llm.offline import offline_answer
from chat.models import Message

SENTENCE = re.compile(r"(?<=[.!?])\s+")
FILLER = re.compile(
    r"\b(?:just|really|basically|actually|very|simply|quite|please note that|i think that|"
    r"i think|in order to|at this point in time)\b\s*",
    re.IGNORECASE,
)
GREETING = re.compile(r"^\s*(hi|hello|hey|dear|good (morning|afternoon|evening)|thanks|thank you)\b", re.I)
CLOSING = "Let me know if there is anything else I can help with!"
CONTRACTIONS = {
    "dont": "don't",
    "doesnt": "doesn't",
    "cant": "can't",
    "wont": "won't",
    "isnt": "isn't",
    "didnt": "didn't",
    "im": "I'm",
    "ive": "I've",
    "youre": "you're",
    "thats": "that's",
}


def offline_draft(request: LLMRequest) -> str:
    """The best passages quoted with their numbers, or "" when nothing was retrieved."""
    return offline_answer(request) if request.passages else ""


def _cut(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def offline_summary(messages: Sequence[Message], *, handed_off: bool) -> str:
    """What the visitor first asked, how many messages went each way, and what they said
    last (when that is not the first)."""
    visitor = [m for m in messages if m.role == Message.Role.VISITOR]
    if not visitor:
        return "The visitor has not written yet."
    counts = {role: sum(1 for m in messages if m.role == role) for role in ("visitor", "bot", "agent")}
    parts = [f"The visitor asked: “{_cut(visitor[0].text)}”."]
    parts.append(
        f"{len(messages)} messages so far: {counts['visitor']} from the visitor, "
        f"{counts['bot']} from the bot, {counts['agent']} from agents."
    )
    if len(visitor) > 1:
        parts.append(f"Last from the visitor: “{_cut(visitor[-1].text)}”.")
    if handed_off:
        parts.append("The visitor asked for a person.")
    return " ".join(parts)


def _sentences(text: str) -> list[str]:
    return [s for s in SENTENCE.split(text.strip()) if s]


def _shorter(text: str) -> str:
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    kept = []
    for paragraph in paragraphs[:3]:
        cleaned = FILLER.sub("", FILLER.sub("", paragraph))  # again: removals join new fillers
        kept.append(" ".join(_sentences(cleaned)[:2]))
    return _grammar("\n\n".join(kept))


def _friendlier(text: str) -> str:
    text = _grammar(text)
    if not GREETING.match(text):
        text = "Hi there! " + text
    if "anything else" not in text.lower():
        text = text.rstrip() + "\n\n" + CLOSING
    return text


def _grammar(text: str) -> str:
    def word(match: re.Match[str]) -> str:
        found = match.group(0)
        fixed = CONTRACTIONS.get(found.lower())
        return fixed if fixed is not None else found

    lines = []
    for line in text.strip().splitlines():
        line = re.sub(r"[ \t]+", " ", line).strip()
        line = re.sub(r"\s+([,.!?;:])", r"\1", line)
        line = re.sub(r"([,;:])(?=[^\s\d/])", r"\1 ", line)
        line = re.sub(r"\bi\b", "I", line)
        line = re.sub(r"\b\w+\b", word, line)
        line = re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), line)
        lines.append(line)
    text = "\n".join(lines).strip()
    if text and text[-1].isalnum():
        text += "."
    return text


RULES = {"shorter": _shorter, "friendlier": _friendlier, "grammar": _grammar}


def offline_rewrite(text: str, style: str) -> str:
    return RULES[style](text)
