"""HTTP, server-sent events and WebSocket clients for the processes of tests/processes:
each connects to 127.0.0.1 at a process's port and names the host it asks for (the public
host or a workspace's), as a browser behind a load balancer would."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.sync.client import ClientConnection, connect


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    port: int,
    method: str,
    path: str,
    *,
    host: str,
    headers: dict[str, str] | None = None,
    body: Any = None,
    timeout: float = 30,
) -> Answer:
    """One request; ``body`` (if any) is sent as JSON."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    sent = {"Host": host, **(headers or {})}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    try:
        connection.request(method, path, body=data, headers=sent)
        response = connection.getresponse()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


@dataclass
class Event:
    event: str
    data: Any
    id: str | None = None


@dataclass
class EventStream:
    """Server-sent events read on a thread of their own as they arrive: ``opened`` once the
    response has started (the server is then subscribed), ``wait_for`` an event."""

    port: int
    path: str
    host: str
    headers: dict[str, str]
    method: str = "GET"
    body: Any = None
    status: int = 0
    events: list[Event] = field(default_factory=list)
    ended: bool = False
    error: str = ""

    def __post_init__(self) -> None:
        self.changed = threading.Condition()
        self.opened = threading.Event()
        self._connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            data = None if self.body is None else json.dumps(self.body).encode()
            headers = {"Host": self.host, "Accept": "text/event-stream", **self.headers}
            if data is not None:
                headers["Content-Type"] = "application/json"
            self._connection.request(self.method, self.path, body=data, headers=headers)
            response = self._connection.getresponse()
            self.status = response.status
            self.opened.set()
            fields: dict[str, str] = {}
            while line := response.readline():
                text = line.decode().rstrip("\r\n")
                if text:
                    name, _, value = text.partition(":")
                    fields[name] = value.removeprefix(" ")
                    continue
                if "event" in fields or "data" in fields:
                    data_field = fields.get("data", "")
                    event = Event(
                        fields.get("event", "message"), json.loads(data_field) if data_field else None
                    )
                    event.id = fields.get("id")
                    with self.changed:
                        self.events.append(event)
                        self.changed.notify_all()
                fields = {}
        except Exception as error:  # the connection closed under it (the server killed, close())
            self.error = f"{type(error).__name__}: {error}"
        finally:
            self.opened.set()
            with self.changed:
                self.ended = True
                self.changed.notify_all()

    def wait_for(self, kind: str, test=lambda data: True, timeout: float = 30) -> Event:
        """The first event of ``kind`` whose data passes ``test``."""

        def found() -> Event | None:
            return next((e for e in self.events if e.event == kind and test(e.data)), None)

        deadline = time.monotonic() + timeout
        with self.changed:
            while (event := found()) is None:
                left = deadline - time.monotonic()
                if self.ended or left <= 0:
                    seen = [(e.event, e.data) for e in self.events]
                    raise AssertionError(
                        f"no {kind!r} event on {self.path} (status {self.status}, "
                        f"{'ended ' + self.error if self.ended else 'still open'}); seen: {seen}"
                    )
                self.changed.wait(left)
            return event

    def close(self) -> None:
        sock = self._connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._connection.close()
        self._thread.join(10)


class Socket:
    """A WebSocket of the JSON frames the platform sends; ``next(kind)`` skips other kinds."""

    def __init__(self, port: int, path: str, *, host: str, origin: str, headers: dict[str, str]) -> None:
        self._opened = connect(
            f"ws://{host}{path}",
            sock=socket.create_connection(("127.0.0.1", port), timeout=10),
            origin=origin,  # type: ignore[arg-type]
            additional_headers=headers,
            compression=None,  # as production serves it (no per-message deflate)
            open_timeout=20,
        )
        self.ws: ClientConnection = self._opened.__enter__()
        self.seen: list[dict] = []

    def send(self, frame: dict) -> None:
        self.ws.send(json.dumps(frame))

    def next(self, kind: str, test=lambda frame: True, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind!r} frame; seen: {self.seen}")
            try:
                frame = json.loads(self.ws.recv(timeout=left))
            except TimeoutError:
                continue
            self.seen.append(frame)
            if frame.get("type") == kind and test(frame):
                return frame

    def close(self) -> None:
        self._opened.__exit__(None, None, None)
