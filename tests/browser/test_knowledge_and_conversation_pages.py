"""Every knowledge and conversation page, with realistic data, in a real browser at 1,280
and 360 px: nothing is wider than the screen, axe-core finds no serious or critical
violation, and no script fails. A full-page screenshot of each is saved for review under
$SCREENSHOT_DIR (default: the system's temporary folder, which CI does not keep)."""

from __future__ import annotations

import os
import tempfile
from datetime import timedelta
from pathlib import Path

from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from chat.models import Conversation, Message
from knowledge.models import KnowledgeBase, Source
from knowledge.retrieval import Passage
from tests.browser.conftest import axe_serious_violations, signed_in
from tests.chat.factories import AttachmentFactory, ContactFactory, ConversationFactory, MessageFactory
from tests.knowledge.factories import ChunkFactory, DocumentFactory, KnowledgeBaseFactory, SourceFactory
from tests.tenants.factories import TenantFactory, UserFactory
from widget_builder.models import Widget

WIDTHS = (1280, 360)
SHOTS = Path(os.environ.get("SCREENSHOT_DIR") or Path(tempfile.gettempdir()) / "screenshots")


def _knowledge(tenant) -> dict:
    """A help center with sources in every state, documents and chunks."""
    with tenant_context(tenant):
        kb = KnowledgeBase.objects.get()
        kb.name, kb.description = "Help center", "Articles, policies and the FAQ of Acme Outdoor."
        kb.save(update_fields=["name", "description"])
        KnowledgeBaseFactory(
            name="Sales playbook", description="Pricing, plans and discounts for the sales team."
        )
        now = timezone.now()
        site = SourceFactory(
            knowledge_base=kb,
            kind=Source.Kind.CRAWL,
            title="acme-outdoor.example/help",
            url="https://acme-outdoor.example/help",
            page_limit=200,
            sync_schedule="weekly",
            status=Source.Status.READY,
            last_synced_at=now - timedelta(hours=3),
            last_report={"added": 3, "updated": 0, "removed": 0, "unchanged": 0, "failed": []},
        )
        pdf = SourceFactory(
            knowledge_base=kb,
            kind=Source.Kind.FILE,
            title="Returns policy 2026.pdf",
            file_name="Returns policy 2026.pdf",
            file_size=482_113,
            status=Source.Status.READY,
            last_synced_at=now - timedelta(days=2),
        )
        SourceFactory(
            knowledge_base=kb,
            kind=Source.Kind.SITEMAP,
            title="https://shop.acme-outdoor.example/sitemap.xml",
            url="https://shop.acme-outdoor.example/sitemap.xml",
            status=Source.Status.FAILED,
            error="The server answered 403 Forbidden: the site refuses our crawler.",
        )
        SourceFactory(
            knowledge_base=kb,
            kind=Source.Kind.QA,
            title="Top questions",
            qa_pairs=[
                {"question": "Do you ship to Germany?", "answer": "Yes, in 3 to 5 working days."},
                {"question": "Can I return worn boots?", "answer": "Within 30 days if unused outdoors."},
            ],
            status=Source.Status.READY,
            last_synced_at=now - timedelta(days=1),
        )
        SourceFactory(
            knowledge_base=kb,
            kind=Source.Kind.TEXT,
            title="Opening hours",
            text="We open at 9 and close at 5.",
            status=Source.Status.READY,
        )
        texts = {
            "Shipping to Europe": [
                "Parcels to Germany, Austria and France arrive in 3 to 5 working days.",
                "Express delivery (1 to 2 days) costs 14.90 EUR and is available for orders before 2 pm.",
            ],
            "Returns and refunds": [
                "You can return any item within 30 days. Boots must be unused outdoors.",
                "Refunds reach your account 5 to 7 days after we receive the parcel.",
            ],
            "Size guide": ["Our boots run small: order half a size up."],
        }
        documents = []
        for title, chunk_texts in texts.items():
            slug = title.lower().replace(" ", "-")
            doc = DocumentFactory(
                source=site,
                key=slug,
                title=title,
                url=f"https://acme-outdoor.example/help/{slug}",
                chunk_count=len(chunk_texts),
            )
            for i, text in enumerate(chunk_texts):
                ChunkFactory(
                    document=doc, position=i, text=text, heading_path=f"Help > {title}", token_count=14
                )
            documents.append(doc)
        pdf_doc = DocumentFactory(source=pdf, key="file", title="Returns policy 2026", chunk_count=1)
        ChunkFactory(document=pdf_doc, position=0, text="Returns are free within the EU.", page=2)
        with connection.cursor() as cursor:
            cursor.execute("UPDATE knowledge_chunk SET search_vector = to_tsvector('english', text)")
    return {"kb": kb, "source": site, "document": documents[0]}


def _conversations(tenant) -> list[Conversation]:
    """A few conversations as a shop's widget collects them."""
    now = timezone.now()
    with tenant_context(tenant):
        widget = Widget.objects.order_by("id").first()
        widget.name = "Shop assistant"
        widget.save(update_fields=["name"])
        made = []
        people = [
            ("Ada Lovelace", "ada@example.com", True, "waiting", 3),
            ("", "bruno.m@example.org", False, "bot", 45),
            ("Chiara Rossi", "", False, "closed", 60 * 26),
            ("", "", False, "agent", 60 * 24 * 9),
        ]
        for name, email, verified, status, minutes in people:
            contact = (
                ContactFactory(
                    widget=widget,
                    name=name,
                    email=email,
                    identity_verified=verified,
                    answers={"Order number": "A-10422", "Topic": "Returns"} if name else {},
                    page_url="https://acme-outdoor.example/boots/trail-pro",
                    locale="en-GB",
                    country="GB",
                    user_agent="Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15",
                )
                if name or email
                else None
            )
            conversation = ConversationFactory(
                widget=widget,
                contact=contact,
                status=status,
                csat_score=4 if status == "closed" else None,
                csat_comment="Quick and clear, thanks!" if status == "closed" else "",
                handoff_requested_at=now - timedelta(minutes=minutes) if status == "waiting" else None,
            )
            question = MessageFactory(
                conversation=conversation,
                role="visitor",
                text="Hi! Can I still return my Trail Pro boots? I wore them twice, only indoors.",
            )
            MessageFactory(
                conversation=conversation,
                role="bot",
                text=(
                    "Yes, you can return them **within 30 days** as long as they were not worn "
                    "outdoors [1].\n\n"
                    "Refunds reach your account 5 to 7 days after the parcel arrives [2]."
                ),
                outcome="answered",
                provider="anthropic",
                model="claude-haiku",
                tokens_in=812,
                tokens_out=64,
                latency_ms=640,
                cost_usd="0.000412",
                citations=[
                    {
                        "n": 1,
                        "title": "Returns and refunds",
                        "url": "https://acme-outdoor.example/help/returns",
                    },
                    {
                        "n": 2,
                        "title": "Returns policy 2026.pdf",
                        "file": "Returns policy 2026.pdf",
                        "page": 2,
                    },
                ],
                feedback_rating=1 if status != "bot" else -1,
                feedback_comment="" if status != "bot" else "I asked about exchanges, not refunds.",
            )
            MessageFactory(
                conversation=conversation, role="visitor", text="Great. Can a person check my order?"
            )
            if status in ("waiting", "agent", "closed"):
                MessageFactory(
                    conversation=conversation, role="system", text="The visitor asked for a person."
                )
            if status in ("agent", "closed"):
                MessageFactory(
                    conversation=conversation,
                    role="agent",
                    text=(
                        "Hi, this is Sam from Acme. I've opened the return for order A-10422 — "
                        "the label is in your inbox."
                    ),
                )
            AttachmentFactory(
                conversation=conversation,
                message=question,
                name="receipt-A-10422.pdf",
                content_type="application/pdf",
            )
            Message.objects.filter(conversation=conversation).update(
                created_at=now - timedelta(minutes=minutes)
            )
            Conversation.objects.filter(pk=conversation.pk).update(
                created_at=now - timedelta(minutes=minutes + 2)
            )
            made.append(conversation)
    return made


def _check(page, name: str) -> list[str]:
    """What is wrong with the page at each width (nothing, when it passes)."""
    problems = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_load_state("load")
        scroll = page.evaluate("document.documentElement.scrollWidth")
        if scroll > width:
            problems.append(f"{name} at {width} px is {scroll} px wide")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
        violations = axe_serious_violations(page)
        if violations:
            problems.append(f"{name} at {width} px: {violations}")
    return problems


def test_every_knowledge_and_conversation_page_fits_and_passes_axe(page, site, live_port, monkeypatch):
    owner = UserFactory(email="owner@acme-outdoor.example")
    tenant = TenantFactory(slug="acme-outdoor", name="Acme Outdoor", owner=owner)
    data = _knowledge(tenant)
    conversations = _conversations(tenant)
    kb, source, document = data["kb"], data["source"], data["document"]
    with tenant_context(tenant):
        qa = Source.objects.get(kind=Source.Kind.QA)
        empty = KnowledgeBaseFactory(name="Empty base")

    def retrieve(**kwargs):
        ranks = {"vector": 2, "text": 1} if len(kwargs["methods"]) == 2 else {kwargs["methods"][0]: 1}
        return [
            Passage(
                text="Parcels to Germany, Austria and France arrive in 3 to 5 working days.",
                title="Shipping to Europe",
                url="https://acme-outdoor.example/help/shipping-to-europe",
                source_id=source.pk,
                rank=1,
                ranks=ranks,
                score=0.0325,
                heading_path="Help > Shipping to Europe",
            ),
            Passage(
                text="Express delivery (1 to 2 days) costs 14.90 EUR.",
                title="Shipping to Europe",
                url="https://acme-outdoor.example/help/shipping-to-europe",
                source_id=source.pk,
                rank=2,
                ranks={"text": 2},
                score=0.0161,
            ),
        ]

    monkeypatch.setattr("knowledge.retrieval.retrieve", retrieve)
    signed_in(page, owner, "acme-outdoor.saas.test")
    base = f"http://acme-outdoor.saas.test:{live_port}/dashboard"
    k = f"{base}/knowledge/{kb.pk}"
    pages = {
        "knowledge-list": f"{base}/knowledge/",
        "knowledge-base": f"{k}/",
        "knowledge-base-empty": f"{base}/knowledge/{empty.pk}/",
        "knowledge-add-website": f"{k}/?add=url",
        "knowledge-search": f"{k}/search/?q=shipping+to+germany",
        "knowledge-search-empty": f"{base}/knowledge/{empty.pk}/search/",
        "knowledge-settings": f"{k}/settings/",
        "knowledge-source": f"{k}/sources/{source.pk}/",
        "knowledge-source-delete": f"{k}/sources/{source.pk}/delete/",
        "knowledge-qa-edit": f"{k}/sources/{qa.pk}/qa/",
        "knowledge-document": f"{k}/documents/{document.pk}/",
        "conversation-list": f"{base}/conversations/",
        "conversation-list-filtered-empty": f"{base}/conversations/?q=nobody",
        "conversation-detail": f"{base}/conversations/{conversations[0].pk}/",
        "conversation-detail-agent": f"{base}/conversations/{conversations[3].pk}/",
    }
    problems = []
    for name, url in pages.items():
        response = page.goto(url)
        assert response.status == 200, name
        problems += _check(page, name)
    assert problems == [], "\n".join(problems)
    assert page.js_errors == []
