"""audit.actions, the catalogue: codes shaped noun.verb_past in known categories, every code
the services record is in it (so the page shows words), and apps may register their own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from audit import actions
from audit.actions import ACTIONS, CATEGORIES, action_category, action_label, action_register

ROOT = Path(__file__).resolve().parents[2]
APPS = (
    "tenants",
    "billing",
    "widget_builder",
    "chat",
    "exports",
    "knowledge",
    "quality",
    "webhooks",
    "audit",
    "privacy",
    "sso",
    "retention",
)
# An action recorded: ``action="x.y"`` (audit_record, workspace_action_send, workspace_audit)
# or the first argument of the modules' small helpers (``_audit("x.y", ...)``, ``record("x.y", ...)``).
RECORDED = re.compile(r"(?:\baction=|\b_audit\(|\brecord\()\s*\"([a-z_]+\.[a-z_]+)\"")
# The platform audit log's own codes (tenants.services.audit_event_record), another log.
PLATFORM = {"tenant.", "user.", "periodic_job."}


def test_codes_are_lowercase_noun_dot_verb_in_a_known_category():
    for code, action in ACTIONS.items():
        assert re.fullmatch(r"[a-z_]+\.[a-z_]+", code), code
        assert action.category in CATEGORIES and action.label[:1].isupper(), code


def test_every_code_the_apps_record_is_catalogued():
    found = set()
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" not in path.parts:
                found |= {c for c in RECORDED.findall(path.read_text()) if not c.startswith(tuple(PLATFORM))}
    assert found, "the scan found nothing: its pattern is stale"
    assert sorted(found - set(ACTIONS)) == []


def test_an_unknown_code_reads_as_itself_under_other():
    assert (action_label("future.thing_done"), action_category("future.thing_done")) == (
        "future.thing_done",
        "other",
    )


def test_an_app_registers_its_own_actions(monkeypatch):
    monkeypatch.setattr(actions, "ACTIONS", dict(ACTIONS))
    registered = action_register(code="contact.erased", label="Erased a contact", category="privacy")
    assert actions.ACTIONS["contact.erased"] == registered
    assert action_register(code="contact.erased", label="Erased a contact", category="privacy") == registered
    with pytest.raises(ValueError, match="declared twice"):
        action_register(code="contact.erased", label="Forgot a contact", category="privacy")
    with pytest.raises(ValueError, match="unknown audit category"):
        action_register(code="thing.done", label="Did a thing", category="nope")
