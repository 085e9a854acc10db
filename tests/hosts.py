"""The hosts tests speak to: the public host, and following a redirect from one host to
another (a workspace's), which Django's test client does not do by itself."""

from __future__ import annotations

import re

PUBLIC_HOST = "saas.test"


def follow_across_hosts(client, response):
    """Follow redirects across hosts (the test client ignores the host of absolute URLs)."""
    for _ in range(10):
        if response.status_code != 302:
            return response
        location = response["Location"]
        match = re.match(r"https?://([^/]+)(/.*)", location)
        host, path = (
            (match.group(1), match.group(2)) if match else (response.wsgi_request.get_host(), location)
        )
        response = client.get(path, HTTP_HOST=host)
    raise AssertionError("redirect loop")
