"""The widget API's own OpenAPI document: generated from the widget API's routes only
(every app's, composed by the URL conf ``saas.urls_widget_api``), with its own title and
description.

    manage.py spectacular --urlconf saas.urls_widget_api \\
        --custom-settings chat.widget_api.openapi.SCHEMA_SETTINGS --validate --fail-on-warn
"""

from csp.decorators import csp_update
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from saas.csp import INLINE_STYLES

SCHEMA_SETTINGS = {
    "TITLE": "Chat widget API",
    "VERSION": "1.0.0",
    "DESCRIPTION": "What the embedded chat widget calls, on the platform's public host, under "
    "`/api/widget/v1/<widget_key>/`. Calls come from the customer's site: the `Origin` must be "
    "one of the widget's allowed origins. Visitors authenticate with the bearer token that "
    "`POST session` returns (`Authorization: Bearer <token>`, never in a URL). Errors are RFC 9457 "
    "problem details (`application/problem+json`) with a stable `code` (see /docs/errors/); "
    "429 answers carry `Retry-After`.",
    "SCHEMA_PATH_PREFIX": "/api/widget/v1/",
    "SCHEMA_PATH_PREFIX_TRIM": False,
    "TAGS": [
        {"name": "widget", "description": "The widget's published configuration."},
        {"name": "sessions", "description": "Visitor sessions, the prechat form, identity."},
        {"name": "conversations", "description": "Conversations and messages, answers streamed."},
        {"name": "visitor actions", "description": "Feedback, closing, rating, handoff, transcript."},
        {"name": "attachments", "description": "Files visitors attach."},
        {"name": "answer timings", "description": "How long answers took where the visitor is."},
        {"name": "AI actions", "description": "The visitor confirms, cancels or fills in an AI action."},
    ],
}

# Named, not imported: the URL conf composes apps above chat (insights' answer timings).
URLCONF = "saas.urls_widget_api"

schema_view = SpectacularAPIView.as_view(urlconf=URLCONF, custom_settings=SCHEMA_SETTINGS)
# The viewer's page carries its <style> (saas.csp.INLINE_STYLES).
docs_view = csp_update(INLINE_STYLES)(SpectacularSwaggerView.as_view(url_name="chat:widget-api-schema"))
