"""Everything before the provider call, in order: an answer already stored, the cache
claim, a person on the conversation, a request for a person in words (handed off when the
widget has human support: chat.handoff_phrases), automations, a flagged contact, billing,
retrieval (nothing relevant enough and a knowledge-only bot: the no-answer text, no
provider call), the provider and one AI-answer credit, then history and the prompt.
Preconditions: the tenant's schema is active."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache

from billing.selectors import AnswerTerms, answer_terms
from billing.services import answer_credit_take
from knowledge.retrieval import Passage
from saas.tenant_connection import connection
from tenants.contributions import ToolCard, contributions
from tenants.models import Tenant

from ..automations import rule_matches, rules_in_order
from ..file_context import FilePassage, computed_answer, conversation_files, file_passages
from ..handoff_phrases import asks_for_person
from ..llm.base import ProviderError
from ..llm.registry import ProviderChoice, provider_for
from ..models import AutomationRule, BotSettings, Contact, Conversation, ConversationFile, Message
from ..selectors import bot_snapshot, message_payload
from ..services import automation_firing_create, conversation_handoff, message_append
from .claims import claim_key
from .finish import final_payload, handoff_reply_record, reply_store
from .outcome import Outcome, Prepared
from .prompt import history_turns, llm_request, nothing_relevant, relevant_passages
from .tools import tools_offered

logger = logging.getLogger(__name__)


def answer_prepare(
    *,
    tenant: Tenant,
    conversation: Conversation,
    visitor_message: Message,
    contact: Contact | None = None,
    just_stored: bool = False,
    tool_answered: bool = False,
) -> Prepared:
    """Everything before the provider call. Preconditions: the tenant's schema is active.
    ``contact`` is the conversation's contact when the caller has it loaded already;
    ``just_stored`` says the visitor message was created by this request (no answer yet);
    ``tool_answered``: the message is the visitor's answer to an AI action's card (no
    handoff in words, no automation: the model answers with the action's result)."""
    prepared = Prepared(connection.schema_name, tenant.pk, conversation.pk, visitor_message.pk)
    prepared.widget_id = conversation.widget_id
    existing = None if just_stored else Message.objects.filter(reply_to=visitor_message).first()
    if existing is not None:  # a retried send gets the same answer
        offer = (
            bot_snapshot(conversation.widget).bot.offer_handoff and existing.outcome in Outcome.OFFERS_HANDOFF
        )
        prepared.final = final_payload(existing, offer_handoff=offer)
        return prepared
    prepared.claim_key = claim_key(visitor_message.pk)
    claim_seconds = int(settings.LLM_DEADLINE_SECONDS) + settings.CHAT_ANSWER_CLAIM_MARGIN_SECONDS
    if not cache.add(prepared.claim_key, 1, timeout=claim_seconds):
        prepared.pending = True
        return prepared
    try:
        if contact is None or contact.pk != conversation.contact_id:
            contact_id = conversation.contact_id
            contact = Contact.objects.filter(pk=contact_id).first() if contact_id is not None else None
        return _prepare_claimed(prepared, tenant, conversation, visitor_message, contact, tool_answered)
    except BaseException:
        cache.delete(prepared.claim_key)
        raise


def provider_and_credit(
    tenant: Tenant, bot: BotSettings, terms: AnswerTerms | None = None
) -> tuple[ProviderChoice, str | None]:
    """The provider for ``bot`` under the tenant's plan (own keys only where it allows them),
    and one AI answer counted before the provider is called
    (billing.services.answer_credit_take): the metric counted, or None over quota. Raises
    ProviderError when the bot is misconfigured. ``terms``: billing's, if the caller has
    read them (``answer_terms``)."""
    terms = terms or answer_terms(tenant)
    choice = provider_for(bot, own_keys_allowed=terms.plan.own_llm_key)
    metric = answer_credit_take(tenant, own_key=choice.own_key, plan=terms.plan, limit=terms.ai_answers_limit)
    return choice, metric


def provider_uncounted(tenant: Tenant, bot: BotSettings) -> ProviderChoice:
    """The provider :func:`provider_and_credit` would choose, with no AI answer counted
    (the workspace's bot tests). Raises ProviderError when the bot is misconfigured."""
    return provider_for(bot, own_keys_allowed=answer_terms(tenant).plan.own_llm_key)


def _prepare_claimed(
    prepared: Prepared,
    tenant: Tenant,
    conversation: Conversation,
    visitor_message: Message,
    contact: Contact | None,
    tool_answered: bool = False,
) -> Prepared:
    widget = conversation.widget
    snapshot = bot_snapshot(widget)
    bot = snapshot.bot
    prepared.texts = {
        "no_answer": bot.no_answer_text,
        "unavailable": bot.unavailable_text,
        "offer_handoff": bot.offer_handoff,
    }

    def canned(
        text: str, outcome: str, rule: AutomationRule | None = None, card: dict[str, Any] | None = None
    ) -> Prepared:
        reply = reply_store(prepared, text=text, outcome=outcome, automation_rule=rule, card=card)
        if rule is not None:
            automation_firing_create(rule=rule, conversation=conversation, message=reply)
            logger.info("automation fired rule=%s conversation=%s", rule.pk, conversation.pk)
        prepared.final = final_payload(
            reply, offer_handoff=bot.offer_handoff and outcome in Outcome.OFFERS_HANDOFF
        )
        cache.delete(prepared.claim_key)
        return prepared

    if conversation.status in (Conversation.Status.WAITING, Conversation.Status.AGENT):
        return _with_person(prepared)
    flagged = contact is not None and contact.flagged_as_bot
    asks = not tool_answered and asks_for_person(visitor_message.text, bot.handoff_phrases)
    if bot.human_support and not flagged and asks:
        return _hand_off(prepared, conversation, visitor_message)

    rule = (
        None
        if tool_answered
        else _automations_run(prepared, snapshot.automations, conversation, visitor_message)
    )
    if rule is not None:
        return canned(rule.reply, Outcome.AUTOMATION, rule)
    if flagged:
        return canned(bot.no_answer_text, Outcome.SKIPPED)
    terms = answer_terms(tenant)  # the plan, a restriction and the quota: one query
    if terms.restricted:  # unpaid past the grace period: the offline text, no LLM
        return canned(bot.unavailable_text, Outcome.FALLBACK)
    form = None if tool_answered else _action_form(bot, terms, conversation, visitor_message)
    if form is not None:  # no LLM, and the message names an action: its form, no guess
        return canned(form.text, Outcome.ACTION, card=form.card)
    # Retrieval before the provider: when it found only unrelated passages, a knowledge-only
    # bot has nothing to answer from, and no provider is called nor credit taken.
    passages, found = relevant_passages(visitor_message.text, snapshot.knowledge_base_ids or None)
    # The visitor's own files of this conversation come first (docs/files.md).
    files = conversation_files(conversation.pk) if bot.files_as_context else []
    passages = [*file_passages(files, visitor_message.text), *passages]
    # With tools (AI actions) the model may act even when the knowledge has nothing.
    tools = tools_offered(conversation.pk, conversation.widget_id)
    if not tools and nothing_relevant(bot, passages, found):
        logger.info("nothing relevant in the knowledge conversation=%s", conversation.pk)
        return canned(bot.no_answer_text, Outcome.NO_ANSWER)
    try:
        choice, metric = provider_and_credit(tenant, bot, terms)
    except ProviderError as error:
        logger.warning("bot misconfigured widget=%s: %s", widget.pk, error)
        return canned(bot.unavailable_text, Outcome.FALLBACK)
    if metric is None:
        return canned(bot.unavailable_text, Outcome.OVER_QUOTA)
    prepared.metric = metric
    prepared.choice = choice
    offline = choice.provider.name == "offline"
    computed = _computed(visitor_message.text, files, passages) if offline and files else ""
    prepared.passages = passages
    prepared.request = llm_request(
        bot,
        widget,
        choice,
        turns=history_turns(conversation, visitor_message),
        question=visitor_message.text,
        passages=prepared.passages,
        locale=contact.locale if contact else "",
        # The offline provider answers from the passages alone: it calls no tool.
        tools=tuple(tools) if not offline else (),
        computed_answer=computed,
    )
    return prepared


def _action_form(
    bot: BotSettings, terms: AnswerTerms, conversation: Conversation, visitor_message: Message
) -> ToolCard | None:
    """The offline provider's explicit rule: without an LLM, a message with an action's
    trigger phrase gets the action's form (the visitor gives the inputs; submitting it is
    their confirmation); the provider itself never guesses a call."""
    tools = contributions().answer_tools
    if tools is None:
        return None
    try:
        offline = provider_for(bot, own_keys_allowed=terms.plan.own_llm_key).provider.name == "offline"
    except ProviderError:
        return None
    return tools.offline_form(conversation_id=conversation.pk, text=visitor_message.text) if offline else None


def _computed(question: str, files: list[ConversationFile], passages: list[Passage]) -> str:
    """The offline provider's answer to a plain question over one of the visitor's tables
    (``chat.file_context.computed_answer``), its table's citation naming the rows used;
    "" for any other question. The tables' passages are in ``passages`` in the files' order."""
    tables = [f for f in files if f.kind == ConversationFile.Kind.TABLE]
    at = [n for n, p in enumerate(passages) if isinstance(p, FilePassage) and p.table]
    if not tables or len(at) != len(tables):
        return ""
    found = computed_answer(question, tables, [n + 1 for n in at])
    if found is None:
        return ""
    cited = passages[at[found.table]]
    if isinstance(cited, FilePassage):
        passages[at[found.table]] = dataclasses.replace(cited, rows=found.rows)
    return found.text


def _with_person(prepared: Prepared) -> Prepared:
    """A person has the conversation (or it waits for one): no bot, no automation."""
    cache.delete(prepared.claim_key)
    prepared.final = {"message": None, "handoff": False, "outcome": "with_agent"}
    return prepared


def _hand_off(prepared: Prepared, conversation: Conversation, visitor_message: Message) -> Prepared:
    """The visitor asked for a person in words: the conversation waits for one
    (``conversation_handoff``, the one way there) and its note is the answer, recorded with
    the outcome ``handoff``. No provider call, no credit."""
    note = conversation_handoff(conversation=conversation)
    if note is None:  # handed off meanwhile (the widget's button): nothing more to say
        return _with_person(prepared)
    note = handoff_reply_record(note, visitor_message_id=visitor_message.pk)
    logger.info("handoff asked in words conversation=%s", conversation.pk)
    prepared.final = final_payload(note, offer_handoff=False) | {"status": conversation.status}
    cache.delete(prepared.claim_key)
    return prepared


def _automations_run(
    prepared: Prepared,
    rules: list[AutomationRule],
    conversation: Conversation,
    visitor_message: Message,
) -> AutomationRule | None:
    """The first matching rule: returned when its reply replaces the answer; otherwise its
    reply is stored before the answer (one canned reply per message) and None returned."""
    for rule in rules_in_order(rules):
        if not rule_matches(rule, visitor_message.text, widget=conversation.widget):
            continue
        if rule.replaces_answer or rule.kind == rule.Kind.OFFLINE:
            return rule
        note, _ = message_append(
            conversation=conversation,
            role=Message.Role.BOT,
            text=rule.reply,
            client_message_id=f"auto:{rule.pk}:{visitor_message.pk}",
            automation_rule=rule,
            outcome=Outcome.AUTOMATION,
        )
        automation_firing_create(rule=rule, conversation=conversation, message=note)
        prepared.before.append(message_payload(note))
        return None
    return None
