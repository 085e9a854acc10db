"""List prices (USD per million tokens, input/output) for the per-answer cost shown in the
dashboard. A model not listed shows no cost rather than a guess."""

from __future__ import annotations

from decimal import Decimal

PRICES: dict[str, tuple[str, str]] = {
    "claude-haiku-4-5": ("1", "5"),
    "claude-sonnet-4-5": ("3", "15"),
    "claude-opus-4-1": ("15", "75"),
    "claude-3-5-haiku-latest": ("0.8", "4"),
    "gpt-4o-mini": ("0.15", "0.6"),
    "gpt-4o": ("2.5", "10"),
    "gpt-4.1-mini": ("0.4", "1.6"),
    "gpt-4.1": ("2", "8"),
    "gpt-5-mini": ("0.25", "2"),
    "knowledge-base-quotes": ("0", "0"),
}


def answer_cost(model: str, input_tokens: int, output_tokens: int) -> Decimal | None:
    price = PRICES.get(model)
    if price is None:
        return None
    per_in, per_out = (Decimal(p) / 1_000_000 for p in price)
    return (per_in * input_tokens + per_out * output_tokens).quantize(Decimal("0.000001"))
