"""The CSV part of the AI actions benchmark (``python -m bench actions``): questions over a
visitor's 10,000-row file, each answered through the answer loop (``chat.answering``:
prepare, the provider call through the real Anthropic SDK to the local fake LLM server,
which asks for ``query_table``; the tool computes over the stored table; the model is
asked again and answers). Measured per question: the time to the computed answer, and
the query step alone (``chat.file_context.FileTools.call``). Every computed total is
checked against the one this module computed with ``Decimal``. Also: reading the file
when it is attached (parse and store), and the offline provider's computed answers.

BENCH_FILES_QUESTIONS (default 200) questions each, after 20 of warm-up."""

from __future__ import annotations

import json
import math
import os
import random
import statistics
import time
from decimal import Decimal
from typing import Any

QUESTIONS = int(os.environ.get("BENCH_FILES_QUESTIONS", "200"))
WARMUP = 20
ROWS = 10_000
REGIONS = ("North", "South", "East", "West")


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


def _figures(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(values), 2),
        "p95_ms": round(_pct(values, 0.95), 2),
        "count": len(values),
    }


def sales_csv() -> tuple[bytes, dict[str, Decimal]]:
    rng = random.Random(11)
    lines, totals = ["order,region,amount,day"], dict.fromkeys(REGIONS, Decimal(0))
    for n in range(ROWS):
        region = rng.choice(REGIONS)
        amount = Decimal(rng.randint(1, 9_999_999)) / 100
        totals[region] += amount
        lines.append(f"{n + 1},{region},{amount:.2f},2026-{n % 12 + 1:02d}-{n % 28 + 1:02d}")
    return ("\n".join(lines) + "\n").encode(), totals


def files_part(tenant: Any, fake: Any) -> dict[str, Any]:
    """Run the part in ``tenant`` (Django set up, the platform's provider pointed at
    ``fake``, a FakeLLMServer)."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django_tenants.utils import tenant_context

    from chat import answering
    from chat.file_context import FileTools
    from chat.file_reading import file_read
    from chat.models import BotSettings, Contact, Conversation, Message
    from chat.selectors import bot_snapshot_forget
    from chat.services.attachments import attachment_add
    from chat.services.messages import message_append
    from tenants.models import Tenant
    from tests.fakes.llm_server import Behaviour, FakeToolCall
    from widget_builder.models import Widget

    data, totals = sales_csv()
    Tenant.objects.filter(pk=tenant.pk).update(plan="business")  # answers beyond Free's quota
    tenant.refresh_from_db()
    results: dict[str, Any] = {}
    with tenant_context(tenant):
        widget = Widget.objects.order_by("id").first()
        BotSettings.objects.update_or_create(
            widget=widget,
            defaults={"attachment_kinds": ["text"], "files_as_context": True, "knowledge_only": False},
        )
        contact = Contact.objects.create(widget=widget, name="Bench")
        parse = []
        for _ in range(5):
            started = time.perf_counter()
            file_read(data, name="sales.csv", content_type="text/plain")
            parse.append((time.perf_counter() - started) * 1000)
        conversation = Conversation.objects.create(widget=widget, contact=contact)
        started = time.perf_counter()
        message = attachment_add(
            conversation=conversation,
            upload=SimpleUploadedFile("sales.csv", data),
            kinds=["text"],
            max_mb=20,
            as_context=True,
        )
        attach_ms = (time.perf_counter() - started) * 1000
        file_id = message.attachments[0]["id"]
        if message.attachments[0].get("context_status") != "ready":
            raise RuntimeError(f"the file was not read: {message.attachments[0]}")
        results["read_on_attach"] = {
            "parse_p50_ms": round(statistics.median(parse), 2),
            "attach_ms": round(attach_ms, 2),
        }
        print(
            f"  a {ROWS:,}-row CSV ({len(data) / 1024:.0f} KB) read when attached: parse p50 "
            f"{results['read_on_attach']['parse_p50_ms']:.1f} ms, the whole attach {attach_ms:.1f} ms",
            flush=True,
        )

        tools, loop, step, wrong = FileTools(), [], [], 0
        rng = random.Random(3)
        for n in range(QUESTIONS + WARMUP):
            region = rng.choice(REGIONS)
            query = {
                "file": file_id,
                "filters": [{"column": "region", "op": "eq", "value": region}],
                "aggregate": {"op": "sum", "column": "amount"},
            }
            started = time.perf_counter()
            text, is_error = tools.call(
                conversation_id=conversation.pk, name="query_table", arguments=query, arguments_error=""
            )
            took = (time.perf_counter() - started) * 1000
            if is_error or Decimal(json.loads(text)["value"]) != totals[region]:
                raise RuntimeError(f"the query step computed {text}")
            fake.reset()
            fake.enqueue(
                Behaviour(tool_calls=[FakeToolCall("query_table", query)]),
                Behaviour(text=f"The total for {region} is computed."),
            )
            question, _ = message_append(
                conversation=conversation,
                role=Message.Role.VISITOR,
                text=f"What is the total of amount where region is {region}?",
            )
            started = time.perf_counter()
            prepared = answering.answer_prepare(
                tenant=tenant, conversation=conversation, visitor_message=question
            )
            final = answering.answer_collect(prepared)["final"]
            elapsed = (time.perf_counter() - started) * 1000
            [result] = fake.requests[-1].tool_results if len(fake.requests) == 2 else [{"content": "{}"}]
            if final["outcome"] != "answered" or json.loads(result["content"]).get("value") != str(
                totals[region]
            ):
                wrong += 1
            if n >= WARMUP:
                loop.append(elapsed)
                step.append(took)
        results["answer_with_query"] = _figures(loop) | {"wrong": wrong}
        results["query_step"] = _figures(step)
        print(
            f"  a total over {ROWS:,} rows through the answer loop (fake model, two rounds, the tool "
            f"between): p50 {results['answer_with_query']['p50_ms']:.1f} ms, p95 "
            f"{results['answer_with_query']['p95_ms']:.1f} ms; {wrong} wrong of {QUESTIONS + WARMUP}",
            flush=True,
        )
        print(
            f"  the query step alone (load the table, filter, Decimal sum): p50 "
            f"{results['query_step']['p50_ms']:.1f} ms, p95 {results['query_step']['p95_ms']:.1f} ms",
            flush=True,
        )

        BotSettings.objects.filter(widget=widget).update(provider=BotSettings.Provider.OFFLINE)
        bot_snapshot_forget(widget.pk)  # answers read the bot through its cached snapshot
        offline, wrong = [], 0
        for n in range(QUESTIONS + WARMUP):
            region = rng.choice(REGIONS)
            question, _ = message_append(
                conversation=conversation,
                role=Message.Role.VISITOR,
                text=f"What is the total of amount where region is {region}?",
            )
            started = time.perf_counter()
            prepared = answering.answer_prepare(
                tenant=tenant, conversation=conversation, visitor_message=question
            )
            final = answering.answer_collect(prepared)["final"]
            elapsed = (time.perf_counter() - started) * 1000
            if f" is {totals[region]} " not in final["message"]["text"]:
                wrong += 1
            if n >= WARMUP:
                offline.append(elapsed)
        results["offline_computed_answer"] = _figures(offline) | {"wrong": wrong}
        print(
            f"  the same question answered by the offline provider (computed, no model): p50 "
            f"{results['offline_computed_answer']['p50_ms']:.1f} ms, p95 "
            f"{results['offline_computed_answer']['p95_ms']:.1f} ms; {wrong} wrong",
            flush=True,
        )
    return results
