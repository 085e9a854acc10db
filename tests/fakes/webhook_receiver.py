"""A local webhook receiver: a real HTTP server on 127.0.0.1 that records every request
(headers lower-cased, body) and answers each with the next status of ``statuses`` (200
once they run out).

    with WebhookReceiver(statuses=[500, 500, 500]) as receiver:
        ... receiver.url, receiver.requests, receiver.address ("127.0.0.1:<port>")
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.fakes.http_base import FakeHandler, FakeHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class WebhookReceiver(FakeHTTPServer):
    name = "webhook-receiver"

    def __init__(self, statuses: list[int] | None = None, answer: bytes = b"ok") -> None:
        super().__init__("127.0.0.1", 0)
        self.statuses = list(statuses or [])
        self.answer = answer
        self.requests: list[Received] = []

    @property
    def address(self) -> str:
        return self.url.removeprefix("http://")

    def handler_class(self) -> type[FakeHandler]:
        receiver = self

        class Handler(FakeHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with receiver._lock:
                    receiver.requests.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("content-type", "text/plain")
                self.send_header("content-length", str(len(receiver.answer)))
                self.end_headers()
                self.wfile.write(receiver.answer)

        return Handler
