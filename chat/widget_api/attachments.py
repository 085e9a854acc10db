"""Files a visitor attaches to their conversation, and downloading them (always as a
download, never rendered by the browser)."""

from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from saas.errors import NotFound, PayloadTooLarge
from saas.parsers import BoundedJSONParser
from widget_builder.public_api import problem_responses

from ..models import Attachment
from ..selectors import bot_settings_for, message_payload
from ..services.attachments import attachment_add
from . import examples as ex
from .base import ConversationView
from .selectors import conversation_attachment
from .serializers import AttachmentInput, MessageOutput
from .throttles import AttachmentThrottle

TAGS = ["attachments"]
# Room for the multipart envelope and the caption around the file itself.
ENVELOPE_BYTES = 64 * 1024
MAX_ATTACHMENT_MB = 20  # the most any bot accepts (Bot.attachment_max_mb's validator)


class AttachmentUploadApi(ConversationView):
    """A visitor attaches a file (multipart ``file`` plus an optional ``text``)."""

    parser_classes = [MultiPartParser, FormParser, BoundedJSONParser]
    # The largest file any bot accepts; the bot's own limit is checked in post().
    max_body_bytes = MAX_ATTACHMENT_MB * 1024 * 1024 + ENVELOPE_BYTES
    throttles_by_method = {"POST": [AttachmentThrottle]}

    @extend_schema(
        operation_id="attachment_upload",
        tags=TAGS,
        request={"multipart/form-data": AttachmentInput},
        responses={
            201: MessageOutput,
            **problem_responses(
                401,
                403,
                429,
                503,
                described={
                    404: "Not the visitor's conversation (`not_found`).",
                    409: "The conversation is closed (`conversation_closed`).",
                    413: "The file is larger than the bot accepts (`payload_too_large`).",
                    422: "No file, or a kind of file this chat does not accept (`validation_error`, "
                    "`attachment_refused`).",
                },
            ),
        },
        examples=[
            ex.response_example(
                "Attached",
                {
                    **ex.QUESTION,
                    "seq": 4,
                    "text": "Here is the label",
                    "client_message_id": "",
                    "attachments": [
                        {
                            "id": "0b6f3c9a-5d2e-4f71-8a43-9e1c7d2b5f60",
                            "name": "label.png",
                            "content_type": "image/png",
                            "size": 48213,
                            "removed": False,
                            "context_status": None,
                            "context_error": "",
                        }
                    ],
                    "created_at": "2026-12-04T10:01:30+00:00",
                },
                201,
            ),
            ex.problem_example(
                "Not accepted",
                422,
                "attachment_refused",
                "This file cannot be attached",
                "This chat accepts images and PDF files.",
            ),
        ],
    )
    def post(self, request, widget_key: str, conversation_id: int):
        bot = bot_settings_for(self.widget)
        if (
            int(request.headers.get("Content-Length") or 0)
            > bot.attachment_max_mb * 1024 * 1024 + ENVELOPE_BYTES
        ):
            raise PayloadTooLarge(f"Attach files of at most {bot.attachment_max_mb} MB.")
        conversation = self.conversation(conversation_id)
        data = AttachmentInput(data=request.data)
        data.is_valid(raise_exception=True)
        message = attachment_add(
            conversation=conversation,
            upload=data.validated_data["file"],
            text=data.validated_data["text"],
            kinds=bot.attachment_kinds,
            max_mb=bot.attachment_max_mb,
            as_context=bot.files_as_context,
        )
        return Response(message_payload(message), status=status.HTTP_201_CREATED)


def attachment_response(attachment: Attachment) -> FileResponse:
    """Always a download, never rendered by the browser."""
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.name,
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


class AttachmentDownloadApi(ConversationView):
    @extend_schema(
        operation_id="attachment_download",
        tags=TAGS,
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The file, as a download."
            ),
            **problem_responses(
                401, 403, 429, 503, described={404: "No such attachment in the visitor's conversation."}
            ),
        },
    )
    def get(self, request, widget_key: str, conversation_id: int, attachment_id: str):
        attachment = conversation_attachment(
            conversation=self.conversation(conversation_id), public_id=attachment_id
        )
        if attachment is None:
            raise NotFound("No such attachment.")
        return attachment_response(attachment)
