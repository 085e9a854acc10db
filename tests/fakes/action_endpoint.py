"""A tenant's action endpoint, locally: a real HTTP server on 127.0.0.1 that records every
request (method, path with its query, lower-cased headers, body) and answers each with the
next scripted :class:`Answer` (``200 {"ok": true}`` once they run out).

    with ActionEndpoint([Answer(body=b'{"status": "shipped"}')]) as endpoint:
        ... endpoint.url, endpoint.address ("127.0.0.1:<port>"), endpoint.requests
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from tests.fakes.http_base import FakeHandler, FakeHTTPServer


@dataclass
class Answer:
    status: int = 200
    body: bytes = b'{"ok": true}'
    content_type: str = "application/json"
    delay: float = 0.0  # before answering (a slow or hanging endpoint)
    headers: dict[str, str] = field(default_factory=dict)
    hold_open: bool = False  # the body sent, the answer never ends (a stream left open) until stop


@dataclass
class Called:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class ActionEndpoint(FakeHTTPServer):
    name = "action-endpoint"

    def __init__(self, answers: list[Answer] | None = None) -> None:
        super().__init__("127.0.0.1", 0)
        self.answers = list(answers or [])
        self.requests: list[Called] = []
        self.released = threading.Event()  # set on stop: wakes delayed answers

    @property
    def address(self) -> str:
        return self.url.removeprefix("http://")

    def stop(self) -> None:
        self.released.set()
        super().stop()

    def handler_class(self) -> type[FakeHandler]:
        endpoint = self

        class Handler(FakeHandler):
            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with endpoint._lock:
                    endpoint.requests.append(
                        Called(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    answer = endpoint.answers.pop(0) if endpoint.answers else Answer()
                if answer.delay and endpoint.released.wait(answer.delay):
                    return
                self.send_response(answer.status)
                self.send_header("content-type", answer.content_type)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                if answer.hold_open:  # no length: the answer lasts as long as the connection
                    self.send_header("connection", "close")
                    self.close_connection = True
                else:
                    self.send_header("content-length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)
                if answer.hold_open:
                    self.wfile.flush()
                    endpoint.released.wait(30)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        return Handler
