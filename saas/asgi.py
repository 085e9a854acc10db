"""ASGI entry point: HTTP through Django; WebSockets through Channels, behind the tenancy
rules of ``tenants.asgi`` (Django's middleware does not run for WebSockets); the lifespan
protocol installs the graceful shutdown (``saas.shutdown``)."""

import gc
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
from saas import shutdown  # noqa: E402
from tenants.asgi import TenantWebSocketMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": TenantWebSocketMiddleware(URLRouter(websocket_urlpatterns)),
        "lifespan": shutdown.lifespan,
    }
)

# The garbage collector took 9 % of the web process's CPU under the chat load
# (docs/benchmarks.md): what start-up made (modules, the app registry, settings) lives as
# long as the process, so it is frozen out of the collector's passes; and a request makes
# thousands of container objects, so the youngest generation is collected every 5,000
# allocations rather than 700. Measured: 2 % of the CPU, for a few hundred kB more garbage.
GC_YOUNGEST_THRESHOLD = 5000
gc.collect()
gc.freeze()
gc.set_threshold(GC_YOUNGEST_THRESHOLD, *gc.get_threshold()[1:])
