"""Language codes as assist uses them: the primary subtag of a BCP 47 tag ("pt-BR" ->
"pt"), the names shown to agents and given to the model, and a request's language."""

from __future__ import annotations

import re

from django.http import HttpRequest
from django.utils.translation.trans_real import parse_accept_lang_header

NAMES = {
    "ar": "Arabic",
    "cs": "Czech",
    "da": "Danish",
    "de": "German",
    "el": "Greek",
    "en": "English",
    "es": "Spanish",
    "fi": "Finnish",
    "fr": "French",
    "he": "Hebrew",
    "hi": "Hindi",
    "hu": "Hungarian",
    "id": "Indonesian",
    "it": "Italian",
    "ja": "Japanese",
    "ko": "Korean",
    "nl": "Dutch",
    "no": "Norwegian",
    "pl": "Polish",
    "pt": "Portuguese",
    "ro": "Romanian",
    "ru": "Russian",
    "sv": "Swedish",
    "th": "Thai",
    "tr": "Turkish",
    "uk": "Ukrainian",
    "vi": "Vietnamese",
    "zh": "Chinese",
}
CHOICES = sorted(NAMES.items(), key=lambda item: item[1])
DEFAULT = "en"
_TAG = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")


def language_code(tag: str | None) -> str:
    """The primary subtag of ``tag``, lower-case; "" for nothing usable ("auto", junk)."""
    tag = (tag or "").strip()
    if not _TAG.match(tag):
        return ""
    return re.split(r"[-_]", tag)[0].lower()


def language_name(code: str) -> str:
    return NAMES.get(code, code or "unknown")


def request_language(request: HttpRequest) -> str:
    """The first language of the browser's Accept-Language that we can name, else English."""
    for tag, _quality in parse_accept_lang_header(request.headers.get("Accept-Language", "")):
        code = language_code(tag)
        if code in NAMES:
            return code
    return DEFAULT


def same_language(a: str, b: str) -> bool:
    return bool(a) and language_code(a) == language_code(b)
