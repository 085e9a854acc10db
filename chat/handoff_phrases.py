"""A visitor asking for a person in words: the shipped phrase lists of the widget's languages,
a widget's own lists (``BotSettings.handoff_phrases``, ``{lang: [phrases]}``; a language
left out uses the shipped list) and the matching rule.

Matching is on normalised text (:func:`normalise`: case, accents and punctuation folded,
so "Parler à un conseiller !" and "parler a un conseiller" are the same) and on whole words:
"human" never matches inside "humans" or "human-readable" unless the message is about little
else. The rule, for every phrase of every language (a visitor's locale is often wrong):

* a phrase of three words or more is a request by itself ("talk to a human", "hablar con
  una persona", "mit einem Menschen sprechen"): it matches anywhere in the message;
* a shorter phrase names a person ("human agent", "real person", "Mitarbeiter") and matches
  only in a short request: besides the phrase, the message holds at most ``OTHER_WORDS``
  words that are not request filler ("please", "I want", "quiero", "bitte"...). So
  "Human agent, please!" and "Ich möchte mit einem menschlichen Mitarbeiter sprechen" hand
  off, and "Is this a human-readable format?" or "Our agent said the parcel is lost" do not.

A leaf: it imports nothing of the app."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

LANGUAGES = ("en", "es", "fr", "de")
LANGUAGE_NAMES = {"en": "English", "es": "Spanish", "fr": "French", "de": "German"}
MAX_PHRASES = 50  # per language
MAX_PHRASE_CHARS = 100
ANYWHERE_WORDS = 3  # a phrase this long is a request wherever it stands
OTHER_WORDS = 1  # words besides a short phrase and filler that a short request may hold

SHIPPED: dict[str, tuple[str, ...]] = {
    "en": (
        "talk to a human",
        "talk to a person",
        "talk to a real person",
        "talk to someone",
        "talk to an agent",
        "talk to a human agent",
        "talk with a human",
        "talk with a person",
        "speak to a human",
        "speak to a person",
        "speak to someone",
        "speak to an agent",
        "speak with a human",
        "speak with a person",
        "speak with someone",
        "chat with a human",
        "chat with a person",
        "connect me to an agent",
        "connect me with a person",
        "transfer me to an agent",
        "i want a human",
        "i need a human",
        "get me a human",
        "customer service representative",
        "human",
        "human agent",
        "human being",
        "human support",
        "real person",
        "real human",
        "actual person",
        "live agent",
        "live person",
        "live chat",
        "agent",
        "operator",
        "representative",
        "customer service",
        "customer support",
        "support agent",
    ),
    "es": (
        "hablar con una persona",
        "hablar con una persona real",
        "hablar con un humano",
        "hablar con un agente",
        "hablar con alguien",
        "hablar con un operador",
        "hablar con un asesor",
        "hablar con atencion al cliente",
        "quiero un humano",
        "pasame con un agente",
        "ponme con una persona",
        "humano",
        "un humano",
        "persona real",
        "agente humano",
        "agente",
        "operador",
        "asesor",
        "ser humano",
    ),
    "fr": (
        "parler a un conseiller",
        "parler a un humain",
        "parler a une personne",
        "parler a quelqu un",
        "parler a un agent",
        "parler a un operateur",
        "parler avec un conseiller",
        "parler avec une personne",
        "parler avec un humain",
        "je veux un humain",
        "mettez moi en relation",
        "humain",
        "un humain",
        "agent humain",
        "vraie personne",
        "personne reelle",
        "etre humain",
        "conseiller",
        "agent",
        "operateur",
        "service client",
    ),
    "de": (
        "mit einem menschen sprechen",
        "mit einem mitarbeiter sprechen",
        "mit einer person sprechen",
        "mit jemandem sprechen",
        "mit einem menschen reden",
        "mit einem berater sprechen",
        "mit einem agenten sprechen",
        "mit dem kundendienst sprechen",
        "verbinden sie mich",
        "mensch",
        "menschen",
        "echter mensch",
        "echten menschen",
        "mitarbeiter",
        "menschlichen mitarbeiter",
        "menschlicher mitarbeiter",
        "berater",
        "kundendienst",
        "kundenservice",
    ),
}

# Words a short request is made of besides the phrase itself, in all four languages
# (normalised: no accents).
FILLER = frozenset(
    """
    i id d im want wanna need like would please pls plz can could may let me my to with a an the
    get give put connect transfer talk speak chat now just hi hello hey ok okay yes thanks thank
    you your is are there any anyone someone somebody some one through available actually
    quiero querria quisiera necesito puedo podria hablar con un una el la al por favor me
    gustaria de alguien ahora hola gracias si pasar pasame poner ponme comunicar comunicarme
    je j veux voudrais aimerais peux puis parler a le l avec s il vous plait svp merci bonjour
    moi quelqu maintenant oui etre mettre en relation passer est ce que
    ich mochte will wurde gerne gern bitte mit einem einer einen ein eine sprechen reden kann
    konnte jetzt hallo danke mir mich verbinden den die der zu sie
    """.split()  # noqa: SIM905
)

_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalise(text: str) -> str:
    """Lower case, no accents, punctuation as spaces, single spaces: the form phrases and
    messages are compared in."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_NOT_WORD.sub(" ", plain).split())


def phrases_by_language(custom: Mapping[str, Sequence[str]] | None = None) -> dict[str, tuple[str, ...]]:
    """The phrases in use per language: a widget's own list where it has one, the shipped
    list otherwise (and a widget's languages beyond the shipped ones)."""
    custom = custom or {}
    languages = [*LANGUAGES, *sorted(set(custom) - set(LANGUAGES))]
    return {lang: tuple(custom[lang]) if custom.get(lang) else SHIPPED.get(lang, ()) for lang in languages}


def _find(words: list[str], phrase: tuple[str, ...]) -> int:
    """The index where ``phrase`` starts in ``words`` as whole words, or -1."""
    size = len(phrase)
    for start in range(len(words) - size + 1):
        if tuple(words[start : start + size]) == phrase:
            return start
    return -1


@functools.lru_cache(maxsize=4096)
def phrase_words(phrase: str) -> tuple[str, ...]:
    """``phrase`` normalised, as words: made once per phrase, not once per message (every
    message is checked against every language's phrases)."""
    return tuple(normalise(phrase).split())


def phrase_matches(words: list[str], phrase: str) -> bool:
    """Whether ``phrase`` asks for a person in the message of ``words`` (normalised)."""
    wanted = phrase_words(phrase)
    if not wanted:
        return False
    start = _find(words, wanted)
    if start < 0:
        return False
    if len(wanted) >= ANYWHERE_WORDS:
        return True
    rest = words[:start] + words[start + len(wanted) :]
    return sum(1 for word in rest if word not in FILLER) <= OTHER_WORDS


def asks_for_person(text: str, custom: Mapping[str, Sequence[str]] | None = None) -> bool:
    """Whether the visitor's message asks for a person, in any language's phrases
    (``custom``: the widget's own lists)."""
    words = normalise(text[:4000]).split()
    if not words:
        return False
    return any(
        phrase_matches(words, phrase)
        for phrases in phrases_by_language(custom).values()
        for phrase in phrases
    )


def phrases_clean(value: Mapping[str, Iterable[str]]) -> tuple[dict[str, list[str]], dict[str, str]]:
    """A widget's lists as stored: per shipped language, its phrases trimmed, without blanks
    and repeats (an empty list is left out: the shipped one applies). Returns the lists and
    a message per language at fault (too many or too long phrases, or unknown language)."""
    cleaned: dict[str, list[str]] = {}
    errors: dict[str, str] = {}
    for lang, phrases in value.items():
        if lang not in LANGUAGES:
            errors[lang] = f"Unknown language {lang!r}: phrases are kept for {', '.join(LANGUAGES)}."
            continue
        if isinstance(phrases, str):
            errors[lang] = "Give a list of phrases."
            continue
        kept: list[str] = []
        seen: set[str] = set()
        for phrase in phrases:
            phrase = " ".join(str(phrase).split())
            key = normalise(phrase)
            if not key or key in seen:
                continue
            if len(phrase) > MAX_PHRASE_CHARS:
                errors[lang] = f"Keep each phrase under {MAX_PHRASE_CHARS} characters."
                break
            seen.add(key)
            kept.append(phrase)
        if len(kept) > MAX_PHRASES:
            errors[lang] = f"At most {MAX_PHRASES} phrases per language."
        if kept and lang not in errors:
            cleaned[lang] = kept
    return cleaned, errors
