"""A conversation's files as the bot's context (docs/files.md): the passages its answer is
given (a table's columns and first rows; a small text file whole, a bigger one by its most
relevant chunks), the ``query_table`` tool over its tables
(``tenants.contributions.AnswerTools``), and the offline provider's computed answers to
plain table questions. Only the conversation's own files, and only while its bot reads
files (``BotSettings.files_as_context``). Preconditions: the tenant's schema is active."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.db.models import F, Func, IntegerField, JSONField

from knowledge.retrieval import Passage
from tenants.contributions import ToolCard

from .file_query import SCHEMA, QueryRefused, Result, Table, table_query
from .llm.base import Tool, ToolCall, ToolResult
from .models import ConversationFile
from .services.files import KNOWN_SECONDS, files_known_key

SMALL_FILE_CHARS = 12_000  # a text file this small goes into the prompt whole
FILE_PASSAGES = 6  # chunks of bigger files, at most, per answer
PASSAGE_CHARS = 24_000  # every file's passages together
SAMPLE_ROWS = 5
TOOL_NAME = "query_table"
WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class FilePassage(Passage):
    """A passage of a visitor's file: cited with the file's name and the page or the rows."""

    rows: list[int] = field(default_factory=list)
    table: bool = False  # a table's summary (its tool computes over it)
    visitor_file = True  # the offline provider quotes it as the visitor's file

    def citation(self, number: int) -> dict[str, Any]:
        return {**super().citation(number), "rows": list(self.rows)}


def conversation_files(conversation_id: int, *, kind: str | None = None) -> list[ConversationFile]:
    """The files the bot reads in this conversation, oldest first (none while its bot does
    not read files)."""
    if not _may_have_files(conversation_id):
        return []
    files = (
        ConversationFile.objects.filter(
            conversation_id=conversation_id,
            status=ConversationFile.Status.READY,
            conversation__widget__bot__files_as_context=True,
        )
        .select_related("attachment")
        # A table's rows load only when a query runs over them (``file_table``).
        .defer("rows")
        .annotate(
            row_count=Func(F("rows"), function="jsonb_array_length", output_field=IntegerField()),
            sample_rows=Func(
                F("rows"),
                template=f"jsonb_path_query_array(%(expressions)s, '$[0 to {SAMPLE_ROWS - 1}]')",
                output_field=JSONField(),
            ),
        )
    )
    if kind is not None:
        files = files.filter(kind=kind)
    return list(files.order_by("created_at", "pk"))


def _may_have_files(conversation_id: int) -> bool:
    """False only when the database said so (kept in the cache with ``add``: a file stored
    meanwhile has set "yes", which a slower "no" does not replace)."""
    key = files_known_key(conversation_id)
    known = cache.get(key)
    if known is None:
        known = ConversationFile.objects.filter(conversation_id=conversation_id).exists()
        cache.add(key, known, timeout=KNOWN_SECONDS)
    return bool(known)


def file_table(file: ConversationFile) -> Table:
    return Table(name=file.attachment.name, columns=file.columns, rows=file.rows)


def row_count(file: ConversationFile) -> int:
    """The rows of a table from :func:`conversation_files` (counted by the database)."""
    return int(getattr(file, "row_count", None) or len(file.rows))


def _terms(text: str) -> set[str]:
    return {w for w in WORD.findall(text.casefold()) if len(w) > 2}


def file_passages(files: list[ConversationFile], question: str) -> list[FilePassage]:
    """What the answer is given of ``files``, bounded by ``PASSAGE_CHARS``."""
    passages: list[FilePassage] = []
    budget = PASSAGE_CHARS
    terms = _terms(question)
    for file in files:
        name = file.attachment.name
        if file.kind == ConversationFile.Kind.TABLE:
            text = _table_summary(file)
            passages.append(FilePassage(text=text, title=name, file=name, table=True))
            budget -= len(text)
            continue
        chunks = file.chunks
        if sum(len(c["text"]) for c in chunks) > SMALL_FILE_CHARS:
            scored = sorted(range(len(chunks)), key=lambda i: (-len(terms & _terms(chunks[i]["text"])), i))
            picked = sorted(scored[:FILE_PASSAGES])  # the best ones, in the file's order
            chunks = [chunks[i] for i in picked]
        for chunk in chunks:
            if len(chunk["text"]) > budget:
                break
            budget -= len(chunk["text"])
            passages.append(FilePassage(text=chunk["text"], title=name, file=name, page=chunk.get("page")))
    return passages


def _table_summary(file: ConversationFile) -> str:
    columns = ", ".join(f"{c['name']} ({c['type']})" for c in file.columns)
    lines = [
        f"A table the visitor attached, file id {file.attachment.public_id}: {row_count(file)} rows; "
        f"columns: {columns}. Compute totals, counts, averages, minimums, maximums and filters "
        f"with the {TOOL_NAME} tool, never by hand. First rows:",
        " | ".join(c["name"] for c in file.columns),
    ]
    lines += [" | ".join(row) for row in getattr(file, "sample_rows", None) or file.rows[:SAMPLE_ROWS]]
    return "\n".join(lines)[:4000]


class FileTools:
    """``query_table`` over the conversation's own tables (offered when it has any)."""

    def offered(self, *, conversation_id: int, widget_id: int = 0) -> list[Tool]:
        tables = conversation_files(conversation_id, kind=ConversationFile.Kind.TABLE)
        if not tables:
            return []
        listed = "; ".join(
            f"{f.attachment.name} (id {f.attachment.public_id}, {row_count(f)} rows: "
            + ", ".join(f"{c['name']} {c['type']}" for c in f.columns)
            + ")"
            for f in tables
        )
        description = (
            "Compute over a table the visitor attached: filters (eq, ne, lt, lte, gt, gte, contains, "
            "in, empty, not_empty), one aggregate (count, sum, avg, min, max, count_distinct), an "
            "optional group_by column, a sort and a limit. Exact decimal arithmetic; the result "
            f"names the rows used. Tables: {listed}"
        )
        return [Tool(name=TOOL_NAME, description=description[:4000], parameters=SCHEMA)]

    def call(
        self,
        *,
        conversation_id: int,
        name: str,
        arguments: dict[str, Any],
        arguments_error: str,
        widget_id: int = 0,
    ) -> tuple[str, bool]:
        if name != TOOL_NAME:
            return f"There is no tool named {name!r}; use only the tools offered.", True
        if arguments_error:
            return f"The arguments could not be read: {arguments_error}", True
        file = _file_named(conversation_id, arguments.get("file"))
        if file is None:
            return "There is no such table in this conversation; use a file id as listed.", True
        try:
            result = table_query(file_table(file), arguments)
        except QueryRefused as refusal:
            return f"Query refused: {refusal}", True
        answer = {"file": file.attachment.name, **result.as_dict()}
        return json.dumps(answer, ensure_ascii=False, default=str), False

    def offline_form(self, *, conversation_id: int, text: str) -> ToolCard | None:
        return None  # no form: the offline provider computes plain table questions itself


def rows_cited(passages: list[Passage], calls: list[ToolCall], results: list[ToolResult]) -> None:
    """A table's passage (in ``passages``, changed in place) cites the rows that the last
    ``query_table`` over it matched, as its result named them (the first 20)."""
    for call, result in zip(calls, results, strict=False):
        if call.name != TOOL_NAME or result.is_error:
            continue
        try:
            found = json.loads(result.content)
        except ValueError:
            continue
        rows = [n for n in found.get("row_numbers") or [] if isinstance(n, int)]
        for index, passage in enumerate(passages):
            if isinstance(passage, FilePassage) and passage.table and passage.file == found.get("file"):
                passages[index] = dataclasses.replace(passage, rows=rows)


def _file_named(conversation_id: int, wanted: Any) -> ConversationFile | None:
    """A table of this conversation by its id or its exact name (never another's)."""
    if not isinstance(wanted, str) or not wanted.strip():
        return None
    wanted = wanted.strip()
    for file in conversation_files(conversation_id, kind=ConversationFile.Kind.TABLE):
        if wanted in (str(file.attachment.public_id), file.attachment.name):
            return file
    return None


# The offline provider's plain table questions (English): "total of <column> where
# <column> is <value>", "average/min/max ...", "how many rows where <column> is <value>".
_FILTER = r"(?:\s+(?:where|for|with|when)\s+(?P<fcol>.+?)\s+(?:is|=|equals|was)\s+(?P<value>.+?))?"
_AGGREGATE = re.compile(
    r"^(?:what(?:'s| is| are)\s+)?(?:the\s+)?(?P<op>total|sum|average|mean|minimum|min|maximum|max|"
    r"lowest|highest|smallest|largest)(?:\s+of)?\s+(?:the\s+)?(?P<col>.+?)" + _FILTER + r"\s*[?.!]*$",
    re.I,
)
_COUNT = re.compile(
    r"^how\s+many\s+(?:rows|records|lines|entries|items)(?:\s+are\s+there)?" + _FILTER + r"\s*[?.!]*$",
    re.I,
)
QUOTES = "'\"\u2018\u2019\u201c\u201d"
_OPS = {
    "total": "sum",
    "sum": "sum",
    "average": "avg",
    "mean": "avg",
    "minimum": "min",
    "min": "min",
    "lowest": "min",
    "smallest": "min",
    "maximum": "max",
    "max": "max",
    "highest": "max",
    "largest": "max",
}
_WORDS = {"sum": "total", "avg": "average", "min": "minimum", "max": "maximum", "count": "number of rows"}


@dataclass
class Computed:
    text: str  # the answer, citing the table's passage
    table: int  # which of the tables
    rows: list[int]  # the first rows it was computed from


def computed_answer(question: str, tables: list[ConversationFile], numbers: list[int]) -> Computed | None:
    """A plain table question answered by computing (the offline provider): the answer
    citing ``[numbers[i]]`` (the i-th table's passage), or None when the question is not one
    of these shapes or names no column of the tables."""
    text = " ".join(question.split())
    match = _AGGREGATE.match(text) or _COUNT.match(text)
    if match is None:
        return None
    groups = match.groupdict()
    op = _OPS[groups["op"].lower()] if groups.get("op") else "count"
    for index, file in enumerate(tables):
        query: dict[str, Any] = {"file": str(file.attachment.public_id)}
        query["aggregate"] = {"op": op, **({"column": groups["col"]} if groups.get("col") else {})}
        if groups.get("fcol"):
            value = groups["value"].strip().strip(QUOTES)
            query["filters"] = [{"column": groups["fcol"], "op": "eq", "value": value}]
        try:
            result = table_query(file_table(file), query)
        except QueryRefused:
            continue
        text = _computed_text(op, groups, result, file, numbers[index])
        return Computed(text, index, result.row_numbers)
    return None


def _computed_text(op: str, groups: dict[str, Any], result: Result, file: ConversationFile, n: int) -> str:
    where = f" where {groups['fcol']} is {groups['value'].strip()}" if groups.get("fcol") else ""
    name, total = file.attachment.name, row_count(file)
    if op == "count":
        have = f", where {groups['fcol']} is {groups['value'].strip()}" if where else ""
        return f"{result.value} of the {total} rows of {name}{have}. [{n}]"
    what = f"The {_WORDS[op]} of {groups['col']}{where}"
    if result.value is None:
        return f"{what}: no row of {name} has a value for it. [{n}]"
    return f"{what} is {result.value} (computed from {result.matched} of the {total} rows of {name}). [{n}]"
