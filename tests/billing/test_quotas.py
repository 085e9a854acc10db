"""billing.quotas: quotas at the boundary (exactly at the limit passes, one over is refused
with nothing stored) for widgets, knowledge storage, knowledge pages and seats, and exact
under concurrency. AI answers at the boundary: test_services.py."""

from __future__ import annotations

import threading

import pytest
from django.core import mail
from django.db import connections, transaction
from django.test import Client
from django_tenants.utils import tenant_context

from billing.models import QuotaNotice
from billing.plans import Plan
from billing.quotas import quota_require, tenant_plan
from knowledge.ingestion import source_ingest
from knowledge.models import Document, KnowledgeBase, Source
from knowledge.services import source_add_text
from saas.errors import QuotaExceeded
from tenants.models import Invitation, Tenant
from tenants.services.widget_routes import widget_route_forget
from tests.knowledge.factories import SourceFactory
from widget_builder.models import Widget
from widget_builder.services import widget_create

MB = 1024 * 1024


def small_plan(**quotas) -> Plan:
    values = {"widgets": 1, "ai_answers": 10, "storage_mb": 1, "pages": 1, "seats": 1} | quotas
    return Plan("small", "Small", 5, 50, **values)


@pytest.fixture
def plan_is(monkeypatch):
    """Put every tenant on a plan made for the test (the check reads the plan's code)."""

    def use(plan: Plan) -> Plan:
        monkeypatch.setattr("billing.quotas.plan_get", lambda code: plan)
        return plan

    return use


def test_an_unknown_quota_is_a_programming_error(tenant_a):
    with pytest.raises(ValueError, match="unknown quota"), transaction.atomic():
        quota_require(tenant_a.tenant, "wigdets", used=lambda: 0)


def test_widgets_exactly_at_the_limit_then_one_over(tenant_a, plan_is):
    plan_is(small_plan(widgets=2))
    with tenant_context(tenant_a.tenant):
        assert Widget.objects.count() == 1
        widget_create(tenant=tenant_a.tenant, name="Second")  # exactly at the limit: 2 of 2
        with pytest.raises(QuotaExceeded) as refused:
            widget_create(tenant=tenant_a.tenant, name="Third")
        assert Widget.objects.count() == 2 and not Widget.objects.filter(name="Third").exists()
    problem = refused.value.as_problem()
    assert problem["code"] == "quota_exceeded" and problem["status"] == 403
    assert (problem["limit"], problem["allowed"], problem["plan"]) == ("widgets", 2, "small")
    assert problem["upgrade_plan"] == "pro"  # the cheapest plan with 3 widgets
    assert problem["upgrade_url"] == f"https://{tenant_a.host}/dashboard/billing/"
    assert problem["detail"] == "The Small plan includes 2 widgets. Upgrade to Pro for 5 widgets."


def test_the_dashboard_says_why_a_widget_was_not_created(tenant_a):
    # Tenant A is on Free (1 widget) and has its one.
    assert tenant_plan(tenant_a.tenant).code == "free"
    client = Client()
    client.force_login(tenant_a.owner, host=tenant_a.host)
    response = client.post("/dashboard/widgets/new", {"name": "More"}, HTTP_HOST=tenant_a.host, follow=True)
    assert "The Free plan includes 1 widget. Upgrade to Starter for 2 widgets." in response.content.decode()
    with tenant_context(tenant_a.tenant):
        assert Widget.objects.count() == 1


def test_knowledge_storage_exactly_at_the_limit_then_one_over(tenant_a, plan_is, monkeypatch):
    monkeypatch.setattr("knowledge.services._queue", lambda source: source)
    plan_is(small_plan(storage_mb=1))
    with tenant_context(tenant_a.tenant):
        kb = KnowledgeBase.objects.get()
        used = sum(len(s.text) + (s.file_size or 0) for s in Source.objects.all())
        source_add_text(tenant=tenant_a.tenant, kb=kb, title="Fill", text="x" * (MB - used))  # exactly 1 MB
        with pytest.raises(QuotaExceeded) as refused:
            source_add_text(tenant=tenant_a.tenant, kb=kb, title="Over", text="y")
        assert not Source.objects.filter(title="Over").exists()
    assert refused.value.extra["limit"] == "storage_mb"


def test_knowledge_pages_exactly_at_the_limit_then_one_over(tenant_a, plan_is):
    with tenant_context(tenant_a.tenant):
        kb = KnowledgeBase.objects.get()
        plan_is(small_plan(pages=Document.objects.count() + 1, storage_mb=100))
        at = SourceFactory(knowledge_base=kb, kind=Source.Kind.TEXT, title="At", text="Opening hours.")
        over = SourceFactory(knowledge_base=kb, kind=Source.Kind.TEXT, title="Over", text="Parking.")
        assert "error" not in source_ingest(at.pk)
        source_ingest(over.pk)
        over.refresh_from_db()
        assert over.status == Source.Status.FAILED
        assert over.error.startswith("The Small plan includes")
        assert "knowledge pages" in over.error
        assert not Document.objects.filter(source=over).exists()
        # Re-ingesting what is stored takes no new page.
        assert source_ingest(at.pk)["unchanged"] == 1


def test_seats_exactly_at_the_limit_then_one_over(tenant_a, plan_is, django_capture_on_commit_callbacks):
    plan_is(small_plan(seats=2))  # the owner and one more
    client = Client()
    client.force_login(tenant_a.owner, host=tenant_a.host)

    def invite(email: str):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                "/dashboard/team/",
                {"action": "invite", "email": email, "role": "agent"},
                HTTP_HOST=tenant_a.host,
                follow=True,
            )

    invite("first@example.com")
    assert Invitation.objects.filter(tenant=tenant_a.tenant, email="first@example.com").exists()
    invite("first@example.com")  # the same address again: its seat, not a second one
    page = invite("second@example.com").content.decode()
    assert "The Small plan includes 2 team seats." in page
    assert not Invitation.objects.filter(email="second@example.com").exists()
    invitations = [m.to for m in mail.outbox if m.to != [tenant_a.owner.email]]
    assert invitations == [["first@example.com"]] * 2
    # The owner heard that the seats are used up (2 of 2), once.
    assert [m.subject for m in mail.outbox if m.to == [tenant_a.owner.email]] == [
        f"{tenant_a.tenant.name}: 100% of your plan's team seats used"
    ]

    Invitation.objects.filter(email="first@example.com").update(revoked_at="2026-01-01T00:00Z")
    invite("second@example.com")  # the revoked invitation gave its seat back
    assert Invitation.objects.filter(email="second@example.com", revoked_at__isnull=True).exists()


def test_concurrent_widget_creation_takes_the_last_slot_once(tenant_a, django_db_blocker):
    """Four requests race for the one widget left: exactly one gets it (committed rows,
    separate connections)."""
    tenant = tenant_a.tenant
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def in_thread(fn):
        def run():
            try:
                fn()
            finally:
                connections.close_all()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    def create():
        barrier.wait()
        try:
            with tenant_context(tenant):
                widget_create(tenant=tenant, name="Race")
            outcomes.append("created")
        except QuotaExceeded:
            outcomes.append("refused")

    def cleanup():
        with tenant_context(tenant):
            for widget in Widget.objects.filter(name="Race"):
                widget_route_forget(key=widget.key)
                widget.delete()
        Tenant.objects.filter(pk=tenant.pk).update(plan="free")
        QuotaNotice.objects.filter(tenant=tenant).delete()

    with django_db_blocker.unblock():
        in_thread(lambda: Tenant.objects.filter(pk=tenant.pk).update(plan="starter")).join()  # 2 widgets
        try:
            for thread in [in_thread(create) for _ in range(4)]:
                thread.join()
            assert sorted(outcomes) == ["created", "refused", "refused", "refused"]
        finally:
            in_thread(cleanup).join()


def test_qa_pairs_count_against_knowledge_storage(tenant_a, plan_is, monkeypatch):
    from knowledge.services import knowledge_storage_bytes, source_set_qa

    monkeypatch.setattr("knowledge.services._queue", lambda source: source)
    pairs = [{"question": "Opening hours?", "answer": "9 to 5, Monday to Friday."}]
    with tenant_context(tenant_a.tenant):
        kb = KnowledgeBase.objects.get()
        before = knowledge_storage_bytes()
        source_set_qa(tenant=tenant_a.tenant, kb=kb, pairs=pairs)
        assert knowledge_storage_bytes() > before  # the pairs take space
        plan_is(small_plan(storage_mb=0))
        with pytest.raises(QuotaExceeded):
            source_set_qa(tenant=tenant_a.tenant, kb=kb, pairs=pairs)
        assert Source.objects.filter(kind="qa").count() == 1
