"""chat.file_context through the real answer loop: a visitor's file attached through the
widget API (and the server-side chat API) becomes its conversation's context; the model
asks for ``query_table`` (the fake LLM server, through the real SDKs), the computed result
goes back to it; the offline provider answers plain table questions by computing; another
conversation of the same visitor never sees the file; the file goes with its conversation."""

from __future__ import annotations

import json
import random
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from chat.file_context import FileTools
from chat.models import Attachment, ConversationFile
from chat.services.deletion import attachments_remove, conversations_delete
from chat.views import citation_rows
from privacy.services.contacts import contact_erase
from tests.chat.factories import ConversationFactory
from tests.chat.test_api import _client
from tests.chat.visitors import Visitor, make_visitor
from tests.fakes.llm_server import Behaviour, FakeToolCall
from tests.tenants.factories import ApiKeyFactory
from widget_builder.models import Widget
from widget_builder.services import widget_publish

pytestmark = pytest.mark.django_db

QUESTION = "What is the total of amount where region is North?"


def sales_csv(rows: int = 10_000, seed: int = 7) -> tuple[bytes, Decimal, int]:
    """A CSV of ``rows`` orders, the exact total of North's amounts and their count."""
    rng = random.Random(seed)
    lines, total, north = ["order,region,amount,day"], Decimal(0), 0
    for n in range(rows):
        region = rng.choice(["North", "South", "East", "West"])
        amount = Decimal(rng.randint(1, 9_999_999)) / 100
        if region == "North":
            total, north = total + amount, north + 1
        lines.append(f"{n + 1},{region},{amount:.2f},2026-{n % 12 + 1:02d}-{n % 28 + 1:02d}")
    return ("\n".join(lines) + "\n").encode(), total, north


@pytest.fixture(scope="module")
def sales() -> tuple[bytes, Decimal, int]:
    return sales_csv()


@pytest.fixture
def reader(tenant_a, fake_llm) -> Visitor:
    visitor = make_visitor(tenant_a)
    visitor.bot(attachment_kinds=["text", "pdf"], files_as_context=True)
    return visitor


def upload(client, visitor: Visitor, name: str, data: bytes) -> dict:
    response = client.post(
        visitor.path("attachments"),
        {"file": SimpleUploadedFile(name, data, content_type="text/csv")},
        **visitor.headers(),
    )
    assert response.status_code == 201, response.content
    (entry,) = response.json()["attachments"]
    return entry


def _file(visitor: Visitor) -> ConversationFile:
    with tenant_context(visitor.tenant):
        return ConversationFile.objects.select_related("attachment").get(conversation=visitor.conversation)


@pytest.mark.parametrize("api", ["anthropic", "openai"])
def test_a_total_over_10000_rows_is_computed_by_the_tool_exactly(
    client, reader, sales, fake_llm, settings, api
):
    settings.LLM_PROVIDER = api
    data, total, north = sales
    entry = upload(client, reader, "sales.csv", data)
    assert entry["context_status"] == "ready" and entry["context_error"] == ""
    query = {
        "file": entry["id"],
        "filters": [{"column": "region", "op": "eq", "value": "North"}],
        "aggregate": {"op": "sum", "column": "amount"},
    }
    fake_llm.enqueue(
        Behaviour(tool_calls=[FakeToolCall("query_table", query)]),
        Behaviour(text=f"The total for North is {total} [1]."),
    )
    answer = reader.send(client, QUESTION).json()["answer"]
    assert answer["outcome"] == "answered"
    assert answer["message"]["text"] == f"The total for North is {total} [1]."
    first, second = fake_llm.requests
    assert first.tool_names == ["query_table"]
    assert "sales.csv" in first.prompt_text and "10000 rows" in first.prompt_text
    assert "order (integer), region (text), amount (decimal), day (date)" in first.prompt_text
    [result] = second.tool_results
    computed = json.loads(result["content"])
    assert not result["is_error"]
    assert computed["file"] == "sales.csv" and computed["matched_rows"] == north
    assert Decimal(computed["value"]) == total and computed["value"] == str(total)
    [citation] = answer["message"]["citations"]
    assert citation["file"] == "sales.csv" and citation["title"] == "sales.csv"
    assert citation["rows"] == computed["row_numbers"] and len(citation["rows"]) == 20


def test_agents_see_the_rows_a_citation_names():
    shown = citation_rows([{"n": 1, "title": "s.csv", "file": "s.csv", "rows": [1, 2, 3, 4, 5, 6]}])
    assert shown[0]["rows"] == "1, 2, 3, 4, 5 …"
    assert citation_rows([{"n": 2, "title": "Help"}])[0]["rows"] == ""


def test_the_offline_provider_computes_plain_table_questions(client, reader, sales, settings):
    settings.LLM_PROVIDER = "offline"
    data, total, north = sales
    upload(client, reader, "sales.csv", data)
    answer = reader.send(client, QUESTION).json()["answer"]
    text = answer["message"]["text"]
    assert text == (
        f"The total of amount where region is North is {total} "
        f"(computed from {north} of the 10000 rows of sales.csv). [1]"
    )
    [citation] = answer["message"]["citations"]
    assert citation["file"] == "sales.csv" and citation["rows"][:1] and len(citation["rows"]) == 20
    counted = reader.send(client, "How many rows where region is North?").json()["answer"]
    assert counted["message"]["text"].startswith(f"{north} of the 10000 rows of sales.csv")


def test_another_conversation_of_the_same_visitor_never_sees_the_file(client, reader, fake_llm):
    entry = upload(client, reader, "secret.csv", b"code,amount\nZEBRA-MARKER-93,12.50\n")
    with tenant_context(reader.tenant):
        other = ConversationFactory(widget=reader.widget, contact=reader.contact)
    elsewhere = Visitor(reader.tenant, reader.widget, reader.contact, other, reader.token)
    query = {"file": entry["id"], "aggregate": {"op": "sum", "column": "amount"}}
    fake_llm.enqueue(
        Behaviour(tool_calls=[FakeToolCall("query_table", query)]),
        Behaviour(text="I have no file here."),
    )
    assert elsewhere.send(client, "What is the total of amount?").status_code == 201
    first, second = fake_llm.requests
    for request in (first, second):
        assert "secret.csv" not in request.prompt_text and "ZEBRA-MARKER-93" not in request.prompt_text
        assert "query_table" not in request.tool_names
    [refused] = second.tool_results
    assert "12.5" not in refused["content"] and "no tool named" in refused["content"]
    # Asked directly, the tool refuses another conversation's file by id and by name.
    with tenant_context(reader.tenant):
        for name in (entry["id"], "secret.csv"):
            text, is_error = FileTools().call(
                conversation_id=other.pk, name="query_table", arguments={"file": name}, arguments_error=""
            )
            assert is_error and "no such table" in text
        text, is_error = FileTools().call(
            conversation_id=reader.conversation.pk,
            name="query_table",
            arguments={"file": entry["id"], "aggregate": {"op": "sum", "column": "amount"}},
            arguments_error="",
        )
    assert not is_error and json.loads(text)["value"] == "12.50"


def test_a_small_text_file_goes_into_the_prompt_and_is_cited_by_name(client, reader, fake_llm):
    upload(client, reader, "notes.md", b"# Plan\n\nThe launch is on 12 March in Lisbon.\n")
    fake_llm.enqueue(Behaviour(text="It launches on 12 March [1]."))
    answer = reader.send(client, "Summarise my file").json()["answer"]
    [request] = fake_llm.requests
    assert "The launch is on 12 March in Lisbon." in request.prompt_text
    assert request.tool_names == []  # no table: no query tool
    [citation] = answer["message"]["citations"]
    assert citation["file"] == "notes.md" and citation["rows"] == []


def test_bad_files_are_attached_with_a_clear_could_not_read_state(client, reader):
    ragged = upload(client, reader, "ragged.csv", b"a,b\n1,2\n3\n")
    assert ragged["context_status"] == "failed"
    assert "Row 3 has 1 cells where the header has 2" in ragged["context_error"]
    broken = upload(client, reader, "data.json", b'{"a": ')
    assert broken["context_status"] == "failed" and "not valid JSON" in broken["context_error"]
    with tenant_context(reader.tenant):
        assert Attachment.objects.filter(conversation=reader.conversation).count() == 2
        assert set(ConversationFile.objects.values_list("status", flat=True)) == {"failed"}


def test_nothing_is_read_while_the_bot_does_not_read_files(client, reader, fake_llm):
    reader.bot(files_as_context=False)
    entry = upload(client, reader, "sales.csv", b"a,b\n1,2\n")
    assert entry["context_status"] is None
    with tenant_context(reader.tenant):
        assert not ConversationFile.objects.filter(conversation=reader.conversation).exists()


def test_the_file_goes_with_its_attachment_and_its_conversation(client, reader):
    upload(client, reader, "one.csv", b"a\n1\n")
    upload(client, reader, "two.csv", b"a\n2\n")
    with tenant_context(reader.tenant):
        first = Attachment.objects.get(name="one.csv")
        assert attachments_remove(attachment_ids=[first.pk]) == 1
        assert list(ConversationFile.objects.values_list("attachment__name", flat=True)) == ["two.csv"]
        removed = conversations_delete(conversation_ids=[reader.conversation.pk])
        assert removed.attachments == 1
        assert not ConversationFile.objects.exists()
    listed = client.get(reader.messages_path, **reader.headers())
    assert listed.status_code in (401, 404)


def test_a_contacts_erasure_leaves_nothing_the_bot_read(client, tenant_a, fake_llm):
    visitor = make_visitor(tenant_a, email="erase-me@example.com")
    visitor.bot(attachment_kinds=["text"], files_as_context=True)
    upload(client, visitor, "mine.csv", b"a\n1\n")
    with tenant_context(visitor.tenant):
        assert ConversationFile.objects.filter(conversation=visitor.conversation).exists()
        contact_erase(contact=visitor.contact, request=None)
        assert not ConversationFile.objects.filter(conversation_id=visitor.conversation.pk).exists()
        assert not Attachment.objects.filter(conversation_id=visitor.conversation.pk).exists()


def test_the_server_side_chat_api_accepts_files_the_same_way(tenant_a, fake_llm):
    with tenant_context(tenant_a.tenant):
        widget = widget_publish(widget=Widget.objects.order_by("id").first())
    server = _client(tenant_a, secret=ApiKeyFactory(tenant=tenant_a.tenant, role="agent").secret)
    opened = server.post(
        "/api/v1/chat/conversations",
        json.dumps({"widget_id": widget.pk, "external_id": "user-7"}),
        content_type="application/json",
    ).json()
    path = f"/api/v1/chat/conversations/{opened['id']}/attachments"
    csv_file = SimpleUploadedFile("q.csv", b"sku,qty\nA,2\nB,3\n", content_type="text/csv")
    refused = server.post(path, {"file": csv_file})
    assert refused.status_code == 422 and refused.json()["code"] == "attachment_refused"
    Visitor(tenant_a.tenant, widget, None, None, "").bot(attachment_kinds=["text"], files_as_context=True)
    csv_file.seek(0)
    created = server.post(path, {"file": csv_file, "text": "Stock"})
    assert created.status_code == 201, created.content
    [entry] = created.json()["attachments"]
    assert entry["context_status"] == "ready" and created.json()["text"] == "Stock"
    with tenant_context(tenant_a.tenant):
        stored = ConversationFile.objects.get(attachment__public_id=entry["id"])
    assert stored.rows == [["A", "2"], ["B", "3"]] and stored.conversation_id == opened["id"]
    assert server.post(f"/api/v1/chat/conversations/{opened['id'] + 999}/attachments", {}).status_code == 404


def test_a_fence_tag_inside_a_passage_is_made_inert_in_any_case_and_spacing():
    from chat.answering.prompt import fenced

    text = "a </PASSAGES> b < / passage > c <passage n=9> d </passage>"
    assert fenced(text) == "a &lt;/PASSAGES> b &lt; / passage > c &lt;passage n=9> d &lt;/passage>"
    assert fenced("plain <b>text</b>") == "plain <b>text</b>"


def test_the_offline_provider_says_whose_words_it_quotes():
    """A visitor's own file is quoted as theirs, never as the knowledge base."""
    import types

    from chat.file_context import FilePassage
    from chat.llm.offline import offline_answer
    from knowledge.retrieval import Passage

    def answer(*passages) -> str:
        request = types.SimpleNamespace(
            computed_answer="", passages=list(passages), no_answer_text="-", question="When do returns close?"
        )
        return offline_answer(request)

    theirs = FilePassage(text="Returns close on Friday.", title="notes.txt", file="notes.txt")
    ours = Passage(text="Returns close after 30 days.", title="Returns")
    assert answer(theirs).startswith("Here is what your file says:")
    assert answer(ours).startswith("Here is what our knowledge base says:")
    assert answer(theirs, ours).startswith("Here is what your file and our knowledge base say:")
