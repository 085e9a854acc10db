"""ASGI entry point: HTTP through Django; WebSockets through Channels, behind the tenancy
rules of ``tenants.asgi`` (Django's middleware does not run for WebSockets)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas.settings.local")

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chat.realtime.routing import websocket_urlpatterns  # noqa: E402
from tenants.asgi import TenantWebSocketMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": TenantWebSocketMiddleware(URLRouter(websocket_urlpatterns)),
    }
)
