"""What the knowledge endpoints of the workspace API share (``knowledge.apis``,
``knowledge.apis_sources``): the roles of the dashboard's "knowledge" section (every role
reads, owners and admins change; API keys by their role), the knowledge base named by the
URL, the problem answers in the OpenAPI document and reading a body.

A source is only found under its knowledge base, a document under its knowledge base
(and its source when the URL names one): another knowledge base's or another workspace's
id is 404 like an id that does not exist.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from rest_framework import serializers

from saas.errors import NotFound
from saas.openapi import problems_of
from tenants.api_base import ALL_ROLES, MANAGERS, TenantAPIView

from .models import KnowledgeBase

TAGS = ["knowledge"]

PROBLEMS = {
    401: "Not signed in, or the API key is not valid here (`not_authenticated`).",
    403: "Your role does not allow this (`permission_denied`), or the plan's knowledge storage is "
    "full (`quota_exceeded`).",
    404: "No such knowledge base, source or document in this workspace (`not_found`).",
    409: "Not now: the source is being processed (`conflict`).",
    413: "The file or the request is too large (`payload_too_large`).",
    422: "Some fields are not valid (`validation_error`, with `errors` per field).",
    503: "The embedding model did not answer; search by words only (`service_unavailable`).",
}


problems = partial(problems_of, PROBLEMS)


def valid_body(serializer: serializers.Serializer) -> dict[str, Any]:
    """The serializer's data, or 422 ``validation_error`` with the errors per field."""
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class KnowledgeApiBase(TenantAPIView):
    """Every knowledge endpoint: reading for every role, changes for owners and admins (an
    API key by its role), as the dashboard's "knowledge" section."""

    required_roles = {"GET": ALL_ROLES, "POST": MANAGERS, "PATCH": MANAGERS, "DELETE": MANAGERS}

    def knowledge_base(self) -> KnowledgeBase:
        """The knowledge base the URL names (``kb_id``), or 404."""
        found = self.tenant_queryset(KnowledgeBase).filter(pk=self.kwargs.get("kb_id")).first()
        if found is None:
            raise NotFound()
        return found
