"""A small real knowledge base for relevance tests and the calibration of the relevance
threshold (docs/relevance.md): a shop's FAQ, questions it answers (some sharing no word
with their answer) and questions it does not (off-topic, or near the shop's subject
without an answer in it).

``python -m tests.knowledge.shop_faq`` prints the best cosine similarity of each question
against the FAQ's chunks with the built-in model (all-MiniLM-L6-v2), the figures in
docs/relevance.md."""

from __future__ import annotations

SHOP_FAQ = """# Returns and refunds

You can return any item within 30 days of delivery for a full refund. Print the prepaid
return label from your account, pack the item in its original packaging and drop it at
any post office. Refunds reach your card within 5 business days after we receive the parcel.

# Shipping times and costs

Orders placed before 2pm ship the same day. Standard delivery takes 3 to 5 business days
and is free above 50 euros; express delivery arrives the next business day for 9.90 euros.
We ship to every country of the European Union, the United Kingdom and Switzerland.

# Payment methods

We accept Visa, Mastercard, American Express, PayPal and bank transfer. Klarna lets you
pay in three instalments without interest. Your card is charged when the order ships.

# Size guide

Our shoes follow European sizes. If you are between two sizes, choose the larger one.
Measure your foot from heel to toe in centimetres and compare it with the size chart on
each product page.

# Order tracking

As soon as your parcel leaves our warehouse you receive an email with a tracking link.
You can also follow every order under My account, then Orders.

# Exchanges

To exchange an item for another size or colour, start a return and place a new order:
exchanges are free of charge and the new item ships as soon as we scan your return.
"""

ON_TOPIC = [
    "How do I return an item?",
    "Can I get my money back if the shoes don't fit?",
    "How long does delivery take?",
    "Is shipping free?",
    "Do you deliver to Switzerland?",
    "Which payment methods do you accept?",
    "Can I pay with PayPal?",
    "Can I pay in instalments?",
    "What size should I order if I'm between sizes?",
    "How do I measure my foot?",
    "Where is my parcel?",
    "How can I track my order?",
    "Can I swap these for a different colour?",
    "When will I get my refund?",
    "How much is express delivery?",
]

OFF_TOPIC = [
    "What are the opening hours of your Paris store?",
    "Who won the football world cup in 2018?",
    "What's the weather like in Berlin tomorrow?",
    "Give me a recipe for chocolate cake.",
    "Do you sell used cars?",
    "What is the capital of Australia?",
    "Can you recommend a good hotel in Rome?",
    "How do I reset my router?",
    "What is the meaning of life?",
    "Is this a human-readable format?",
    "Who is the CEO of your company?",
    "Are you hiring software engineers?",
    "How do I renew my passport?",
    "What's a good movie to watch tonight?",
    "Translate 'good morning' into Japanese.",
]


def shop_faq_ingest(tenant, *, title: str = "Shop FAQ"):
    """The FAQ as a text source of the tenant's first knowledge base, ingested now (real
    chunks, real local embeddings). Preconditions: the tenant's schema is active and
    background ingestion is off (``knowledge.services.enqueue_on_commit`` patched)."""
    from knowledge import ingestion
    from knowledge.models import KnowledgeBase
    from knowledge.services import source_add_text

    kb = KnowledgeBase.objects.order_by("id").first()
    source = source_add_text(tenant=tenant, kb=kb, title=title, text=SHOP_FAQ)
    ingestion.source_ingest(source.pk)
    return kb


def _main() -> None:
    """Best similarity per question against the FAQ's chunks, embedded as ingestion does."""
    import django

    django.setup()
    import numpy as np

    from knowledge.embeddings.local import LocalEmbedder

    embedder = LocalEmbedder()
    # One chunk per section, "heading: text" as ingestion embeds it (knowledge.chunking).
    sections = [s.split("\n", 1) for s in SHOP_FAQ.split("# ") if s.strip()]
    texts = [f"{head.strip()}: {' '.join(body.split())}" for head, body in sections]
    docs = np.array(embedder.embed_documents(texts))
    for label, questions in (("on-topic", ON_TOPIC), ("off-topic", OFF_TOPIC)):
        best = []
        for q in questions:
            sims = docs @ np.array(embedder.embed_query(q))
            best.append(float(sims.max()))
            print(f"{label:9} {best[-1]:.3f}  {q}")
        arr = np.array(best)
        print(f"{label}: min {arr.min():.3f} median {np.median(arr):.3f} max {arr.max():.3f}\n")


if __name__ == "__main__":
    _main()
