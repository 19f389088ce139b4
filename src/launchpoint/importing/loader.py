"""Load parsed rows into a workspace in batches: bounded memory, idempotent, and honest about
what was skipped. ``strict`` validates every row first and loads nothing if one is bad."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from launchpoint.domain.records import EventIn, ItemIn, UserIn
from launchpoint.engine import WorkspaceEngine
from launchpoint.errors import ErrorDetail, InvalidInput
from launchpoint.importing.readers import ImportSource, ParsedRow

BATCH_SIZE = 5000
MAX_REPORTED_ERRORS = 50

Progress = Callable[[ImportSource, int], None]  # (source, rows so far in it)


@dataclass
class ImportSummary:
    loaded: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    duplicates: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "loaded": dict(self.loaded),
            "duplicates": self.duplicates,
            "skipped": self.skipped,
            "errors": self.errors,
        }


def _where(row: ParsedRow) -> str:
    # Row errors already say "<kind> line <n>: ..."; the file name completes them.
    return f"{row.source}: {row.error}"


def check_sources(sources: Sequence[ImportSource], progress: Progress | None = None) -> None:
    """Read everything without writing; raise at the first bad row (``--strict``)."""
    for source in sources:
        for n, row in enumerate(source, 1):
            if row.error is not None:
                raise InvalidInput(
                    f"{_where(row)} (strict mode: nothing was loaded)",
                    [ErrorDetail(f"{row.source}:{row.line}", row.error)],
                )
            if progress is not None and n % BATCH_SIZE == 0:
                progress(source, n)


def load_sources(
    engine: WorkspaceEngine,
    sources: Iterable[ImportSource],
    *,
    strict: bool = False,
    progress: Progress | None = None,
    batch_size: int = BATCH_SIZE,
) -> ImportSummary:
    sources = list(sources)
    if strict:
        check_sources(sources)
    summary = ImportSummary()
    for source in sources:
        batch: list[Any] = []
        kind = ""
        rows = 0
        for row in source:
            rows += 1
            if row.error is not None or row.record is None:
                summary.skipped += 1
                if len(summary.errors) < MAX_REPORTED_ERRORS:
                    summary.errors.append(_where(row))
                continue
            kind = row.kind
            batch.append(row.record)
            if len(batch) >= batch_size:
                _flush(engine, kind, batch, summary)
                batch = []
                if progress is not None:
                    progress(source, rows)
        if batch:
            _flush(engine, kind, batch, summary)
        if progress is not None:
            progress(source, rows)
    return summary


def _flush(engine: WorkspaceEngine, kind: str, batch: list[Any], summary: ImportSummary) -> None:
    if kind == "items":
        result = engine.add_items([r for r in batch if isinstance(r, ItemIn)])
    elif kind == "users":
        result = engine.add_users([r for r in batch if isinstance(r, UserIn)])
    else:
        result = engine.add_events([r for r in batch if isinstance(r, EventIn)])
    summary.loaded[kind] += result.stored
    summary.duplicates += result.duplicates
