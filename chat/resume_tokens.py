"""Resume links: a signed token, emailed with an agent's reply, that lets the visitor come
back to the same conversation from any browser (``POST session/resume`` exchanges it for a
visitor session). It names the tenant's schema, the widget, the contact and the
conversation, and expires after 30 days. Emailed links carry it in the URL fragment
(``#resume=``), which browsers never send to a server, so it is never logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.core import signing

from saas.errors import PermissionDenied, ProblemError

SALT = "chat.resume-link"
MAX_AGE = timedelta(days=30)


class ResumeTokenInvalid(ProblemError):
    status = 401
    code = "resume_token_invalid"
    title = "The resume link is not valid"


class ResumeTokenExpired(ProblemError):
    status = 401
    code = "resume_token_expired"
    title = "The resume link has expired"


class ResumeTokenOtherWidget(PermissionDenied):
    code = "resume_token_other_widget"
    title = "The resume link is for another widget"


@dataclass(frozen=True)
class Resume:
    schema: str
    widget_id: int
    contact_public_id: str
    conversation_id: int


def resume_token_issue(*, schema: str, widget_id: int, contact_public_id: str, conversation_id: int) -> str:
    return signing.dumps(
        {"s": schema, "w": widget_id, "c": str(contact_public_id), "v": conversation_id},
        salt=SALT,
        compress=True,
    )


def resume_token_read(token: str, *, schema: str, widget_id: int) -> Resume:
    """What a genuine, unexpired token names; 401 when forged or expired, 403 when it is
    for another workspace or widget."""
    try:
        data = signing.loads(token, salt=SALT, max_age=MAX_AGE)
    except signing.SignatureExpired as exc:
        raise ResumeTokenExpired("Open the chat and start a new conversation.") from exc
    except signing.BadSignature as exc:
        raise ResumeTokenInvalid("The link is damaged; open the chat from the site.") from exc
    if not isinstance(data, dict) or not isinstance(data.get("v"), int):
        raise ResumeTokenInvalid("The link is damaged; open the chat from the site.")
    if data.get("s") != schema or data.get("w") != widget_id:
        raise ResumeTokenOtherWidget("This link opens another chat.")
    return Resume(schema, widget_id, str(data.get("c", "")), data["v"])
