"""Read items, users and events from CSV and JSON Lines files, one validated row at a time.

The standard library's csv and json modules are enough here, and they keep what a columnar
reader (Polars, pandas) would lose: the physical line number of every row and a per-row error
instead of a failed batch. Files are streamed line by line, so memory does not grow with them.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, cast

from pydantic import BaseModel, ValidationError

from launchpoint.domain.records import EventIn, ItemIn, UserIn
from launchpoint.errors import InvalidInput

RecordKind = Literal["items", "users", "events"]

RECORD_FIELDS: dict[RecordKind, tuple[str, ...]] = {
    "items": ("id", "title", "text", "categories", "available", "created_at", "sensitive"),
    "users": ("id", "created_at", "personalisation", "consents"),
    "events": ("message_id", "user_id", "item_id", "type", "value", "timestamp"),
}
# Objects that JSON Lines may nest; the first one also collects every unmapped column.
NESTED_FIELDS: dict[RecordKind, tuple[str, ...]] = {
    "items": ("attributes",),
    "users": ("attributes",),
    "events": ("properties", "context"),
}
REQUIRED_FIELDS: dict[RecordKind, tuple[str, ...]] = {
    "items": ("id",),
    "users": ("id",),
    "events": ("user_id", "type"),
}
MOVIELENS_LAYOUTS: dict[str, tuple[str, ...]] = {
    "ml-latest": ("movies.csv", "ratings.csv"),
    "ml-100k": ("u.data", "u.item", "u.user"),
}
_MODELS: dict[RecordKind, type[BaseModel]] = {"items": ItemIn, "users": UserIn, "events": EventIn}
_INT = re.compile(r"-?(?:0|[1-9]\d{0,14})")  # 15 digits: exact in a double, no leading zeros
_FLOAT = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+(?:[eE][-+]?\d+)?|[eE][-+]?\d+)|-?\.\d+")


@dataclass(frozen=True, slots=True)
class ParsedRow:
    """One row of input: a validated record, or the reason it could not be one."""

    kind: RecordKind
    source: str
    line: int
    record: ItemIn | UserIn | EventIn | None
    error: str | None


class ImportSource(Protocol):
    """One logical input; iterating yields ParsedRow; total_bytes/bytes_read feed a progress bar."""

    kind: RecordKind
    description: str
    total_bytes: int
    bytes_read: int

    def __iter__(self) -> Iterator[ParsedRow]: ...


class LineReader:
    """Decoded physical lines of one file, counting bytes as they go.

    Bytes are read and decoded here rather than through a text file because a text file's
    ``tell()`` is unavailable while it is being iterated, and a progress bar needs the count.
    """

    def __init__(self, path: Path, encoding: str = "utf-8") -> None:
        self.path = path
        self.encoding = encoding
        self.bytes_read = 0
        self.line = 0
        self.last_bad_line = 0  # the latest line that did not decode; rows spanning it fail

    def __iter__(self) -> Iterator[str]:
        with self.path.open("rb") as handle:
            for raw in handle:
                self.bytes_read += len(raw)
                self.line += 1
                if self.line == 1 and raw.startswith(codecs.BOM_UTF8):
                    raw = raw[len(codecs.BOM_UTF8) :]
                try:
                    yield raw.decode(self.encoding)
                except UnicodeDecodeError:
                    self.last_bad_line = self.line
                    yield raw.decode(self.encoding, errors="replace")


class FileSource:
    """An ImportSource over one or more files; ``produce`` turns their lines into rows."""

    def __init__(
        self,
        kind: RecordKind,
        description: str,
        paths: Sequence[Path],
        produce: Callable[[list[LineReader]], Iterator[ParsedRow]],
        encoding: str = "utf-8",
    ) -> None:
        for path in paths:
            if not path.is_file():
                raise InvalidInput(f"{path}: no such file")
        self.kind: RecordKind = kind
        self.description = description
        self.paths = list(paths)
        self.total_bytes = sum(path.stat().st_size for path in paths)
        self.bytes_read = 0
        self._produce = produce
        self._encoding = encoding

    def __iter__(self) -> Iterator[ParsedRow]:
        readers = [LineReader(path, self._encoding) for path in self.paths]
        if len(readers) == 1:  # the common case, kept cheap: this runs once per row
            only = readers[0]
            for row in self._produce(readers):
                self.bytes_read = only.bytes_read
                yield row
        else:
            for row in self._produce(readers):
                self.bytes_read = sum(reader.bytes_read for reader in readers)
                yield row
        self.bytes_read = sum(reader.bytes_read for reader in readers)


def csv_rows(
    lines: LineReader, delimiter: str = ","
) -> Iterator[tuple[int, list[str], str | None]]:
    """(first physical line, cells, problem) for each non-blank CSV record, quoted newlines kept."""
    reader = csv.reader(lines, delimiter=delimiter)
    previous = 0
    while True:
        start = previous + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            previous = reader.line_num
            yield start, [], f"not readable as CSV: {exc}"
            continue
        previous = reader.line_num
        if not cells or (not cells[0].strip() and not "".join(cells).strip()):
            continue  # blank lines, and lines of nothing but delimiters
        problem = None
        if lines.last_bad_line >= start:
            problem = (
                f"line {lines.last_bad_line} is not valid {lines.encoding} text; "
                "save the file as UTF-8"
            )
        yield start, cells, problem


def row_error(kind: RecordKind, source: str, line: int, message: str) -> ParsedRow:
    return ParsedRow(kind, source, line, None, f"{kind} line {line}: {message}")


def validate_record(
    kind: RecordKind,
    source: str,
    line: int,
    data: dict[str, Any],
    columns: Mapping[str, str] | None = None,
) -> ParsedRow:
    """Validate one record; ``columns`` names the source column of each field, for messages."""
    if kind == "events" and not data.get("message_id") and data.get("timestamp") in (None, ""):
        # Without either, the event would be stamped "now" and get a new id on every import;
        # an id from the row's own content and line keeps re-imports idempotent while two
        # identical rows on different lines stay two events.
        digest = hashlib.blake2b(
            json.dumps([line, data], sort_keys=True, default=str).encode(), digest_size=16
        ).hexdigest()
        data = {**data, "message_id": f"row:{digest}"}
    try:
        record = _MODELS[kind].model_validate(data)
    except ValidationError as exc:
        return row_error(kind, source, line, describe_errors(kind, exc, columns or {}))
    return ParsedRow(kind, source, line, cast(ItemIn | UserIn | EventIn, record), None)


def describe_errors(kind: RecordKind, exc: ValidationError, columns: Mapping[str, str]) -> str:
    """Pydantic's errors as 'field: what was wrong', without its URLs and jargon."""
    parts = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(part) for part in err["loc"]) or "record"
        field = str(err["loc"][0]) if err["loc"] else ""
        column = columns.get(field)
        where = f"{loc} (column {column!r})" if column and column != field else loc
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "missing":
            message = "is required but missing"
            if kind == "events" and field == "type":
                message += "; add a 'type' column, or map one, e.g. mapping={'type': '=view'}"
        elif err["type"] == "string_pattern_mismatch":
            message = f"{_short(err['input'])} must be 1-256 printable characters"
        elif err["type"] != "value_error":
            message = f"{_short(err['input'])}: {message}"
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def light_type(text: str) -> Any:
    """A CSV cell as the JSON value it most plainly is; ids with leading zeros stay strings."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def _as_consents(value: Any) -> Any:
    """Consents may be given as the list of topics agreed to: 'finance|health' or a list."""
    if isinstance(value, str):
        if value.lstrip().startswith("{"):
            return json.loads(value)
        value = [part.strip() for part in value.split("|") if part.strip()]
    if isinstance(value, list):
        return {str(topic): True for topic in value}
    return value


@dataclass(frozen=True)
class _Plan:
    """Where each record field comes from: a column (own name unless mapped) or a constant."""

    kind: RecordKind
    sources: dict[str, str]
    constants: dict[str, str]

    @classmethod
    def build(cls, kind: RecordKind, mapping: Mapping[str, str] | None) -> _Plan:
        allowed = RECORD_FIELDS[kind] + NESTED_FIELDS[kind]
        sources = {field: field for field in allowed}
        constants: dict[str, str] = {}
        for field, column in (mapping or {}).items():
            if field not in allowed:
                raise InvalidInput(
                    f"unknown mapping target {field!r} for {kind}; map one of: {', '.join(allowed)}"
                )
            if column.startswith("="):
                if field in NESTED_FIELDS[kind]:
                    raise InvalidInput(f"mapping {field!r} to a constant is not allowed")
                constants[field] = column[1:]
                del sources[field]
            else:
                sources[field] = column
        return cls(kind, sources, constants)

    @property
    def extra_field(self) -> str:
        return NESTED_FIELDS[self.kind][0]

    def columns_for_messages(self) -> dict[str, str]:
        return {field: column for field, column in self.sources.items() if field != column}


def _read_csv(
    plan: _Plan, path: Path, delimiter: str, header: list[str]
) -> Callable[[list[LineReader]], Iterator[ParsedRow]]:
    index = {name: i for i, name in enumerate(header)}
    fields = [(f, index[c]) for f, c in plan.sources.items() if c in index]
    used = {i for _, i in fields}
    extras = [(name, i) for i, name in enumerate(header) if i not in used and name]
    messages = plan.columns_for_messages()
    kind, source, extra_field = plan.kind, str(path), plan.extra_field

    def produce(readers: list[LineReader]) -> Iterator[ParsedRow]:
        rows = csv_rows(readers[0], delimiter)
        next(rows, None)  # the header, checked when the file was opened
        for line, cells, problem in rows:
            if problem is None and len(cells) > len(header):
                problem = (
                    f"{len(cells)} cells but the header has {len(header)} columns; "
                    "quote cells that contain the delimiter"
                )
            if problem is not None:
                yield row_error(kind, source, line, problem)
                continue
            width = len(cells)
            data: dict[str, Any] = dict(plan.constants)
            for field, i in fields:
                if i < width and (cell := cells[i].strip()):
                    data[field] = cell
            extra = {n: light_type(c) for n, i in extras if i < width and (c := cells[i].strip())}
            yield _finish_row(kind, source, line, data, extra, extra_field, messages)

    return produce


def _finish_row(
    kind: RecordKind,
    source: str,
    line: int,
    data: dict[str, Any],
    extra: dict[str, Any],
    extra_field: str,
    messages: Mapping[str, str],
) -> ParsedRow:
    """The record from a row's mapped fields and its extra columns, or the row's error."""
    try:
        _unpack_nested(kind, data, extra, extra_field)
    except ValueError as exc:
        return row_error(kind, source, line, str(exc))
    return validate_record(kind, source, line, data, messages)


def _unpack_nested(
    kind: RecordKind, data: dict[str, Any], extra: dict[str, Any], into: str
) -> None:
    """Merge the extra keys with a nested object of the same role (the nested one wins)."""
    for field in NESTED_FIELDS[kind]:
        value = data.get(field)
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                value = None
        if field in data and not isinstance(value, dict):
            raise ValueError(f'{field}: must be a JSON object, e.g. {{"key": "value"}}')
        if value is not None:
            data[field] = value
    if extra:
        data[into] = {**extra, **data.get(into, {})}
    if "consents" in data:
        try:
            data["consents"] = _as_consents(data["consents"])
        except json.JSONDecodeError as exc:
            raise ValueError(f"consents: not a JSON object or a list of topics ({exc})") from exc


def _read_jsonl(plan: _Plan, path: Path) -> Callable[[list[LineReader]], Iterator[ParsedRow]]:
    kind, source, extra_field = plan.kind, str(path), plan.extra_field
    messages = plan.columns_for_messages()
    consumed = set(plan.sources.values())

    def produce(readers: list[LineReader]) -> Iterator[ParsedRow]:
        lines = readers[0]
        for text in lines:
            line = lines.line
            if not text.strip():
                continue
            if lines.last_bad_line == line:
                yield row_error(kind, source, line, "not valid UTF-8 text; save the file as UTF-8")
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                yield row_error(
                    kind, source, line, f"not valid JSON: {exc.msg} at column {exc.colno}"
                )
                continue
            if not isinstance(obj, dict):
                yield row_error(
                    kind, source, line, f"expected a JSON object, got {type(obj).__name__}"
                )
                continue
            data: dict[str, Any] = dict(plan.constants)
            for field, key in plan.sources.items():
                if obj.get(key) is not None:
                    data[field] = obj[key]
            extra = {k: v for k, v in obj.items() if k not in consumed and v is not None}
            yield _finish_row(kind, source, line, data, extra, extra_field, messages)

    return produce


def read_header(path: Path, delimiter: str) -> list[str]:
    """The first CSV record, stripped; an empty file has no header and is refused."""
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    for _, cells, problem in csv_rows(LineReader(path), delimiter):
        if problem is not None:
            raise InvalidInput(f"{path}: the header line is unreadable: {problem}")
        header = [cell.strip() for cell in cells]
        duplicates = sorted({name for name in header if name and header.count(name) > 1})
        if duplicates:
            raise InvalidInput(f"{path}: columns appear twice in the header: {duplicates}")
        return header
    raise InvalidInput(f"{path}: the file is empty; expected a header line")


def open_table(
    path: Path,
    kind: RecordKind,
    fmt: Literal["csv", "jsonl"] | None = None,
    mapping: Mapping[str, str] | None = None,
    delimiter: str = ",",
) -> ImportSource:
    """A CSV or JSON Lines file of one record kind; whole-file problems raise InvalidInput now."""
    path = Path(path)
    if kind not in RECORD_FIELDS:
        raise InvalidInput(f"unknown record kind {kind!r}; use one of: items, users, events")
    plan = _Plan.build(kind, mapping)
    chosen = fmt or detect_format(path)
    if chosen == "jsonl":
        return FileSource(kind, f"{kind} from {path.name}", [path], _read_jsonl(plan, path))
    if chosen != "csv":
        raise InvalidInput(f"{path}: format {chosen!r} is not a table; use csv or jsonl")
    if fmt is None and delimiter == "," and path.suffix.lower() == ".tsv":
        delimiter = "\t"
    header = read_header(path, delimiter)
    for field, column in plan.sources.items():
        if column != field and column not in header:
            raise InvalidInput(
                f"{path}: the mapping takes {field!r} from column {column!r}, which the file "
                f"does not have; its columns are: {', '.join(header)}"
            )
    for field in REQUIRED_FIELDS[kind]:
        if field not in plan.constants and plan.sources[field] not in header:
            hint = ", or a constant, e.g. mapping={'type': '=view'}" if field == "type" else ""
            raise InvalidInput(
                f"{path}: {kind} need the field {field!r}: add a column of that name, "
                "or map one with "
                f"mapping={{{field!r}: 'column name'}}{hint}. The file's columns are: "
                f"{', '.join(header)}"
            )
    produce = _read_csv(plan, path, delimiter, header)
    return FileSource(kind, f"{kind} from {path.name}", [path], produce)


def movielens_layout(directory: Path) -> str | None:
    for layout, names in MOVIELENS_LAYOUTS.items():
        if all((directory / name).is_file() for name in names):
            return layout
    return None


def detect_format(path: Path) -> str:
    """'csv', 'jsonl' or 'movielens', from the name or, failing that, the first character."""
    path = Path(path)
    if path.is_dir():
        if movielens_layout(path) is not None:
            return "movielens"
        expected = " or ".join(", ".join(names) for names in MOVIELENS_LAYOUTS.values())
        found = ", ".join(sorted(p.name for p in path.iterdir())[:10]) or "nothing"
        raise InvalidInput(
            f"{path} is a directory but not a MovieLens export: expected {expected}; found: {found}"
        )
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file or directory")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    with path.open("rb") as handle:
        start = handle.read(4096).lstrip(codecs.BOM_UTF8 + b" \t\r\n")
    if start.startswith(b"{"):
        return "jsonl"
    raise InvalidInput(
        f"{path}: cannot tell the format; name the file .csv, .tsv or .jsonl, "
        "or give the format (csv or jsonl)"
    )
