"""The Answer quality pages: everyone in the workspace may look, owners and admins act;
groups most asked first with counts and examples; a group answered or dismissed from the
page; bot tests written, run and shown with the pass rate and the failing answers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from knowledge.models import KnowledgeBase, Source
from quality.models import BotTest, BotTestResult, BotTestRun, FlaggedQuestion
from tests.quality.conftest import flag
from tests.widget_builder.factories import WidgetFactory
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db


def _flags(tenant):
    with tenant_context(tenant):
        widget = Widget.objects.order_by("id").first()
        mars = [
            flag(widget, t)
            for t in ("Do you ship to Mars?", "Can you deliver to Mars?", "do you ship to mars")
        ]
        mars.append(flag(widget, "Is shipping to Mars possible?", "thumbs_down"))
        paris = [flag(widget, "Where is your Paris shop?", "handoff")]
        old = flag(widget, "An old question", at=timezone.now() - timedelta(days=40))
    return mars, paris, old


@pytest.mark.parametrize("role", ["owner", "admin", "agent"])
def test_every_member_sees_the_pages(as_role, role):
    for path in ("/dashboard/quality/", "/dashboard/quality/tests/"):
        response = as_role(role).get(path)
        assert response.status_code == 200, path
        assert ("Answer it" in response.content.decode()) is False  # nothing flagged yet


def test_agents_look_but_do_not_act(as_role, tenant_a):
    mars, _, _ = _flags(tenant_a.tenant)
    agent = as_role("agent")
    page = agent.get("/dashboard/quality/").content.decode()
    assert "Do you ship to Mars?" in page and "Answer it" not in page and "Dismiss" not in page
    assert agent.post("/dashboard/quality/dismiss", {"q": [m.pk for m in mars]}).status_code == 403
    assert agent.get(f"/dashboard/quality/answer/?q={mars[0].pk}").status_code == 403
    assert agent.post("/dashboard/quality/tests/run").status_code == 403
    assert as_role("stranger").get("/dashboard/quality/").status_code == 404


def test_groups_most_asked_first_with_counts_reasons_and_examples(owner, tenant_a, tenant_b):
    _flags(tenant_a.tenant)
    with tenant_context(tenant_b.tenant):
        flag(Widget.objects.first(), f"{tenant_b.marker} secret question")
    response = owner.get("/dashboard/quality/")
    groups = response.context["groups"]
    assert [(g.title, g.count) for g in groups] == [
        ("Do you ship to Mars?", 4),
        ("Where is your Paris shop?", 1),
    ]
    assert groups[0].reasons == {"no_answer": 3, "thumbs_down": 1}
    page = response.content.decode()
    assert page.index("Do you ship to Mars?") < page.index("Where is your Paris shop?")
    assert "Can you deliver to Mars?" in page and "Rated down · 1" in page and "Handed off · 1" in page
    assert tenant_b.marker not in page and "An old question" not in page
    assert "An old question" in owner.get("/dashboard/quality/?days=90").content.decode()
    # junk in the query is the default range, never an error
    assert owner.get("/dashboard/quality/?days=x&widget=y").context["days"] == 30


def test_dismissing_a_group_hides_it(owner, tenant_a):
    mars, paris, _ = _flags(tenant_a.tenant)
    back = "/dashboard/quality/?days=7"
    response = owner.post("/dashboard/quality/dismiss", {"q": [m.pk for m in mars], "back": back})
    assert response.status_code == 302 and response["Location"] == back
    groups = owner.get(back).context["groups"]
    assert [g.title for g in groups] == ["Where is your Paris shop?"]
    # somewhere else is never where it sends you
    evil = owner.post("/dashboard/quality/dismiss", {"q": [paris[0].pk], "back": "https://evil.example/"})
    assert evil["Location"] == "/dashboard/quality/"


def test_answering_a_group_from_the_page(owner, tenant_a, ingest_here):
    mars, _, _ = _flags(tenant_a.tenant)
    ids = [m.pk for m in mars]
    query = "&".join(f"q={pk}" for pk in ids)
    form = owner.get(f"/dashboard/quality/answer/?{query}")
    assert form.status_code == 200
    assert form.context["form"].initial["question"] == "Is shipping to Mars possible?"  # the newest
    titled = owner.get(f"/dashboard/quality/answer/?{query}&question=Do+you+ship+to+Mars%3F")
    assert titled.context["form"].initial["question"] == "Do you ship to Mars?"  # the group's, from the list
    with tenant_context(tenant_a.tenant):
        kb = KnowledgeBase.objects.first()
    invalid = owner.post(
        "/dashboard/quality/answer/", {"q": ids, "knowledge_base": kb.pk, "question": "Mars?"}
    )
    assert invalid.status_code == 200 and "answer" in invalid.context["form"].errors
    done = owner.post(
        "/dashboard/quality/answer/",
        {"q": ids, "knowledge_base": kb.pk, "question": "Do you ship to Mars?", "answer": "Every Friday."},
    )
    assert done.status_code == 302
    with tenant_context(tenant_a.tenant):
        source = Source.objects.get()
        assert source.qa_pairs == [{"question": "Do you ship to Mars?", "answer": "Every Friday."}]
        assert FlaggedQuestion.objects.filter(state="answered", source=source).count() == 4
    assert owner.get("/dashboard/quality/").context["groups"][0].title == "Where is your Paris shop?"
    # the group is gone: its answer page says so instead of failing
    gone = owner.get(f"/dashboard/quality/answer/?{query}")
    assert gone.status_code == 200 and "Nothing to answer here" in gone.content.decode()


def test_bot_tests_are_written_run_and_shown(owner, tenant_a):
    with tenant_context(tenant_a.tenant):
        widget = Widget.objects.order_by("id").first()
    refused = owner.post(
        "/dashboard/quality/tests/",
        {"test-widget": widget.pk, "test-question": "Hi?", "test-must_contain": ""},
    )
    assert refused.status_code == 200 and "must_contain" in refused.context["form"].errors
    added = owner.post(
        "/dashboard/quality/tests/",
        {
            "test-widget": widget.pk,
            "test-question": "Is shipping free?",
            "test-must_contain": "free above 50",
        },
    )
    assert added.status_code == 302
    assert owner.post("/dashboard/quality/tests/run").status_code == 302
    with tenant_context(tenant_a.tenant):
        test = BotTest.objects.get()
        run = BotTestRun.objects.get()
        assert run.status == "queued"
        # two finished runs on two days: the chart has a bar for each day
        earlier = BotTestRun.objects.create(
            status="done", total=2, passed=2, finished_at=timezone.now() - timedelta(days=2)
        )
        BotTestRun.objects.filter(pk=run.pk).update(
            status="done", total=2, passed=1, finished_at=timezone.now()
        )
        BotTestResult.objects.create(
            run=run,
            test=test,
            question=test.question,
            answer="<b>We ship</b>",
            passed=False,
            failures=["Does not contain “free above 50”."],
        )
    page = owner.get("/dashboard/quality/tests/")
    body = page.content.decode()
    assert [bar.value for bar in page.context["chart"].bars] == [100, 50]
    assert "Total" not in body and "at most 100, at least 50" in body  # rates do not add up
    assert 'data-figure="pass-rate"' in body and "50<span" in body
    assert "Does not contain “free above 50”." in body and "&lt;b&gt;We ship&lt;/b&gt;" in body
    assert earlier.pk in [r.pk for r in page.context["runs"]]
    edited = owner.post(
        f"/dashboard/quality/tests/{test.pk}/",
        {
            "test-widget": widget.pk,
            "test-question": "Is shipping free?",
            "test-must_contain": "free above 50 euros",
        },
    )
    assert edited.status_code == 302
    assert owner.post(f"/dashboard/quality/tests/{test.pk}/delete").status_code == 302
    with tenant_context(tenant_a.tenant):
        assert not BotTest.objects.exists()
        assert BotTestResult.objects.get().question == "Is shipping free?"  # results outlive their test
    assert owner.post("/dashboard/quality/tests/999999/delete").status_code == 404


def test_one_widget_at_a_time(owner, tenant_a):
    with tenant_context(tenant_a.tenant):
        first = Widget.objects.order_by("id").first()
        other = WidgetFactory(name="Shop chat")
        flag(first, "Do you ship to Mars?")
        flag(other, "Where is your Paris shop?")
    everything = owner.get("/dashboard/quality/")
    titles = {g.title for g in everything.context["groups"]}
    assert titles == {"Do you ship to Mars?", "Where is your Paris shop?"}
    one = owner.get(f"/dashboard/quality/?widget={other.pk}&days=7")
    assert [g.title for g in one.context["groups"]] == ["Where is your Paris shop?"]
    page = one.content.decode()
    assert f'<option value="{other.pk}" selected>Shop chat</option>' in page
    assert f'href="/dashboard/quality/?days=90&amp;widget={other.pk}"' in page  # the period keeps the widget
