"""ASGI entry point: HTTP through Django; WebSockets through Channels, behind the tenancy
rules of ``tenants.asgi`` (Django's middleware does not run for WebSockets)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas.settings.local")
# Read by the settings as they load: under the ASGI server the connection pool is on by
# default. Taken back after, so that processes this one starts do not inherit it.
os.environ["SAAS_ASGI_SERVER"] = "1"

django_asgi_app = get_asgi_application()
os.environ.pop("SAAS_ASGI_SERVER", None)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chat.realtime.routing import websocket_urlpatterns  # noqa: E402
from tenants.asgi import TenantWebSocketMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": TenantWebSocketMiddleware(URLRouter(websocket_urlpatterns)),
    }
)
