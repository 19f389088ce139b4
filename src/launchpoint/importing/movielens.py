"""Read a MovieLens export in either layout users point us at: ml-latest(-small) or 100K.

Ratings become ``rate`` events and tags become ``tag`` events (rather than per-movie tag lists)
so every file streams in one pass; the only state kept is the set of user ids already emitted
and, for ml-latest, the links of each movie (one short entry per item).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from launchpoint.errors import InvalidInput
from launchpoint.importing.readers import (
    MOVIELENS_LAYOUTS,
    FileSource,
    ImportSource,
    LineReader,
    ParsedRow,
    csv_rows,
    movielens_layout,
    read_header,
    row_error,
    validate_record,
)

# The genre order of u.item's flags when u.genre is missing (as the 100K README lists them).
ML100K_GENRES = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
NO_GENRES = "(no genres listed)"
_YEAR = re.compile(r"\((\d{4})\)\s*$")
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}
_EVENT_COLUMNS = {"user_id": "userId", "item_id": "movieId", "value": "rating"}
_NO_TIMESTAMP = "timestamp: is required but missing; MovieLens rows carry epoch seconds"
_COLUMNS = {
    "movies.csv": ("movieId", "title", "genres"),
    "ratings.csv": ("userId", "movieId", "rating", "timestamp"),
    "tags.csv": ("userId", "movieId", "tag", "timestamp"),
    "links.csv": ("movieId", "imdbId", "tmdbId"),
}


def open_movielens(directory: Path) -> list[ImportSource]:
    """The sources of one MovieLens directory, in load order: items, users, then events."""
    directory = Path(directory)
    layout = movielens_layout(directory) if directory.is_dir() else None
    if layout == "ml-latest":
        return _latest_sources(directory)
    if layout == "ml-100k":
        return _ml100k_sources(directory)
    expected = " or ".join(", ".join(names) for names in MOVIELENS_LAYOUTS.values())
    raise InvalidInput(
        f"{directory} is not a MovieLens directory: expected {expected} "
        "(the ml-latest-small or the 100K layout)"
    )


def tag_message_id(user: str, movie: str, timestamp: str, tag: str) -> str:
    """Stable across imports, so re-importing the same tags is a no-op."""
    digest = hashlib.blake2b(tag.encode(), digest_size=6).hexdigest()
    return f"ml-t-{user}-{movie}-{timestamp}-{digest}"


def _columns(path: Path) -> tuple[int, ...]:
    """The index of each expected column, in _COLUMNS order; missing ones refuse the file."""
    header = read_header(path, ",")
    expected = _COLUMNS[path.name]
    missing = [name for name in expected if name not in header]
    if missing:
        raise InvalidInput(
            f"{path}: missing MovieLens columns {missing}; expected {', '.join(expected)}"
        )
    return tuple(header.index(name) for name in expected)


def _cells(lines: LineReader, columns: tuple[int, ...]) -> Iterator[tuple[int, list[str], str]]:
    """The expected cells of each data row, in _COLUMNS order (header skipped), or a problem."""
    rows = csv_rows(lines)
    next(rows, None)
    width = max(columns) + 1
    for line, cells, problem in rows:
        if problem is None and len(cells) < width:
            problem = f"{len(cells)} cells, expected at least {width}"
        yield line, ([] if problem else [cells[i].strip() for i in columns]), problem or ""


def _latest_sources(directory: Path) -> list[ImportSource]:
    movies, ratings = directory / "movies.csv", directory / "ratings.csv"
    tags, links = directory / "tags.csv", directory / "links.csv"
    movie_cols, rating_cols = _columns(movies), _columns(ratings)
    tag_cols = _columns(tags) if tags.is_file() else None
    link_cols = _columns(links) if links.is_file() else None
    event_files = [ratings] + ([tags] if tag_cols else [])

    def items(readers: list[LineReader]) -> Iterator[ParsedRow]:
        known = _links(readers[1], link_cols) if link_cols else {}
        for line, cells, problem in _cells(readers[0], movie_cols):
            if problem:
                yield row_error("items", str(movies), line, problem)
                continue
            movie, title, genre_text = cells
            genres = [] if genre_text == NO_GENRES else _split(genre_text, "|")
            attributes: dict[str, Any] = {"genres": genres, **known.get(movie, {})}
            if year := _YEAR.search(title):
                attributes["year"] = int(year.group(1))
            data = {"id": movie, "title": title, "categories": genres, "attributes": attributes}
            yield validate_record("items", str(movies), line, data, {"id": "movieId"})

    def users(readers: list[LineReader]) -> Iterator[ParsedRow]:
        seen: set[str] = set()
        for reader, path, cols in zip(readers, event_files, (rating_cols, tag_cols), strict=False):
            assert cols is not None
            for line, cells, problem in _cells(reader, cols):
                user = cells[0] if cells else ""
                if problem or not user or user in seen:
                    continue  # the events pass reports unreadable rows, once
                seen.add(user)
                yield validate_record("users", str(path), line, {"id": user}, {"id": "userId"})

    def rating_events(readers: list[LineReader]) -> Iterator[ParsedRow]:
        for line, cells, problem in _cells(readers[0], rating_cols):
            if problem:
                yield row_error("events", str(ratings), line, problem)
                continue
            yield _rate_event(str(ratings), line, *cells)

    def tag_events(readers: list[LineReader]) -> Iterator[ParsedRow]:
        assert tag_cols is not None
        for line, cells, problem in _cells(readers[0], tag_cols):
            if problem:
                yield row_error("events", str(tags), line, problem)
                continue
            user, movie, tag, stamp = cells
            if not stamp:
                yield row_error("events", str(tags), line, _NO_TIMESTAMP)
                continue
            data: dict[str, Any] = {
                "message_id": tag_message_id(user, movie, stamp, tag),
                "user_id": user,
                "item_id": movie,
                "type": "tag",
                "timestamp": _epoch(stamp),
                "properties": {"tag": tag},
            }
            yield validate_record("events", str(tags), line, data, _EVENT_COLUMNS)

    sources: list[ImportSource] = [
        FileSource("items", "movies", [movies] + ([links] if link_cols else []), items),
        FileSource("users", "users (from ratings)", event_files, users),
        FileSource("events", "ratings", [ratings], rating_events),
    ]
    if tag_cols:
        sources.append(FileSource("events", "tags", [tags], tag_events))
    return sources


def _rate_event(source: str, line: int, user: str, item: str, rating: str, stamp: str) -> ParsedRow:
    if not stamp:
        return row_error("events", source, line, _NO_TIMESTAMP)
    data: dict[str, Any] = {
        "message_id": f"ml-r-{user}-{item}-{stamp}",
        "user_id": user,
        "item_id": item,
        "type": "rate",
        "value": rating,
        "timestamp": _epoch(stamp),
    }
    return validate_record("events", source, line, data, _EVENT_COLUMNS)


def _epoch(stamp: str) -> int | str:
    """Whole seconds as a number, sparing the record the string parse; anything else as given."""
    return int(stamp) if stamp.isdigit() else stamp


def _links(lines: LineReader, columns: tuple[int, ...]) -> dict[str, dict[str, str]]:
    """imdb_id and tmdb_id per movie id, kept as text: imdb ids have leading zeros."""
    known: dict[str, dict[str, str]] = {}
    for _, cells, problem in _cells(lines, columns):
        if not problem:
            movie, imdb, tmdb = cells
            ids = {"imdb_id": imdb, "tmdb_id": tmdb}
            known[movie] = {key: value for key, value in ids.items() if value}
    return known


def _split(text: str, separator: str) -> list[str]:
    return [part.strip() for part in text.split(separator) if part.strip()]


def _ml100k_sources(directory: Path) -> list[ImportSource]:
    data, item, user = directory / "u.data", directory / "u.item", directory / "u.user"
    genre = directory / "u.genre"
    genres = _read_genres(genre) if genre.is_file() else list(ML100K_GENRES)

    def items(readers: list[LineReader]) -> Iterator[ParsedRow]:
        for line, cells in _pipe_rows(readers[0], "|"):
            flags = cells[5:]
            if len(cells) < 5 or len(flags) != len(genres):
                problem = f"{len(cells)} fields; expected 5, then {len(genres)} genre flags"
                yield row_error("items", str(item), line, problem)
                continue
            title, released, imdb = cells[1].strip(), cells[2].strip(), cells[4].strip()
            categories = [
                name for name, flag in zip(genres, flags, strict=True) if flag.strip() == "1"
            ]
            attributes: dict[str, Any] = {"genres": categories}
            if iso := _release_date(released):
                attributes["release_date"] = iso
            if year := _YEAR.search(title):
                attributes["year"] = int(year.group(1))
            elif iso:
                attributes["year"] = int(iso[:4])
            if imdb:
                attributes["imdb_url"] = imdb
            record = {
                "id": cells[0],
                "title": title,
                "categories": categories,
                "attributes": attributes,
            }
            yield validate_record("items", str(item), line, record)

    def users(readers: list[LineReader]) -> Iterator[ParsedRow]:
        for line, cells in _pipe_rows(readers[0], "|"):
            if len(cells) != 5:
                yield row_error(
                    "users",
                    str(user),
                    line,
                    f"expected id|age|gender|occupation|zip, got {len(cells)} fields",
                )
                continue
            age = cells[1].strip()
            attributes: dict[str, Any] = {
                "age": int(age) if age.isdigit() else age,
                "gender": cells[2].strip(),
                "occupation": cells[3].strip(),
                "zip": cells[4].strip(),
            }
            attributes = {key: value for key, value in attributes.items() if value != ""}
            yield validate_record(
                "users", str(user), line, {"id": cells[0], "attributes": attributes}
            )

    def events(readers: list[LineReader]) -> Iterator[ParsedRow]:
        for line, cells in _pipe_rows(readers[0], "\t"):
            if len(cells) != 4:
                problem = f"{len(cells)} fields; expected user, item, rating, time (tab-separated)"
                yield row_error("events", str(data), line, problem)
                continue
            user_id, item_id, rating, stamp = (cell.strip() for cell in cells)
            yield _rate_event(str(data), line, user_id, item_id, rating, stamp)

    # latin-1 decodes any byte: u.item's titles are latin-1, the other files plain ASCII.
    return [
        FileSource("items", "movies", [item], items, encoding="latin-1"),
        FileSource("users", "users", [user], users, encoding="latin-1"),
        FileSource("events", "ratings", [data], events, encoding="latin-1"),
    ]


def _pipe_rows(lines: LineReader, separator: str) -> Iterator[tuple[int, list[str]]]:
    """The 100K files separate fields without any quoting, so they are split, not CSV-parsed."""
    for text in lines:
        text = text.rstrip("\r\n")
        if text.strip():
            yield lines.line, text.split(separator)


def _read_genres(path: Path) -> list[str]:
    """u.genre's 'name|index' lines, ordered by index."""
    pairs = []
    for line, cells in _pipe_rows(LineReader(path, "latin-1"), "|"):
        if len(cells) != 2 or not cells[1].strip().isdigit():
            raise InvalidInput(
                f"{path} line {line}: expected 'name|index', got {'|'.join(cells)!r}"
            )
        pairs.append((int(cells[1]), cells[0].strip()))
    return [name for _, name in sorted(pairs)]


def _release_date(text: str) -> str | None:
    """'01-Jan-1995' as '1995-01-01'; parsed by hand because %b depends on the locale."""
    parts = text.split("-")
    if len(parts) != 3 or not (parts[0].isdigit() and parts[2].isdigit()):
        return None
    month = _MONTHS.get(parts[1].lower())
    return f"{int(parts[2]):04d}-{month:02d}-{int(parts[0]):02d}" if month else None
