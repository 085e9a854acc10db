"""Billing fixtures: the fake Stripe server (tests/fakes/stripe_server.py) and settings
pointing the real stripe SDK at it."""

from __future__ import annotations

import pytest

from billing import subscriptions
from tests.fakes.stripe_server import FakeStripeServer

SECRET = "whsec_test_secret"
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
