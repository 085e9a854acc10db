"""The sockets' routes (``saas.asgi`` mounts them behind ``tenants.asgi``'s middleware)."""

from django.urls import path

from .consumers import AgentConsumer, VisitorConsumer

websocket_urlpatterns = [
    path("ws/agent/", AgentConsumer.as_asgi()),
    path("ws/widget/v1/<str:widget_key>", VisitorConsumer.as_asgi()),
]
