"""tenants.slugs: the addresses no workspace may take."""

from __future__ import annotations

from tenants.slugs import RESERVED_SLUGS


def test_reserved_list_covers_the_required_names():
    assert {"www", "api", "admin", "app", "static", "mail"} <= RESERVED_SLUGS
