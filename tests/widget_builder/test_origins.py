"""widget_builder.origins: the allowed origins a widget's owner types, normalised (scheme,
host, port; ``*.`` wildcards), and what is refused."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from widget_builder.origins import origin_normalize


@pytest.mark.parametrize(
    ("value", "normalized"),
    [
        ("https://Shop.Example.com/", "https://shop.example.com"),
        ("shop.example.com", "https://shop.example.com"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("https://example.com:443", "https://example.com"),
        ("https://*.example.com", "https://*.example.com"),
    ],
)
def test_origin_normalize(value, normalized):
    assert origin_normalize(value) == normalized


@pytest.mark.parametrize(
    "value",
    [
        "",
        "ftp://example.com",
        "https://example.com/path",
        "https://exa mple.com",
        "https://*",
        "javascript:x",
    ],
)
def test_origin_normalize_refuses(value):
    with pytest.raises(ValidationError):
        origin_normalize(value)
