"""Turn files (CSV, JSON Lines, MovieLens exports) into validated records, streamed row by row."""

from launchpoint.importing.movielens import open_movielens
from launchpoint.importing.readers import (
    ImportSource,
    ParsedRow,
    RecordKind,
    detect_format,
    open_table,
)

__all__ = [
    "ImportSource",
    "ParsedRow",
    "RecordKind",
    "detect_format",
    "open_movielens",
    "open_table",
]
