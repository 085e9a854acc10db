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


def test_json_objects_with_keys_of_their_own_are_refused_before_rows_are_built():
    """Each object its own key: rows x columns would grow with the square of the objects
    (5,000 objects of 69 KB took 409 MB); the columns are counted as they are merged."""
    import tracemalloc

    data = json.dumps([{f"k{n}": 0} for n in range(5000)]).encode()
    tracemalloc.start()
    try:
        with pytest.raises(FileUnreadable, match="more than 100 columns"):
            _read(data, "keys.json")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40_000_000  # the parsed file and the header, never a grown table


def test_deep_json_is_refused_and_other_json_is_kept_compact():
    deep = b"[" * 200 + b"1" + b"]" * 200
    with pytest.raises(FileUnreadable, match="nests deeper than 32 levels"):
        _read(deep, "deep.json")
    nested = json.dumps({"a": {"b": {"c": ["x", "y"]}}}).encode()
    text = _read(nested, "nested.json").chunks[0]["text"]
    assert text == '{"a": {"b": {"c": ["x", "y"]}}}'  # not indented (the size times the depth)


def test_a_long_paragraph_is_cut_in_order_and_read_no_further_than_kept():
    words = [f"w{n}" for n in range(600_000)]  # about 4.5 MB in one paragraph
    read = _read(" ".join(words).encode(), "one.txt")
    kept = " ".join(chunk["text"] for chunk in read.chunks)
    assert all(len(chunk["text"]) <= file_reading.CHUNK_CHARS for chunk in read.chunks)
    assert kept.split() == words[: len(kept.split())]  # in order, nothing lost between cuts
    assert sum(len(chunk["text"]) for chunk in read.chunks) <= file_reading.MAX_TEXT_CHARS


def test_numbers_longer_than_exact_arithmetic_are_text():
    data = b"item,amount\nA,1" + b"0" * 60 + b"\nB,2.5\n"
    read = _read(data, "big.csv")
    assert read.columns[1] == {"name": "amount", "type": "text"}


def _heavy_pdf(pages: int, draws: int) -> bytes:
    """A PDF whose pages each draw ``draws`` lines after their text: a few KB compressed,
    seconds of work to read."""
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes(["Opening hours"] * pages))))
    for page in writer.pages:
        contents = page.get_contents()
        contents.set_data(contents.get_data() + b"0 0 m 1 1 l S\n" * draws)
        page.replace_contents(contents)
        page.compress_content_streams()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_pdf_whose_pages_draw_too_much_is_refused_without_reading_them():
    data = _heavy_pdf(pages=2, draws=60_000)  # 840 KB of drawing a page, under 10 KB stored
    assert len(data) < 20_000
    with pytest.raises(FileUnreadable, match="take too long to read"):
        _read(data, "heavy.pdf", "application/pdf")
    # The knowledge base's own extraction (in a worker, under its time limit) still reads it.
    from knowledge.extraction import extract

    assert [s.text for s in extract(data, "heavy.pdf").sections] == ["Opening hours"] * 2
