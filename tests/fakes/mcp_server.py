"""A real MCP server for the tests: the official SDK's ``MCPServer`` (formerly FastMCP) over
streamable HTTP, served by uvicorn in a thread on a free loopback port. It records every
HTTP request it gets (method, lower-cased headers, body) before the SDK handles it.

    with McpTestServer() as server:
        ... server.url ("http://127.0.0.1:<port>/mcp"), server.address, server.requests

Its tools: ``order_status(order_id)`` (text), ``whoami()`` (the visitor id header it got),
``refund(order_id)`` (a tool a workspace would not allow), ``broken()`` (answers an error),
``slow()`` (answers after 30 s, or when the server stops). ``json_response=True``: answers
as JSON rather than as an event stream.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import anyio
import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError


@dataclass
class Seen:
    method: str
    headers: dict[str, str]
    body: bytes


class _Recorder:
    """ASGI middleware: every HTTP request's method, headers and body, kept in order."""

    def __init__(self, app: Any, requests: list[Seen], lock: threading.Lock) -> None:
        self.app, self.requests, self.lock = app, requests, lock

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        with self.lock:
            self.requests.append(Seen(scope["method"], headers, body))
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class McpTestServer:
    def __init__(self, *, json_response: bool = False) -> None:
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        mcp = MCPServer("shop", version="1.0")
        stopping = self.stopping

        @mcp.tool(description="Where an order is: its delivery status.")
        def order_status(order_id: str) -> str:
            return f"Order {order_id} has shipped with DHL."

        @mcp.tool(description="Who the platform says the visitor is.")
        def whoami(ctx: Context) -> str:
            headers = ctx.headers or {}
            return "visitor: " + (headers.get("x-chatbot-visitor-id") or "(none)")

        @mcp.tool(description="Refund an order.")
        def refund(order_id: str) -> str:
            return f"Refunded {order_id}."

        @mcp.tool(description="Always fails.")
        def broken() -> str:
            raise ToolError("the warehouse system is down")

        @mcp.tool(description="Takes its time.")
        async def slow() -> str:
            for _ in range(300):
                if stopping.is_set():
                    break
                await anyio.sleep(0.1)
            return "late"

        app = mcp.streamable_http_app(json_response=json_response)
        config = uvicorn.Config(
            _Recorder(app, self.requests, self._lock),
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="on",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="mcp-server", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.servers[0].sockets[0].getsockname()[1])

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}/mcp"

    def posted(self) -> list[dict[str, Any]]:
        """The JSON-RPC messages posted, in order."""
        import json

        with self._lock:
            return [json.loads(seen.body) for seen in self.requests if seen.method == "POST" and seen.body]

    def __enter__(self) -> McpTestServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the MCP test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._server.should_exit = True
        self._thread.join(timeout=10)
