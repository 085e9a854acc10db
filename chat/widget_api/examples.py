"""Examples of the visitor API's bodies, as its OpenAPI document shows them: one visitor,
Ada, on the customer's site, in conversation 42. Values are valid against the shapes of
``serializers`` (tests/saas/test_openapi_examples.py checks them)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample

from saas.errors import PROBLEM_CONTENT_TYPE


def request_example(name: str, value: Any) -> OpenApiExample:
    return OpenApiExample(name, value=value, request_only=True)


def response_example(name: str, value: Any, status: int = 200) -> OpenApiExample:
    return OpenApiExample(name, value=value, response_only=True, status_codes=[str(status)])


def problem_example(name: str, status: int, code: str, title: str, detail: str) -> OpenApiExample:
    return OpenApiExample(
        name,
        value={
            "type": f"/docs/errors#{code}",
            "title": title,
            "status": status,
            "detail": detail,
            "code": code,
        },
        response_only=True,
        status_codes=[str(status)],
        media_type=PROBLEM_CONTENT_TYPE,
    )


VISITOR_ID = "3f1c2a7e-8d4b-4c1e-9a55-2b7d0e6f4a10"
TOKEN = "eyJ2IjoxLCJ3IjozLCJjIjoiM2YxYzJhN2UifQ.c2lnbmF0dXJl"  # noqa: S105 (an example)
SESSION = {
    "token": TOKEN,
    "expires_at": "2026-12-05T10:00:00+00:00",
    "visitor_id": VISITOR_ID,
    "prechat_required": False,
}
ATTACHMENT_RULES = {"kinds": ["image", "pdf"], "max_mb": 10}
GREETING = {
    "seq": 1,
    "role": "bot",
    "text": "Hi! How can I help you today?",
    "citations": [],
    "attachments": [],
    "created_at": "2026-12-04T10:00:00+00:00",
    "client_message_id": "",
    "feedback": None,
    "author_name": "",
    "card": None,
}
QUESTION = {
    **GREETING,
    "seq": 2,
    "role": "visitor",
    "text": "Do you ship to Canada?",
    "created_at": "2026-12-04T10:00:12+00:00",
    "client_message_id": "c-7f3a",
}
ANSWER = {
    **GREETING,
    "seq": 3,
    "text": "Yes, we ship to Canada within 5 to 7 working days [1].",
    "citations": [
        {
            "n": 1,
            "title": "Shipping",
            "url": "https://customer.example/shipping",
            "file": None,
            "page": None,
            "rows": [],
        }
    ],
    "created_at": "2026-12-04T10:00:14+00:00",
}
CONVERSATION = {
    "id": 42,
    "title": "Do you ship to Canada?",
    "title_source": "first_message",
    "status": "bot",
    "created_at": "2026-12-04T10:00:00+00:00",
    "updated_at": "2026-12-04T10:00:14+00:00",
    "csat_score": None,
    "unread_count": 0,
    "last_message": {
        "seq": 3,
        "role": "bot",
        "text": "Yes, we ship to Canada within 5 to 7 working days [1].",
    },
}
NEW_CONVERSATION = {
    **CONVERSATION,
    "id": 43,
    "title": "Conversation on 2026-12-04",
    "title_source": "date",
    "updated_at": CONVERSATION["created_at"],
    "last_message": {"seq": 1, "role": "bot", "text": GREETING["text"]},
}
MESSAGE_SENT = {
    **QUESTION,
    "answer": {"message": ANSWER, "handoff": False, "outcome": "answered"},
}
NOT_YOURS = problem_example(
    "Not this visitor's",
    404,
    "not_found",
    "Not found",
    "No such conversation for this visitor.",
)
