"""chat.handoff_phrases: a request for a person in words, in the widget's four languages,
and the messages that merely mention a person (no handoff)."""

from __future__ import annotations

import pytest

from chat import handoff_phrases
from chat.handoff_phrases import (
    LANGUAGES,
    MAX_PHRASE_CHARS,
    MAX_PHRASES,
    SHIPPED,
    asks_for_person,
    normalise,
    phrases_by_language,
    phrases_clean,
)

ASKS = [
    "I want to talk to a human agent, please.",
    "Human agent, please!",
    "human?",
    "Can I speak to a real person?",
    "Is there a human agent I can talk to?",
    "CUSTOMER SERVICE REPRESENTATIVE",
    "I'd like to speak with someone about my order",
    "Quiero hablar con un agente humano, por favor.",
    "¿Puedo hablar con una persona?",
    "Je veux parler à un agent humain, s'il vous plaît.",
    "Parler a un conseiller",
    "Ich möchte bitte mit einem menschlichen Mitarbeiter sprechen.",
    "Kann ich mit einem Menschen sprechen?",
]

MENTIONS = [
    "Is this a human-readable format?",
    "Is this human readable?",
    "Our agent told me the parcel is lost",
    "What is your customer service email address?",
    "Do you have live chat?",
    "Can I pay in person?",
    "How do I return an item?",
    "¿Es un formato legible por humanos?",
    "Est-ce que l'agent de livraison passe demain ?",
    "Ist der Mensch das Maß aller Dinge?",
    "",
    "?!",
]


@pytest.mark.parametrize("text", ASKS)
def test_requests_for_a_person_are_recognised(text):
    assert asks_for_person(text), text


@pytest.mark.parametrize("text", MENTIONS)
def test_a_person_merely_mentioned_is_not_a_request(text):
    assert not asks_for_person(text), text


def test_matching_folds_case_accents_and_punctuation_on_whole_words():
    assert normalise("  Parler à l'Équipe — S'IL VOUS PLAÎT!! ") == "parler a l equipe s il vous plait"
    assert normalise("Straße") == "strasse"
    assert asks_for_person("PARLER À UN CONSEILLER !!!")
    assert not asks_for_person("humanagent please")  # whole words only


def test_every_language_ships_a_list_and_each_phrase_matches_itself():
    assert set(SHIPPED) == set(LANGUAGES)
    for lang, phrases in SHIPPED.items():
        assert len(phrases) >= 10, lang
        for phrase in phrases:
            assert phrase == normalise(phrase), phrase  # stored as they are compared
            assert asks_for_person(phrase), phrase


def test_a_widget_list_replaces_the_shipped_one_of_its_language_only():
    custom = {"en": ["beam me up", "Scotty"]}
    assert phrases_by_language(custom)["en"] == ("beam me up", "Scotty")
    assert phrases_by_language(custom)["fr"] == SHIPPED["fr"]
    assert asks_for_person("Beam me up, please!", custom)
    assert asks_for_person("scotty?", custom)
    assert not asks_for_person("Can I talk to a human?", custom)  # the English list is the widget's
    assert asks_for_person("Quiero hablar con una persona", custom)  # Spanish is still shipped
    assert asks_for_person("Can I talk to a human?", {"en": []})  # an empty list: the shipped one


def test_phrase_lists_are_cleaned_and_bounded():
    cleaned, errors = phrases_clean({"en": ["  Beam   me up ", "beam me UP!", "", "  "], "fr": []})
    assert cleaned == {"en": ["Beam me up"]} and errors == {}
    _, errors = phrases_clean({"en": ["x" * (MAX_PHRASE_CHARS + 1)]})
    assert "under 100 characters" in errors["en"]
    _, errors = phrases_clean({"en": [f"phrase {n}" for n in range(MAX_PHRASES + 1)]})
    assert "At most 50" in errors["en"]
    _, errors = phrases_clean({"xx": ["hello"], "de": "Mensch"})
    assert set(errors) == {"xx", "de"}


def test_phrases_are_normalised_once_not_for_every_message(monkeypatch):
    asks_for_person("Where is my parcel?")  # every shipped phrase seen once
    calls = []
    monkeypatch.setattr(handoff_phrases, "normalise", lambda text: calls.append(text) or normalise(text))
    assert not asks_for_person("Where is my parcel, please?")
    assert asks_for_person("Can I talk to a human?")
    assert calls == ["Where is my parcel, please?", "Can I talk to a human?"]  # the messages alone
