"""billing.plans: one definition of every plan, each dearer plan giving more of everything."""

from __future__ import annotations

import itertools

from billing.plans import PLANS, plan_get, plan_upgrade_for


def test_one_definition_for_every_plan():
    assert [p.code for p in PLANS] == ["free", "starter", "pro", "business"]
    assert plan_get("retired-plan") is plan_get("free")
    for cheaper, dearer in itertools.pairwise(PLANS):
        assert dearer.monthly > cheaper.monthly and dearer.yearly < 12 * dearer.monthly
        for quota in ("widgets", "ai_answers", "storage_mb", "pages", "seats"):
            assert dearer.quota(quota) > cheaper.quota(quota)
    assert [p.code for p in PLANS if p.overage] == ["business"]
    assert plan_upgrade_for(plan_get("free"), "widgets", 3).code == "pro"  # Starter has 2
    assert plan_upgrade_for(plan_get("business"), "widgets", 21) is None


def test_retention_bounds_grow_with_the_plan_and_are_listed():
    bounds = [p.retention_days for p in PLANS]
    assert bounds == [30, 365, 3 * 365, None]  # Business: as long as the workspace chooses
    assert "Conversations and contacts kept up to 30 days" in plan_get("free").features()
    assert "Conversations and contacts kept up to 3 years" in plan_get("pro").features()
    assert "Conversations and contacts kept as long as you choose" in plan_get("business").features()
