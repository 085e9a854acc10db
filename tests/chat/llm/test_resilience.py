"""What a hostile visitor, tenant or provider can try against the chat engine."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync
from django_tenants.utils import tenant_context

from billing.plans import plan_get
from chat.forms import BotSettingsForm
from chat.llm.base import LLMRequest, ProviderError, Usage
from chat.llm.resilience import CircuitBreaker, breaker_for, breakers_reset, stream_resilient
from chat.models import Message
from chat.services import bot_settings_update
from saas.crypto import secret_encrypt
from saas.outbound import address_is_public
from tests.chat.visitors import make_visitor
from tests.fakes.llm_server import Behaviour

pytestmark = pytest.mark.django_db


class _Hanging:
    """A provider that sends one delta and then waits forever (for cancellation tests)."""

    name, model, breaker_key = "hanging", "m", "hanging:test"

    async def stream(self, request, usage):
        yield "first"
        await asyncio.sleep(3600)


def test_a_cancelled_trial_call_does_not_leave_the_breaker_stuck(settings):
    breakers_reset()
    settings.LLM_BREAKER_FAILURES = 1
    settings.LLM_BREAKER_RESET_SECONDS = 0
    breaker = breaker_for(_Hanging.breaker_key)
    breaker.record(False)  # open; with a zero pause the next call is the half-open trial
    request = LLMRequest(system="", turns=[], model="m", max_tokens=10, temperature=0)

    async def visitor_leaves():
        async def consume():
            async for _ in stream_resilient(_Hanging(), request, Usage()):
                pass

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    async_to_sync(visitor_leaves)()
    assert breaker.trial_running is False
    breaker.before_call()  # another trial may go through: not "circuit_open" forever


def test_a_half_open_breaker_lets_only_one_trial_through():
    breaker = CircuitBreaker(failures=1, reset_s=0)
    breaker.record(False)
    breaker.before_call()
    with pytest.raises(ProviderError) as refused:
        breaker.before_call()
    assert refused.value.kind == "circuit_open"


@pytest.mark.usefixtures("own_keys_allowed")
def test_one_tenants_failing_key_does_not_pause_answers_for_others(
    client, tenant_a, tenant_b, fake_llm, settings
):
    settings.LLM_MAX_RETRIES = 0
    settings.LLM_BREAKER_FAILURES = 2
    own = make_visitor(tenant_b)
    own.bot(provider="anthropic", key_source="own", api_key_encrypted=secret_encrypt("sk-ant-bad-key-0001"))
    fake_llm.enqueue(*[Behaviour(status=500, error_type="api_error")] * 2)
    for _ in range(3):
        assert own.send(client, "Hi").json()["answer"]["outcome"] == "fallback"
    assert len(fake_llm.requests) == 2  # B's own breaker opened after two failures
    platform = make_visitor(tenant_a)
    assert platform.send(client, "Hi").json()["answer"]["outcome"] == "answered"  # A is unaffected


def test_a_provider_ignoring_max_tokens_is_cut_off(client, visitor, fake_llm):
    from chat.services import MAX_ANSWER_CHARS

    fake_llm.enqueue(Behaviour(chunks=["x" * 1000] * 60))  # 60,000 characters
    answer = visitor.send(client, "Go on").json()["answer"]
    assert answer["outcome"] == "answered"
    with tenant_context(visitor.tenant):
        reply = Message.objects.get(conversation=visitor.conversation, role="bot")
    assert len(reply.text) <= MAX_ANSWER_CHARS


def test_transcripts_go_only_to_addresses_from_the_form_or_a_verified_identity(client, tenant_a, settings):
    labelled = make_visitor(tenant_a, email="")
    identify = client.post(
        f"/api/widget/v1/{labelled.widget.key}/identify",
        {"id": "someone", "email": "victim@example.org"},
        content_type="application/json",
        **labelled.headers(),
    )
    assert identify.status_code == 200 and identify.json()["verified"] is False
    assert labelled.post(client, "transcript").json()["code"] == "email_unknown"

    settings.CHAT_RATE_LIMITS = {**settings.CHAT_RATE_LIMITS, "transcripts_per_recipient_per_day": 2}
    senders = [make_visitor(tenant_a, email="same@example.org") for _ in range(3)]
    assert [v.post(client, "transcript").status_code for v in senders] == [202, 202, 429]


def test_an_unsigned_identify_does_not_replace_the_prechat_address(client, visitor):
    client.post(
        f"/api/widget/v1/{visitor.widget.key}/identify",
        {"id": "x", "email": "victim@example.org"},
        content_type="application/json",
        **visitor.headers(),
    )
    with tenant_context(visitor.tenant):
        visitor.contact.refresh_from_db()
    assert visitor.contact.email == "ada@example.com"


def test_messages_per_ip_are_limited(client, tenant_a, settings):
    settings.CHAT_RATE_LIMITS = {**settings.CHAT_RATE_LIMITS, "ip_messages_per_minute": 2}
    statuses = [make_visitor(tenant_a).send(client, "Hi").status_code for _ in range(3)]
    assert statuses == [201, 201, 429]


@pytest.mark.usefixtures("own_keys_allowed")
def test_a_stored_key_is_never_sent_to_a_new_endpoint(tenant_a, fake_llm):
    visitor = make_visitor(tenant_a)
    bot = visitor.bot(
        provider="openai",
        key_source="own",
        api_key_encrypted=secret_encrypt("sk-owner-key-9999"),
        api_key_hint="…9999",
    )
    with tenant_context(tenant_a.tenant):
        form = BotSettingsForm(
            {
                **{
                    f: getattr(bot, f)
                    for f in ("model", "temperature", "max_answer_tokens", "persona", "language")
                },
                **{f: getattr(bot, f) for f in ("no_answer_text", "unavailable_text")},
                "provider": "openai_compatible",
                "base_url": fake_llm.url + "/v1",  # an admin's own server
                "key_source": "own",
                "knowledge_only": "True",
                "attachment_max_mb": 5,
            },
            instance=bot,
        )
        assert form.is_valid(), form.errors
        saved = bot_settings_update(widget=visitor.widget, plan=plan_get("free"), **form.cleaned_data)
    assert saved.api_key_encrypted == "" and saved.api_key_hint == ""


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "169.254.169.254",
        "::ffff:169.254.169.254",
        "2002:a9fe:a9fe::1",
        "fd00::1",
        "::1",
    ],
)
def test_private_addresses_are_refused_however_they_are_written(address):
    assert address_is_public(address) is False


def test_public_addresses_pass():
    assert address_is_public("93.184.216.34") and address_is_public("2606:2800:220:1::1")


def test_provider_clients_never_follow_redirects(settings):
    from chat.llm.anthropic_provider import AnthropicProvider
    from chat.llm.openai_provider import OpenAIProvider

    async def clients():
        return [
            OpenAIProvider(api_key="k", base_url="https://llm.example.com/v1", compatible=True)._client(),
            AnthropicProvider(api_key="k")._client(),
        ]

    for sdk_client in async_to_sync(clients)():
        assert sdk_client._client.follow_redirects is False
