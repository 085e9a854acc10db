"""DRF's parsers of the platform (``REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.parsers import JSONParser


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser with the view's body size limit and JSON nesting bounded before
    parsing (``saas.request_body``)."""

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        # Imported here: rest_framework.views loads this class (its DEFAULT_PARSER_CLASSES)
        # while saas.errors, which saas.request_body imports, may still be loading.
        from .request_body import json_stream_parse

        return json_stream_parse(stream, parser_context)
