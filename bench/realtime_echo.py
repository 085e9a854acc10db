"""The baseline of ``bench.realtime``: a bare Channels consumer, served by uvicorn like the
platform (``uvicorn bench.realtime_echo:application``), that sends every frame it gets to
one group on the Redis channel layer; every socket of the group, in any process, gets it.
No Django app, database or middleware: the figure is the transport's own (socket, layer,
socket), what the platform's sockets add their work to."""

from __future__ import annotations

import os
from typing import Any

import django
from django.conf import settings

GROUP = "bench.echo"

if not settings.configured:
    settings.configure(
        CHANNEL_LAYERS={
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                # As the platform's settings configure the layer (redis-py 8's defaults raised).
                "CONFIG": {
                    "hosts": [
                        {
                            "address": os.environ["BENCH_ECHO_REDIS_URL"],
                            "socket_timeout": 30,
                            "max_connections": 2000,
                        }
                    ]
                },
            }
        }
    )
    django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402


class Echo(AsyncWebsocketConsumer):  # type: ignore[misc]  # channels ships no types
    async def connect(self) -> None:
        await self.channel_layer.group_add(GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.channel_layer.group_send(GROUP, {"type": "echo.frame", "text": text_data or ""})

    async def echo_frame(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["text"])


application = ProtocolTypeRouter({"websocket": URLRouter([path("echo", Echo.as_asgi())])})
