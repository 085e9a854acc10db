"""Extraction from small real files: PDF (reportlab), DOCX (python-docx), HTML, Markdown,
text, CSV and JSON; detection by content; clear errors for what cannot be used."""

from __future__ import annotations

import json

import pytest

from knowledge.extraction import Extracted, ExtractionError, detect_type, extract
from tests.knowledge.files_samples import (
    HTML_PAGE,
    docx_bytes,
    encrypted_pdf,
    pdf_bytes,
    png_bytes,
    zip_bytes,
)


def _all_text(extracted: Extracted) -> str:
    return "\n".join(
        [extracted.title]
        + [" > ".join(s.heading_path) + "\n" + s.text + "\n" + s.anchor for s in extracted.sections]
    )


# --------------------------------------------------------------------------- PDF


def test_pdf_pages_keep_their_numbers_and_title_from_metadata():
    data = pdf_bytes(
        ["Alpha: returns are free.", "Beta: refunds take 5 days.", "Gamma: contact us."],
        title="Returns handbook",
    )
    extracted = extract(data, "handbook.pdf")
    assert extracted.kind == "pdf"
    assert extracted.title == "Returns handbook"
    assert [(s.page, s.text) for s in extracted.sections] == [
        (1, "Alpha: returns are free."),
        (2, "Beta: refunds take 5 days."),
        (3, "Gamma: contact us."),
    ]


def test_pdf_title_falls_back_to_first_line_and_bookmarks_give_heading_paths():
    data = pdf_bytes(["Price list 2024\nTea 3 EUR", "Coffee 4 EUR"], outline=["Tea", "Coffee"])
    extracted = extract(data)
    assert extracted.title == "Price list 2024"
    assert [(s.page, s.heading_path) for s in extracted.sections] == [(1, ["Tea"]), (2, ["Coffee"])]


def test_encrypted_pdf_is_refused_clearly():
    data = encrypted_pdf(pdf_bytes(["Secret text"]))
    with pytest.raises(ExtractionError, match="encrypted"):
        extract(data, "secret.pdf")


def test_pdf_restricted_by_an_owner_password_only_is_read():
    data = encrypted_pdf(pdf_bytes(["Open text"]), user_password="", owner_password="owner")
    assert extract(data).sections[0].text == "Open text"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(pdf_bytes(["Truncated text here"])[:400], id="truncated"),
        pytest.param(pdf_bytes(["Truncated text here"])[:-60], id="no-eof"),
        pytest.param(b"%PDF-1.7\n" + b"\x00garbage\xff" * 300, id="garbage"),
        pytest.param(b"%PDF-", id="header-only"),
    ],
)
def test_damaged_pdf_gives_a_clear_error(data):
    with pytest.raises(ExtractionError, match="not a valid PDF"):
        extract(data, "broken.pdf")


def test_pdf_without_text_suggests_a_scan():
    with pytest.raises(ExtractionError, match=r"No text could be extracted \(scanned PDF\?\)"):
        extract(pdf_bytes(["", ""], blank=True))


def test_page_and_size_caps():
    data = pdf_bytes(["one", "two", "three"])
    with pytest.raises(ExtractionError, match="3 pages; the limit is 2"):
        extract(data, max_pages=2)
    with pytest.raises(ExtractionError, match="larger than 1 KB"):
        extract(data, max_bytes=1024)
    with pytest.raises(ExtractionError, match="larger than 20 MB"):
        extract(b"x" * (20 * 1024 * 1024 + 1))


# --------------------------------------------------------------------------- DOCX


def test_docx_headings_build_paths_and_tables_become_records():
    extracted = extract(docx_bytes(core_title="Customer handbook"), "handbook.docx")
    assert extracted.kind == "docx"
    assert extracted.title == "Customer handbook"
    by_path = {tuple(s.heading_path): s.text for s in extracted.sections}
    assert list(by_path) == [(), ("Shipping",), ("Shipping", "Europe"), ("Returns",)]
    assert by_path[()] == "Welcome to the handbook."
    assert by_path[("Shipping",)] == "We ship to most countries."
    europe = by_path[("Shipping", "Europe")]
    assert "Orders to Europe arrive in 3 to 5 days." in europe
    assert "- Tracked parcels only.\n- Customs included." in europe
    assert "Zone: France; Days: 3\nZone: Spain; Days: 5" in europe
    assert by_path[("Returns",)] == "Returns are free within 30 days."
    assert all(s.page is None and s.anchor == "" for s in extracted.sections)


def test_docx_title_from_title_style_then_first_heading():
    assert extract(docx_bytes(title_paragraph="Staff guide")).title == "Staff guide"
    assert extract(docx_bytes()).title == "Shipping"


def test_invalid_docx_is_refused_clearly():
    broken = zip_bytes({"[Content_Types].xml": b"<nope", "word/document.xml": b"not xml at all"})
    with pytest.raises(ExtractionError, match="not a valid DOCX"):
        extract(broken, "broken.docx")
    with pytest.raises(ExtractionError, match="not a valid DOCX"):
        extract(docx_bytes()[:3000], "cut.docx")


# --------------------------------------------------------------------------- HTML


def test_html_keeps_main_content_without_boilerplate_or_hidden_text():
    extracted = extract(HTML_PAGE.encode(), "page.html")
    assert extracted.kind == "html"
    assert extracted.title == "Help centre - Example Shop"
    everything = _all_text(extracted)
    assert "MARKER" not in everything, everything
    assert "Dark box text stays" in everything
    assert [(s.heading_path, s.anchor) for s in extracted.sections] == [
        (["Shipping"], "shipping"),
        (["Shipping", "Europe"], "europe"),
        (["Shipping", "Returns"], "returns"),
    ]
    shipping, europe, returns = (s.text for s in extracted.sections)
    assert shipping.startswith("We ship worldwide from our warehouse.")
    assert "Orders leave within one day." in shipping
    assert europe == (
        "Parcels to Europe take 3 to 5 days.\n\n"
        "- France\n- Spain\n  - Madrid\n\n"
        "Country: France; Days: 3\nCountry: Spain; Days: 5"
    )
    assert returns == "Returns are free."


def test_html_without_main_uses_the_body_minus_boilerplate():
    page = b"""<html><head><title>T</title></head><body>
      <div class="top-menu">Home | MARKER-MENU</div>
      <div class="breadcrumbs">Home / MARKER-CRUMB</div>
      <div role="navigation">MARKER-ROLE-NAV</div>
      <div class="page-with-sidebar"><h1>About us</h1><p>We sell tea.</p>
        <div class="newsletter-signup">MARKER-NEWSLETTER</div></div>
      <div role="contentinfo">MARKER-CONTENTINFO</div>
    </body></html>"""
    extracted = extract(page)
    assert "MARKER" not in _all_text(extracted)
    assert [(s.heading_path, s.text) for s in extracted.sections] == [(["About us"], "We sell tea.")]


def test_html_boilerplate_words_never_remove_the_content_wrapper():
    story = "We started in 1990 making tea in a small shop, and we grew slowly and carefully."
    page = f"""<html><body class="home has-sidebar"><div id="content" class="content-with-sidebar">
      <div class="content-area"><h2>Our story</h2><p>{story}</p></div>
      <div class="widget-area sidebar"><h2>MARKER-RECENT</h2><ul><li>MARKER-POST</li></ul></div>
    </div><div class="cookie-notice">MARKER-COOKIE notice</div></body></html>"""
    extracted = extract(page.encode())
    assert "MARKER" not in _all_text(extracted)
    assert [(s.heading_path, s.text) for s in extracted.sections] == [(["Our story"], story)]


def test_html_article_keeps_its_own_header_and_title_falls_back_to_h1():
    page = b"""<html><body><header>MARKER-SITE-HEADER</header>
      <article><header><h1>Opening hours</h1></header><p>Open 9 to 5.</p>
      <footer>MARKER-ARTICLE-FOOTER</footer></article></body></html>"""
    extracted = extract(page)
    assert extracted.title == "Opening hours"
    assert [(s.heading_path, s.text) for s in extracted.sections] == [(["Opening hours"], "Open 9 to 5.")]


def test_html_more_hiding_tricks_are_dropped():
    page = b"""<html><body style="background:#fff"><main>
      <p>Visible one.</p>
      <p><font color="white">MARKER-FONT-WHITE</font></p>
      <div style="background: white"><span style="color: rgb(255, 255, 255)">MARKER-RGB</span></div>
      <p style="color: rgba(0,0,0,0)">MARKER-TRANSPARENT</p>
      <p style="position:absolute; left:-9999px">MARKER-OFFSCREEN</p>
      <p style="height:0; overflow:hidden">MARKER-ZERO-HEIGHT</p>
      <p class="sr-only">MARKER-SR-ONLY</p>
      <p class="hidden md:block">Shown on desktop.</p>
      <p style="font-size: 1px">MARKER-TINY</p>
      <p>Zero\xe2\x80\x8bwidth joins.</p>
    </main></body></html>"""
    extracted = extract(page)
    assert "MARKER" not in _all_text(extracted)
    assert extracted.sections[0].text == "Visible one.\n\nShown on desktop.\n\nZerowidth joins."


def test_html_accordion_panels_opened_by_a_click_are_content():
    page = b"""<html><body><main><h2>FAQ</h2>
      <button aria-expanded="false" aria-controls="a1">Do you ship abroad?</button>
      <div id="a1" hidden>Yes, to 40 countries.</div>
      <div hidden>MARKER-PLAIN-HIDDEN</div></main></body></html>"""
    extracted = extract(page)
    assert extracted.sections[0].text == "Yes, to 40 countries."
    assert "MARKER" not in _all_text(extracted)


def test_html_charset_from_meta_and_bom():
    latin = (
        '<html><head><meta charset="iso-8859-1"><title>Caf\xe9</title></head>'
        "<body><p>cr\xe8me br\xfbl\xe9e</p>"
    )
    extracted = extract(latin.encode("latin-1"))
    assert extracted.title == "Café"
    assert extracted.sections[0].text == "crème brûlée"
    bom = "<html><body><p>naïve</p></body></html>".encode("utf-16")  # with a BOM
    assert extract(bom).sections[0].text == "naïve"
    broken = b"<html><body><p>bad \xff byte</p></body></html>"
    assert extract(broken).sections[0].text == "bad \ufffd byte"


def test_html_code_and_row_header_tables_stay_readable():
    page = b"""<html><body><main><pre>def f():
    return 1</pre>
      <table><tr><th>Phone</th><td>+33 1 23</td></tr><tr><th>Email</th><td>hi@example.com</td></tr></table>
      <p>Line one<br>Line two</p></main></body></html>"""
    text = extract(page).sections[0].text
    assert text == "def f():\n    return 1\n\nPhone: +33 1 23\nEmail: hi@example.com\n\nLine one\nLine two"


def test_html_that_is_empty_after_cleaning_has_no_text():
    with pytest.raises(ExtractionError, match="No text could be extracted"):
        extract(b"<html><body><nav>Home</nav><div hidden>MARKER</div></body></html>")


# --------------------------------------------------------------------------- Markdown, text


def test_markdown_headings_build_paths_and_code_fences_are_kept():
    text = """---
title: Setup guide
---
Intro line.

# Install

Run the installer.

```bash
# not a heading
pip install   thing
```

## Linux

Use the package.

Configure
=========

Edit the file.
<!-- MARKER-COMMENT -->
"""
    extracted = extract(text.encode(), "guide.md")
    assert extracted.kind == "markdown"
    assert extracted.title == "Setup guide"
    assert [(s.heading_path, s.text) for s in extracted.sections] == [
        ([], "Intro line."),
        (["Install"], "Run the installer.\n\n```bash\n# not a heading\npip install   thing\n```"),
        (["Install", "Linux"], "Use the package."),
        (["Configure"], "Edit the file."),
    ]


def test_plain_text_paragraphs_and_control_characters():
    data = b"Opening hours\r\n\r\nMonday\x00 to   Friday\x07, 9-5.\r\nClosed on Sundays.\n\n\n\nCall us."
    extracted = extract(data, "hours.txt")
    assert extracted.kind == "text"
    assert extracted.title == "Opening hours"
    assert extracted.sections[0].text == (
        "Opening hours\n\nMonday to Friday, 9-5.\nClosed on Sundays.\n\nCall us."
    )


# --------------------------------------------------------------------------- CSV, JSON


def test_csv_rows_become_records():
    data = b'Product,Price,Notes\nTea,3,"Green, loose"\nCoffee,4,\n'
    extracted = extract(data, "prices.csv")
    assert extracted.kind == "csv"
    assert extracted.title == "prices"
    assert [(s.heading_path, s.text) for s in extracted.sections] == [
        (["prices"], "Product: Tea; Price: 3; Notes: Green, loose"),
        (["prices"], "Product: Coffee; Price: 4"),
    ]


def test_csv_with_semicolons_and_a_misleading_extension():
    data = "Name;City;Phone\nAnna;Paris;123\nBen;Lyon;456\nChloé;Nice;789\n".encode()
    extracted = extract(data, "contacts.json")
    assert extracted.kind == "csv"
    assert extracted.sections[2].text == "Name: Chloé; City: Nice; Phone: 789"


def test_json_array_of_objects_becomes_records_with_dotted_keys():
    data = json.dumps(
        [
            {"name": "Tea", "price": {"amount": 3, "currency": "EUR"}, "tags": ["green", "loose"]},
            {"name": "Coffee", "price": {"amount": 4, "currency": "EUR"}, "stock": None, "organic": True},
        ]
    ).encode()
    extracted = extract(data, "products.json")
    assert extracted.kind == "json"
    assert [(s.heading_path, s.text) for s in extracted.sections] == [
        (["products"], "name: Tea; price.amount: 3; price.currency: EUR; tags: green, loose"),
        (["products"], "name: Coffee; price.amount: 4; price.currency: EUR; organic: true"),
    ]


def test_json_object_becomes_key_value_lines_and_nested_record_lists():
    data = json.dumps(
        {
            "shop": {"name": "Example", "open": "9-5"},
            "faq": [{"q": "Refunds?", "a": "Within 30 days."}],
            "version": 2,
        }
    ).encode()
    extracted = extract(data)
    assert [(s.heading_path, s.text) for s in extracted.sections] == [
        ([], "shop.name: Example\nshop.open: 9-5"),
        (["faq"], "q: Refunds?; a: Within 30 days."),
        ([], "version: 2"),
    ]


def test_invalid_json_is_refused_clearly():
    with pytest.raises(ExtractionError, match="not valid JSON"):
        extract(b'{"items": [1, 2', "data.json")


# --------------------------------------------------------------------------- detection


def test_images_programs_and_plain_zips_are_refused():
    with pytest.raises(ExtractionError, match="PNG image"):
        detect_type(png_bytes(), "photo.pdf")
    with pytest.raises(ExtractionError, match="ZIP archive"):
        detect_type(zip_bytes({"notes.txt": b"hello"}), "notes.docx")
    with pytest.raises(ExtractionError, match="ZIP archive"):
        extract(zip_bytes({"notes.txt": b"hello"}), "archive.zip")
    with pytest.raises(ExtractionError, match="Excel"):
        detect_type(zip_bytes({"xl/workbook.xml": b"<x/>"}))
    with pytest.raises(ExtractionError, match="program"):
        detect_type(b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 100, "setup.txt")
    with pytest.raises(ExtractionError, match="binary"):
        detect_type(bytes(range(256)) * 4, "data.csv")
    with pytest.raises(ExtractionError, match="empty"):
        detect_type(b"  \n ", "empty.txt")


@pytest.mark.parametrize(
    ("data", "filename", "kind"),
    [
        (pdf_bytes(["x"]), "notes.txt", "pdf"),
        (docx_bytes(), "report.pdf", "docx"),
        (docx_bytes()[:2000], "upload", "docx"),  # only the first bytes of an upload
        (b"<!doctype html><p>Hi</p>", "data.csv", "html"),
        (b"  <html><body>x</body></html>", "", "html"),
        (b"<div><p>fragment</p></div>", "page.html", "html"),
        (b'{"a": 1}', "readme.md", "json"),
        (b'[{"a": 1}, {"a": ', "head.json", "json"),  # a cut-off head of a long JSON file
        (b"a,b\n1,2\n3,4\n", "", "csv"),
        (b"# Title\n\nText", "notes.txt", "markdown"),
        (b"Just some words.\nMore words.", "notes.md", "markdown"),
        (b"Just some words.\nMore words.", "notes.txt", "text"),
        (b"Hello, world.\nGoodbye, moon.", "text.md", "markdown"),  # prose with commas is not CSV
        (b"[link](https://example.com) text", "", "text"),
    ],
)
def test_type_is_detected_by_content(data, filename, kind):
    assert detect_type(data, filename) == kind
