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
