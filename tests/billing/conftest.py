"""Billing fixtures: the fake Stripe server (tests/fakes/stripe_server.py) and settings
pointing the real stripe SDK at it, and a visitor asking tenant A's widget."""

from __future__ import annotations

import pytest
from django.test import Client

from billing import subscriptions
from tests.billing.scenarios import SECRET
from tests.chat.visitors import make_visitor
from tests.fakes.stripe_server import FakeStripeServer

PRICES = {"starter": 2900, "pro": 9900, "business": 39900}


@pytest.fixture(scope="session")
def stripe_server():
    with FakeStripeServer() as server:
        yield server


@pytest.fixture
def stripe_on(stripe_server, settings, monkeypatch):
    """Stripe configured against the fake; queued event tasks are collected, not run (each
    test runs them when it means to: a webhook answers before its effect)."""
    stripe_server.reset()
    prices = {}
    for code, cents in PRICES.items():
        prices[f"{code}_monthly"] = stripe_server.add_price(f"price_{code}_m", unit_amount=cents)["id"]
        prices[f"{code}_yearly"] = stripe_server.add_price(
            f"price_{code}_y", unit_amount=cents * 10, interval="year"
        )["id"]
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    settings.STRIPE_API_BASE = stripe_server.url
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    settings.STRIPE_PRICES = prices
    queued: list[int] = []
    from billing.tasks import stripe_event_process_task

    run_here = subscriptions.enqueue_on_commit  # the billing_tasks_here fixture's, when used

    def enqueue(task, *args):
        if task is stripe_event_process_task:
            queued.append(args[0])
        else:
            run_here(task, *args)

    monkeypatch.setattr(subscriptions, "enqueue_on_commit", enqueue)
    stripe_server.queued = queued
    return stripe_server


@pytest.fixture
def fake_widget_answer(tenant_a):
    """Ask tenant A's widget a question as a visitor; the answer's text. The bot's text for
    when AI answers are unavailable is "OFFLINE TEXT"."""
    visitor = make_visitor(tenant_a)
    visitor.bot(unavailable_text="OFFLINE TEXT", provider="offline")
    sent = iter(range(1000))

    def ask() -> str:
        response = visitor.send(Client(), f"What are your opening hours? ({next(sent)})")
        assert response.status_code in (200, 201), response.content
        return response.json()["answer"]["message"]["text"]

    return ask
