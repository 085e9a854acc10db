"""The chat UI with real answers: streamed Markdown with sources, feedback, resume after a
reload, hostile text rendered inert, handoff, rating, attachments. The model is the fake
OpenAI-compatible server; retrieval is replaced by fixed passages."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from chat.models import Conversation, Message
from chat.selectors import bot_settings_for
from knowledge.retrieval import Passage
from tests.browser.conftest import answer_finished, settled
from tests.fakes.llm_server import Behaviour, FakeLLMServer
from tests.tenants.factories import TenantFactory, UserFactory
from widget_builder.models import Widget
from widget_builder.services import widget_allowed_origins_set, widget_publish

WAIT = 10_000  # ms, for anything the widget fetches


@pytest.fixture
def fake():
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def passages(monkeypatch):
    """What retrieval returns (the live server runs in this process)."""
    found: list[Passage] = []
    monkeypatch.setattr("knowledge.retrieval.retrieve", lambda **kwargs: list(found))
    return found


def _setup(host_pages, fake, slug: str, **bot_fields):
    owner = UserFactory(email=f"{slug}@example.com")
    tenant = TenantFactory(slug=slug, name="Answers Shop", owner=owner)
    type(tenant).objects.filter(pk=tenant.pk).update(plan="starter")  # a tenant's own LLM server
    with tenant_context(tenant):
        widget = Widget.objects.get()
        widget_allowed_origins_set(widget=widget, origins=[f"http://customer.test:{host_pages['port']}"])
        widget = widget_publish(widget=widget)
        bot = bot_settings_for(widget)
        bot.provider, bot.base_url = "openai_compatible", fake.url + "/v1"
        bot.model, bot.key_source = "fake-model", "own"
        for name, value in bot_fields.items():
            setattr(bot, name, value)
        bot.save()
    return tenant, widget


def _open(page, site, host_pages, widget, path: str):
    host_pages[path] = (
        "<!doctype html><html><head><title>Shop</title></head><body><h1>Customer shop</h1>"
        f'<script async src="{site}/w/v1/loader.js" data-widget="{widget.key}"></script></body></html>'
    )
    page.goto(f"http://customer.test:{host_pages['port']}{path}")
    page.locator("div[data-chat-widget] button").first.click()
    composer = page.get_by_label("Write a message…")
    composer.wait_for(timeout=WAIT)
    return composer


def _reopen(page):
    page.reload()
    page.locator("div[data-chat-widget] button").first.click()


ANSWER = (
    "**Good news:** we ship *fast* [1].\n\n"
    "- Orders leave within `2 days`\n"
    "- Returns are free [2]\n\n"
    "Track it on [our site](https://customer.test/track)."
)


def test_answer_streams_as_markdown_with_sources_feedback_and_resume(page, site, host_pages, fake, passages):
    tenant, widget = _setup(host_pages, fake, "answers-md")
    passages += [
        Passage(
            text="Orders ship within 2 days.", title="Shipping policy", url="https://customer.test/shipping"
        ),
        Passage(text="Returns are free for 30 days.", title="Returns handbook", file="returns.pdf", page=3),
    ]
    fake.enqueue(Behaviour(text=ANSWER))
    accepts = []

    def record(request):
        if request.method == "POST" and request.url.endswith("/messages"):
            accepts.append(request.headers.get("accept"))

    page.on("request", record)
    composer = _open(page, site, host_pages, widget, "/answers")
    composer.fill("How fast do you ship?")
    answer = page.locator(".msg", has_text="Good news:")
    with answer_finished(page):
        composer.press("Enter")
        answer.wait_for(timeout=WAIT)
    assert accepts == ["text/event-stream"]  # the streamed send
    assert "Orders ship within 2 days." in fake.requests[-1].prompt_text
    assert answer.locator("strong").first.inner_text() == "Good news:"
    assert answer.locator("em").inner_text() == "fast"
    assert answer.locator("li").all_inner_texts() == ["Orders leave within 2 days", "Returns are free [2]"]
    assert answer.locator("code").inner_text() == "2 days"
    assert answer.locator(".cite").all_inner_texts() == ["[1]", "[2]"]
    track = answer.locator(".bubble a")
    assert track.get_attribute("href") == "https://customer.test/track"
    assert track.get_attribute("rel") == "noopener noreferrer nofollow"
    assert track.get_attribute("target") == "_blank"
    sources = answer.locator(".src")
    assert sources.locator("a").inner_text() == "[1] Shipping policy"
    assert sources.locator("a").get_attribute("href") == "https://customer.test/shipping"
    assert "[2] Returns handbook · returns.pdf p. 3" in sources.inner_text()
    assert page.locator("p.bubble.mine", has_text="How fast do you ship?").count() == 1

    page.get_by_role("button", name="Not helpful").click()
    assert page.get_by_role("button", name="Not helpful").get_attribute("aria-pressed") == "true"
    page.get_by_label("What went wrong? (optional)").fill("Which carrier?")
    page.locator(".fb button[type=submit]").click()
    page.get_by_text("Thanks for your feedback!").wait_for(timeout=WAIT)
    with tenant_context(tenant):
        bot = Message.objects.get(role="bot")
        assert (bot.feedback_rating, bot.feedback_comment) == (-1, "Which carrier?")
        assert bot.citations[0]["n"] == 1 and bot.citations[1]["file"] == "returns.pdf"

    _reopen(page)  # the same history comes back, once, with the feedback given
    page.locator(".msg", has_text="Good news:").wait_for(timeout=WAIT)
    assert page.locator("[data-seq]").count() == 2
    assert page.locator(".msg .src a").inner_text() == "[1] Shipping policy"
    assert page.get_by_role("button", name="Not helpful").get_attribute("aria-pressed") == "true"
    assert page.get_by_role("button", name="Helpful", exact=True).get_attribute("aria-pressed") == "false"
    assert page.locator("p.bubble.mine", has_text="How fast do you ship?").count() == 1
    assert page.js_errors == []


PAYLOADS = [
    '<img src=x onerror="window.__xss=1">',
    "<script>window.__xss=2</script>",
    "[click](javascript:window.__xss=3)",
    "![pixel](http://evil.test/pixel.png)",
    '<svg onload="window.__xss=4">',
    '<a href="javascript:window.__xss=5">x</a>',
]
LITERAL = [p for p in PAYLOADS if p.startswith("<")]  # Markdown link and image syntax is not kept

SHADOW_REPORT = """() => {
  const root = document.querySelector('[data-chat-widget]').shadowRoot, body = root.querySelector('.body');
  return {
    made: body.querySelectorAll('img,script,svg,iframe,object,embed,style,link,video,audio').length,
    scripts: root.querySelectorAll('script').length,
    images: root.querySelectorAll('img').length,
    jsLinks: root.querySelectorAll('a[href^="javascript" i]').length,
    hrefs: [...body.querySelectorAll('a[href]')].map(a => a.getAttribute('href')),
    handlers: [...root.querySelectorAll('*')]
      .filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length,
  };
}"""


def test_hostile_text_from_model_visitor_and_agent_stays_text(page, site, host_pages, fake, passages):
    tenant, widget = _setup(host_pages, fake, "answers-xss")
    passages.append(Passage(text="Hostile source.", title="Evil source", url="javascript:window.__xss=6"))
    fake.enqueue(Behaviour(text="\n\n".join(PAYLOADS) + "\n\nSee [1]."))
    dialogs, requested = [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: requested.append(r.url))

    composer = _open(page, site, host_pages, widget, "/xss")
    composer.fill("\n".join(PAYLOADS))
    with answer_finished(page):
        composer.press("Enter")
        page.locator(".msg .src").wait_for(timeout=WAIT)
    with tenant_context(tenant):
        conversation = Conversation.objects.get()
        from chat.services import message_append

        message_append(conversation=conversation, role="agent", text="Agent says:\n" + "\n".join(PAYLOADS))

    _reopen(page)
    page.locator(".msg", has_text="Agent says:").wait_for(timeout=WAIT)
    settled(page)  # anything that would load or run has had its turn
    report = page.evaluate(SHADOW_REPORT)
    assert report == {"made": 0, "scripts": 0, "images": 0, "jsLinks": 0, "hrefs": [], "handlers": 0}
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert dialogs == [] and not [u for u in requested if "evil.test" in u]

    mine = page.locator("p.bubble.mine").inner_text()
    assert all(p in mine for p in PAYLOADS)  # the visitor's text is shown exactly as typed
    bot, agent = page.locator(".msg .bubble").all_inner_texts()
    for text in (bot, agent):
        assert all(p in text for p in LITERAL)
        assert "click" in text and "pixel" in text and "javascript:" in text
    assert "[1] Evil source" in page.locator(".msg .src").inner_text()  # not a link
    assert page.js_errors == []


def test_no_answer_handoff_then_end_and_rate(page, site, host_pages, fake, passages):
    tenant, widget = _setup(host_pages, fake, "answers-handoff")
    with tenant_context(tenant):  # someone could answer (nobody online: the offline form instead)
        from chat.services.agents import agent_heartbeat, inbox_settings_update
        from tenants.models import Membership

        inbox_settings_update(auto_assign=False)
        agent_heartbeat(user_id=Membership.objects.filter(tenant=tenant).values_list("user_id", flat=True)[0])
    no_answer = "I'm sorry, I don't have a good answer to that yet."
    fake.enqueue(Behaviour(text=no_answer))
    composer = _open(page, site, host_pages, widget, "/handoff")

    composer.fill("x" * 4001)  # refused: the problem's field message, the text kept
    composer.press("Enter")
    page.get_by_text("Keep messages under 4000 characters.").wait_for(timeout=WAIT)
    assert composer.input_value() == "x" * 4001

    composer.fill("Can I pay in bitcoin?")
    with answer_finished(page):
        composer.press("Enter")
        page.locator(".msg", has_text=no_answer).wait_for(timeout=WAIT)
    page.get_by_role("button", name="Talk to a person").click()
    page.get_by_text("You asked for a person.").wait_for(timeout=WAIT)
    assert page.get_by_role("button", name="Talk to a person").count() == 0
    with tenant_context(tenant):
        assert Conversation.objects.get().status == "waiting"

    composer.fill("Hello?")  # with an agent now: stored, no bot answer
    composer.press("Enter")
    # The server writes the visitor's message and the outcome ("done": with an agent, no
    # answer) one after the other with nothing awaited between them; the live server sends
    # them as one body, and the widget handles every event of what it read at once.
    page.locator("p.bubble.mine", has_text="Hello?").wait_for(timeout=WAIT)
    settled(page)
    assert page.locator(".msg").count() == 1 and len(fake.requests) == 1

    page.get_by_role("button", name="More options").click()
    page.get_by_role("menuitem", name="Email me the transcript").click()
    page.get_by_text("Give your email address in the form first.").wait_for(timeout=WAIT)

    page.get_by_role("button", name="More options").click()
    page.get_by_role("menuitem", name="End chat").click()
    page.get_by_role("button", name="Rate 4 out of 5").click()
    assert page.get_by_role("button", name="Rate 4 out of 5").get_attribute("aria-pressed") == "true"
    assert not composer.is_visible()
    page.get_by_label("Anything else? (optional)").fill("Quick and kind")
    page.get_by_role("button", name="Submit").click()
    page.get_by_text("Thanks for your rating!").wait_for(timeout=WAIT)
    with tenant_context(tenant):
        conversation = Conversation.objects.get()
        assert (conversation.status, conversation.csat_score, conversation.csat_comment) == (
            "closed",
            4,
            "Quick and kind",
        )

    _reopen(page)  # a closed, rated conversation: no composer, a way to start again
    page.get_by_role("button", name="Start a new conversation").click()
    composer.wait_for(timeout=WAIT)
    with tenant_context(tenant):
        assert Conversation.objects.count() == 2
    assert page.locator("[data-seq]").count() == 0
    assert page.js_errors == []


def test_attachment_upload_and_download(page, site, host_pages, fake, passages, tmp_path):
    tenant, widget = _setup(host_pages, fake, "answers-files", attachment_kinds=["text"], attachment_max_mb=1)
    composer = _open(page, site, host_pages, widget, "/files")
    clip = page.get_by_role("button", name="Attach a file")
    clip.wait_for(timeout=WAIT)
    assert (
        page.locator("input[type=file]").get_attribute("accept")
        == "text/plain,.txt,.csv,.tsv,.json,.md,.markdown"
    )

    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * (1024 * 1024 + 1))
    page.locator("input[type=file]").set_input_files(str(big))
    page.get_by_text("Files can be at most 1 MB.").wait_for(timeout=WAIT)

    note = tmp_path / "order-notes.txt"
    note.write_text("Order 1234: please gift wrap.")
    page.locator("input[type=file]").set_input_files(str(note))
    file_button = page.get_by_role("button", name="📎 order-notes.txt (29 B)")
    file_button.wait_for(timeout=WAIT)
    with tenant_context(tenant):
        message = Message.objects.get()
        assert message.attachments[0]["name"] == "order-notes.txt"

    with page.expect_download(timeout=WAIT) as download:
        file_button.click()
    assert download.value.suggested_filename == "order-notes.txt"
    assert download.value.path().read_bytes() == b"Order 1234: please gift wrap."

    _reopen(page)  # the upload gets no answer: no typing indicator waits for one
    page.get_by_role("button", name="📎 order-notes.txt (29 B)").wait_for(timeout=WAIT)
    assert page.get_by_role("status", name="Assistant is typing…").count() == 0
    assert composer.is_visible() and page.js_errors == []


def test_resume_polls_for_an_answer_still_being_written(page, site, host_pages, fake, passages):
    from django.core.cache import cache

    from chat.answering import _claim_key
    from chat.services import message_append

    tenant, widget = _setup(host_pages, fake, "answers-resume")
    page.emulate_media(reduced_motion="reduce")
    _open(page, site, host_pages, widget, "/resume")
    with tenant_context(tenant):
        conversation = Conversation.objects.get()
        question, _ = message_append(conversation=conversation, role="visitor", text="Still there?")
        # An answer is being written for it (another request holds the claim).
        cache.set(_claim_key(question.pk), 1, timeout=60)

    _reopen(page)  # the visitor's message has no answer yet: the bot is shown typing
    typing = page.get_by_role("status", name="Assistant is typing…")
    typing.wait_for(timeout=WAIT)
    assert typing.locator("span").first.evaluate("s => getComputedStyle(s).animationName") == "none"
    page.locator("p.bubble.mine", has_text="Still there?").wait_for()
    with tenant_context(tenant):
        message_append(
            conversation=conversation,
            role="bot",
            text="Yes, **still here**.",
            reply_to_id=question.pk,
            client_message_id=f"reply:{question.pk}",
        )
    page.locator(".msg strong", has_text="still here").wait_for(timeout=WAIT)  # polled in
    typing.wait_for(state="detached", timeout=WAIT)
    assert page.locator("[data-seq]").count() == 2
    assert page.js_errors == []


def _forward(request):
    """Send an intercepted browser request to the live server (Playwright's own fetch does not
    see Chromium's host mapping): its status, headers and body."""
    import http.client
    from urllib.parse import urlsplit

    url = urlsplit(request.url)
    conn = http.client.HTTPConnection("127.0.0.1", url.port, timeout=10)
    conn.request(
        request.method,
        url.path,
        body=request.post_data_buffer,
        headers={**request.all_headers(), "host": url.netloc},
    )
    response = conn.getresponse()
    body = response.read().decode()
    conn.close()
    return response.status, dict(response.getheaders()), body


def test_a_cut_stream_and_a_pending_answer_are_fetched(page, site, host_pages, fake, passages):
    _, widget = _setup(host_pages, fake, "answers-cut")
    fake.enqueue(Behaviour(text="First answer, in full."), Behaviour(text="Second answer, polled."))
    sends = []

    def tamper(route):
        if route.request.method != "POST":
            route.continue_()
            return
        status, headers, body = _forward(route.request)  # the server answers in full; the browser sees less
        sends.append(body)
        if len(sends) == 1:
            body = body[: body.index("event: done")]  # the connection drops before the end
        else:
            body = body[: body.index("event: typing")] + "event: pending\ndata: {}\n\n"
        route.fulfill(status=status, headers=headers, body=body)

    page.route(lambda url: url.endswith("/messages"), tamper)
    composer = _open(page, site, host_pages, widget, "/cut")
    composer.fill("One?")
    composer.press("Enter")
    page.locator(".msg", has_text="First answer, in full.").wait_for(timeout=WAIT)
    assert page.locator("[aria-busy]").count() == 0  # the partial bubble gave way to the stored answer

    composer.fill("Two?")
    composer.press("Enter")
    page.get_by_role("status", name="Assistant is typing…").wait_for(timeout=WAIT)
    page.locator(".msg", has_text="Second answer, polled.").wait_for(timeout=WAIT)
    page.get_by_role("status", name="Assistant is typing…").wait_for(state="detached", timeout=WAIT)
    assert len(sends) == 2 and "event: delta" in sends[0]
    assert page.locator("[data-seq]").evaluate_all("ns => ns.map(n => n.dataset.seq)") == ["1", "2", "3", "4"]
    assert page.get_by_text("Something went wrong").count() == 0 and composer.input_value() == ""
    assert page.js_errors == []
