"""Narrow additions to the Content-Security-Policy (settings.CONTENT_SECURITY_POLICY), for
the few responses that need them, applied with django-csp's ``csp_update``."""

from __future__ import annotations

from csp.constants import UNSAFE_INLINE

# Pages running the real widget (its Shadow DOM carries a <style> element) or a third-party
# UI that writes style attributes (the admin's theme): inline styles, never inline scripts.
INLINE_STYLES = {"style-src": [UNSAFE_INLINE]}
