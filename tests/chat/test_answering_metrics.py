"""The chat path's metrics: time to first token and answer duration by provider, provider
errors by kind, the widget API's request line (workspace, widget key) — and no workspace in
any label."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog
from prometheus_client import REGISTRY

from knowledge.retrieval import Passage
from saas.observability.logs import formatter_config
from tests.chat.visitors import asgi_post
from tests.fakes.llm_server import Behaviour
from tests.hosts import PUBLIC_HOST

pytestmark = pytest.mark.django_db


@pytest.fixture
def passages(monkeypatch):
    """Retrieval returning a fixed passage (what is measured here is the provider call)."""
    passage = Passage(text="Orders ship within 2 business days.", title="Shipping", rank=1)
    monkeypatch.setattr("knowledge.retrieval.retrieve", lambda **_: [passage])


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_an_answer_records_time_to_first_token_and_duration_by_provider(client, visitor, fake_llm, passages):
    fake_llm.enqueue(Behaviour(text="Orders ship within 2 business days [1]."))
    ttft = _value("saas_chat_time_to_first_token_seconds_count", provider="anthropic")
    answered = _value("saas_chat_answer_duration_seconds_count", provider="anthropic", outcome="ok")
    response = visitor.send(client, "When will my order ship?")
    assert response.status_code == 201, response.content
    assert _value("saas_chat_time_to_first_token_seconds_count", provider="anthropic") == ttft + 1
    assert (
        _value("saas_chat_answer_duration_seconds_count", provider="anthropic", outcome="ok") == answered + 1
    )
    assert _value("saas_chat_time_to_first_token_seconds_sum", provider="anthropic") > 0


def test_a_provider_error_is_counted_by_kind(client, visitor, fake_llm, passages, settings):
    settings.LLM_MAX_RETRIES = 0
    fake_llm.enqueue(Behaviour(error_type="invalid_request_error"))
    before = sum(
        s.value
        for metric in REGISTRY.collect()
        if metric.name == "saas_chat_provider_errors"
        for s in metric.samples
        if s.name.endswith("_total") and s.labels["provider"] == "anthropic"
    )
    visitor.send(client, "Anything?")
    after = {
        s.labels["kind"]: s.value
        for metric in REGISTRY.collect()
        if metric.name == "saas_chat_provider_errors"
        for s in metric.samples
        if s.name.endswith("_total") and s.labels["provider"] == "anthropic"
    }
    assert sum(after.values()) == before + 1


def test_no_label_names_a_workspace_or_a_widget(client, visitor, fake_llm, passages, settings):
    fake_llm.enqueue(Behaviour(text="Free returns [2]."))
    visitor.send(client, "Returns?")
    settings.METRICS_TOKEN = "scrape-token-1234567890"
    body = client.get("/metrics", HTTP_HOST=PUBLIC_HOST, HTTP_AUTHORIZATION="Bearer scrape-token-1234567890")
    text = body.content.decode()
    assert "saas_chat_time_to_first_token_seconds_bucket" in text
    for secret in (visitor.tenant.schema_name, visitor.tenant.slug, visitor.widget.key):
        assert secret not in text
    for metric in REGISTRY.collect():
        for sample in metric.samples:
            assert not {"workspace", "tenant", "schema", "widget_key"} & set(sample.labels)


def test_the_widget_api_request_line_names_the_workspace_and_widget_key(client, visitor, fake_llm, passages):
    config = formatter_config("json")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(config.pop("()")(**config))
    root = logging.getLogger()
    root.addHandler(handler)
    level, _ = root.level, root.setLevel(logging.INFO)
    try:
        fake_llm.enqueue(Behaviour(text="Shipping takes 3 to 5 days [1]."))
        response = client.post(
            visitor.messages_path,
            {"text": "Shipping?"},
            content_type="application/json",
            **visitor.headers(HTTP_X_REQUEST_ID="req-widget-0001"),
        )
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        structlog.contextvars.clear_contextvars()
    assert response["X-Request-ID"] == "req-widget-0001"
    lines = [json.loads(raw) for raw in stream.getvalue().splitlines() if raw.strip()]
    (line,) = [x for x in lines if x.get("logger") == "saas.request" and x["request_id"] == "req-widget-0001"]
    assert line["workspace"] == visitor.tenant.schema_name
    assert line["widget_key"] == visitor.widget.key
    assert line["status"] == 201 and line["route"].startswith("chat") and line["latency_ms"] > 0


def test_an_answer_streamed_as_events_counts_while_it_streams(visitor, fake_llm, passages):
    fake_llm.enqueue(Behaviour(chunks=["Orders ", "ship ", "in 2 days [1]."]))
    before = _value("saas_realtime_open_connections", kind="sse")
    during = []

    def on_chunk(chunk: bytes):
        during.append(_value("saas_realtime_open_connections", kind="sse"))

    result = asgi_post(
        visitor.messages_path,
        {"text": "When do orders ship?", "client_message_id": "m-sse-1"},
        {
            "host": PUBLIC_HOST,
            "origin": "https://customer.example",
            "authorization": f"Bearer {visitor.token}",
            "accept": "text/event-stream",
            "x-request-id": "req-sse-00000001",
        },
        on_chunk=on_chunk,
    )
    assert result.status == 200 and result.headers["x-request-id"] == "req-sse-00000001"
    assert during and all(value == before + 1 for value in during)
    assert _value("saas_realtime_open_connections", kind="sse") == before
