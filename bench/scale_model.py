"""The arithmetic of the scale benchmark (``bench/scale.py``), kept free of Django and the
database so it is unit-tested: least-squares lines through what was sampled as the
database grew, per-tenant costs, and extrapolation to populations this machine cannot hold.

The model is linear in schemas: every workspace schema adds the same tables, indexes,
sequences, types and dependencies to the catalogue, so rows and bytes of the catalogue grow
by a fixed amount per tenant. The samples taken at several populations check that (``r2``
close to 1); anything that does not grow linearly is reported, not extrapolated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Point = tuple[float, float]


def linear_fit(points: Sequence[Point]) -> dict[str, float]:
    """Least-squares line ``y = slope * x + intercept`` through ``points`` and its r²
    (1.0 when every point is on the line, or when y does not vary at all)."""
    if len(points) < 2:
        raise ValueError("a line needs at least two points")
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    if sxx == 0:
        raise ValueError("the points share one x: no line through them")
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    slope = sxy / sxx
    intercept = mean_y - slope * mean_x
    ss_total = sum((y - mean_y) ** 2 for _, y in points)
    ss_residual = sum((y - (slope * x + intercept)) ** 2 for x, y in points)
    r2 = 1.0 if ss_total == 0 else 1.0 - ss_residual / ss_total
    return {"slope": slope, "intercept": intercept, "r2": r2}


def extrapolate(points: Sequence[Point], at: Sequence[float]) -> dict[float, float]:
    """The fitted line's value at each population of ``at``."""
    fit = linear_fit(points)
    return {x: fit["slope"] * x + fit["intercept"] for x in at}


def per_tenant(one: dict[str, float], many: dict[str, float], tenants: int) -> dict[str, float]:
    """What each tenant beyond the first adds, for every figure both samples have:
    ``(many - one) / (tenants - 1)`` (``one`` is a database holding exactly one tenant)."""
    if tenants < 2:
        raise ValueError("per-tenant figures need at least two tenants")
    return {key: (many[key] - one[key]) / (tenants - 1) for key in many if key in one}


def series(samples: dict[int, dict[str, float]], key: str) -> list[Point]:
    """``(tenants, figure)`` points of one figure across the catalogue samples."""
    return [(float(n), float(sample[key])) for n, sample in sorted(samples.items()) if key in sample]


def noop_migrate_seconds(measured_seconds: float, measured_tenants: int, tenants: int) -> float:
    """A no-op ``migrate_schemas`` at ``tenants``, from one measured run, scaled linearly:
    it reads every schema's ``django_migrations`` in batches, so its work is proportional
    to the schemas (plus a fixed start-up, which this keeps in: an upper bound)."""
    if measured_tenants < 1:
        raise ValueError("the measured run needs at least one tenant")
    return measured_seconds * tenants / measured_tenants


def human_bytes(value: float) -> str:
    """``1536`` -> ``1.5 KiB``; binary units, one decimal."""
    if value < 0:
        return "-" + human_bytes(-value)
    units = ["B", "KiB", "MiB", "GiB", "TiB"]
    exponent = 0 if value < 1024 else min(len(units) - 1, int(math.log(value, 1024)))
    if exponent == 0:
        return f"{value:.0f} B"
    return f"{value / 1024**exponent:.1f} {units[exponent]}"


def parse_proc_status(text: str) -> dict[str, int]:
    """The memory lines of ``/proc/<pid>/status`` in bytes: ``VmRSS``, ``RssAnon``,
    ``RssFile``, ``RssShmem`` (only those present)."""
    wanted = {"VmRSS", "RssAnon", "RssFile", "RssShmem"}
    found: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name in wanted:
            amount, _, unit = rest.strip().partition(" ")
            found[name] = int(amount) * (1024 if unit.strip() == "kB" else 1)
    return found
