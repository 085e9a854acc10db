"""chat.file_reading: each kind of file a visitor attaches, read for the bot, and every bad
file refused with a reason a person can act on (never an exception of a parser's)."""

from __future__ import annotations

import json

import pytest

from chat import file_reading
from chat.file_reading import FileUnreadable, file_read, readable
from tests.knowledge.files_samples import encrypted_pdf, pdf_bytes


def _read(data: bytes, name: str, content_type: str = "text/plain"):
    return file_read(data, name=name, content_type=content_type)


def test_a_csv_becomes_rows_with_column_names_and_inferred_types():
    data = (
        b"Order,Region,Amount,Shipped,Day,Note\n"
        b"1,North,10.50,yes,2026-01-02,first\n"
        b'2,South,"1,234.25",no,2026-02-30,\n'
        b"\n"
        b"3,North,7,true,2026-03-04,x\n"
    )
    read = _read(data, "sales.csv")
    assert read.kind == "table"
    assert read.columns == [
        {"name": "Order", "type": "integer"},
        {"name": "Region", "type": "text"},
        {"name": "Amount", "type": "decimal"},
        {"name": "Shipped", "type": "boolean"},
        {"name": "Day", "type": "text"},  # 2026-02-30 is no date
        {"name": "Note", "type": "text"},
    ]
    assert read.rows[1] == ["2", "South", "1,234.25", "no", "2026-02-30", ""]
    assert len(read.rows) == 3  # the blank line skipped


def test_semicolons_tabs_a_bom_and_duplicate_or_empty_headers():
    read = _read("\ufeffa;a;\n1;2;3\n".encode(), "x.csv")
    assert [c["name"] for c in read.columns] == ["a", "a (2)", "column 3"]
    assert _read(b"k\tv\nx\t1\n", "x.tsv").columns[1] == {"name": "v", "type": "integer"}


def test_a_json_array_of_objects_is_a_table_and_other_json_is_text():
    rows = [{"sku": "A", "qty": 2, "price": 1.5, "tags": ["x"]}, {"sku": "B", "qty": 3, "active": True}]
    read = _read(json.dumps(rows).encode(), "stock.json")
    assert read.kind == "table"
    assert [c["name"] for c in read.columns] == ["sku", "qty", "price", "tags", "active"]
    assert read.rows[0] == ["A", "2", "1.5", '["x"]', ""] and read.rows[1][4] == "true"
    text = _read(b'{"policy": {"returns": "30 days"}}', "policy.json")
    assert text.kind == "text" and "30 days" in text.chunks[0]["text"]


def test_text_and_markdown_become_chunks_and_a_pdf_keeps_its_page_numbers():
    long = "\n\n".join(f"Paragraph {i} " + "word " * 60 for i in range(40))
    read = _read(long.encode(), "notes.txt")
    assert read.kind == "text" and len(read.chunks) > 5
    assert all(len(c["text"]) <= file_reading.CHUNK_CHARS for c in read.chunks)
    assert read.chunks[0]["page"] is None and read.chunks[0]["text"].startswith("Paragraph 0")
    md = _read(b"# Returns\n\nWithin 30 days.\n", "faq.md")
    assert "Within 30 days." in " ".join(c["text"] for c in md.chunks)
    pdf = _read(pdf_bytes(["Intro page", "Prices go up in May"]), "deck.pdf", "application/pdf")
    assert [(c["page"], c["text"]) for c in pdf.chunks] == [(1, "Intro page"), (2, "Prices go up in May")]


@pytest.mark.parametrize(
    ("data", "name", "content_type", "says"),
    [
        (b"a,b\n1,2\n3\n", "ragged.csv", "text/plain", "Row 3 has 1 cells where the header has 2"),
        (b"a,b\n\x00\x01\x02,\xff\n", "binary.csv", "text/plain", "not text"),
        (b"a,b\n1,\xff\xfe\n", "latin.csv", "text/plain", "not UTF-8"),
        (b'[{"a": 1},', "bad.json", "text/plain", "not valid JSON (line 1)"),
        (b"a,b\n", "header.csv", "text/plain", "no rows"),
        (b"", "empty.csv", "text/plain", "empty"),
        (b"%PDF-1.4 broken", "broken.pdf", "application/pdf", "not a valid PDF"),
    ],
)
def test_bad_files_are_refused_with_a_reason(data, name, content_type, says):
    with pytest.raises(FileUnreadable) as refused:
        _read(data, name, content_type)
    assert says in str(refused.value)


def test_an_encrypted_pdf_and_a_table_over_the_row_cap_are_refused(monkeypatch):
    with pytest.raises(FileUnreadable, match="encrypted"):
        _read(encrypted_pdf(pdf_bytes(["secret"])), "locked.pdf", "application/pdf")
    monkeypatch.setattr(file_reading, "MAX_ROWS", 100)
    with pytest.raises(FileUnreadable, match="more than 100 rows"):
        _read(("n\n" + "1\n" * 101).encode(), "big.csv")
    with pytest.raises(FileUnreadable, match="more than 100 rows"):
        _read(json.dumps([{"n": 1}] * 101).encode(), "big.json")
    assert len(_read(("n\n" + "1\n" * 100).encode(), "full.csv").rows) == 100
    monkeypatch.setattr(file_reading, "MAX_CELLS", 150)  # three columns: 50 rows at most
    with pytest.raises(FileUnreadable, match="more than 50 rows"):
        _read(("a,b,c\n" + "1,2,3\n" * 51).encode(), "wide.csv")
    with pytest.raises(FileUnreadable, match="more than 50 rows"):
        _read(json.dumps([{"a": 1, "b": 2, "c": 3}] * 51).encode(), "wide.json")


def test_which_files_are_read_at_all():
    assert readable("a.csv", "text/plain") and readable("a.pdf", "application/pdf")
    assert readable("README", "text/plain") and readable("x.MD", "text/plain")
    assert not readable("photo.png", "image/png") and not readable("run.sh", "text/plain")
