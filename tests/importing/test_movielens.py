"""MovieLens in both layouts: the ml-latest CSVs and the pipe-separated, latin-1 100K files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from launchpoint.domain.records import EventIn, ItemIn, UserIn
from launchpoint.errors import InvalidInput
from launchpoint.importing import ImportSource, ParsedRow, detect_format, open_movielens
from launchpoint.importing.movielens import ML100K_GENRES, tag_message_id

REAL_DATA = Path(__file__).parents[3] / "shared/data/ml-latest-small"


def rows_of(sources: list[ImportSource]) -> list[list[ParsedRow]]:
    return [list(source) for source in sources]


def ok(rows: list[ParsedRow]) -> list[Any]:
    """The records of rows that must all be valid (typed Any: each test knows the kind)."""
    assert [row.error for row in rows if row.error] == []
    return [row.record for row in rows if row.record is not None]


@pytest.fixture
def latest(tmp_path: Path) -> Path:
    (tmp_path / "movies.csv").write_text(
        "movieId,title,genres\n"
        "1,Toy Story (1995),Adventure|Animation|Children\n"
        '2,"American President, The (1995)",Comedy|Drama|Romance\n'
        "3,Babylon 5,(no genres listed)\n"
    )
    (tmp_path / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n2,2,3.5,964981247\n1,3,5.0,964982224\n"
    )
    (tmp_path / "tags.csv").write_text(
        'userId,movieId,tag,timestamp\n2,1,funny,1445714994\n7,2,"politics, satire",1445714996\n'
    )
    (tmp_path / "links.csv").write_text("movieId,imdbId,tmdbId\n1,0114709,862\n2,0112346,\n")
    return tmp_path


def test_latest_layout_gives_items_users_then_events(latest: Path) -> None:
    sources = open_movielens(latest)
    assert [source.kind for source in sources] == ["items", "users", "events", "events"]
    items, users, _, _ = (ok(rows) for rows in rows_of(sources))
    assert all(isinstance(item, ItemIn) for item in items)
    toy, president, babylon = items
    assert isinstance(toy, ItemIn) and isinstance(president, ItemIn) and isinstance(babylon, ItemIn)
    assert (toy.id, toy.title) == ("1", "Toy Story (1995)")
    assert toy.categories == ["Adventure", "Animation", "Children"]
    assert toy.attributes == {
        "genres": ["Adventure", "Animation", "Children"],
        "year": 1995,
        "imdb_id": "0114709",
        "tmdb_id": "862",
    }
    assert president.title == "American President, The (1995)"
    assert president.attributes["imdb_id"] == "0112346" and "tmdb_id" not in president.attributes
    assert babylon.categories == [] and babylon.attributes == {"genres": []}
    # Users are the distinct ids of ratings, then of tags, each the first time it is seen.
    assert [user.id for user in users] == ["1", "2", "7"]
    assert all(isinstance(user, UserIn) and user.attributes == {} for user in users)


def test_ratings_and_tags_become_idempotent_events(latest: Path) -> None:
    _, _, ratings, tags = rows_of(open_movielens(latest))
    first = ratings[0].record
    assert isinstance(first, EventIn) and ratings[0].line == 2
    assert (first.user_id, first.item_id, first.type, first.value) == ("1", "1", "rate", 4.0)
    assert first.timestamp == 964982703.0
    assert first.message_id == "ml-r-1-1-964982703"
    tag = tags[1].record
    assert isinstance(tag, EventIn) and tags[1].line == 3
    assert (tag.user_id, tag.item_id, tag.type, tag.value) == ("7", "2", "tag", None)
    assert tag.properties == {"tag": "politics, satire"}
    assert tag.message_id == tag_message_id("7", "2", "1445714996", "politics, satire")
    assert tag.message_id.startswith("ml-t-7-2-1445714996-")
    assert tag_message_id("7", "2", "1", "a") != tag_message_id("7", "2", "1", "b")


def test_latest_row_problems_are_row_errors(latest: Path) -> None:
    (latest / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n1,1,great,964982703\n1,2\n1,3,4,\n2,1,4,964982703\n"
    )
    _, users, ratings, _ = rows_of(open_movielens(latest))
    errors = [row.error for row in ratings]
    assert errors[0] is not None and errors[0].startswith("events line 2: value (column 'rating')")
    assert errors[1] == "events line 3: 2 cells, expected at least 4"
    assert errors[2] is not None and errors[2].startswith("events line 4: timestamp")
    assert errors[3] is None
    assert [row.record.id for row in users if isinstance(row.record, UserIn)] == ["1", "2", "7"]


def test_latest_without_tags_or_links(latest: Path) -> None:
    (latest / "tags.csv").unlink()
    (latest / "links.csv").unlink()
    sources = open_movielens(latest)
    assert [source.kind for source in sources] == ["items", "users", "events"]
    items = ok(list(sources[0]))
    assert items[0].attributes == {"genres": ["Adventure", "Animation", "Children"], "year": 1995}


def test_latest_with_a_missing_column_is_refused(latest: Path) -> None:
    (latest / "ratings.csv").write_text("userId,movieId,stars,timestamp\n1,1,4,964982703\n")
    with pytest.raises(InvalidInput, match=r"ratings.csv: missing MovieLens columns \['rating'\]"):
        open_movielens(latest)


U_ITEM = (
    "1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)"
    "|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
    "2|Café Society|15-Mar-1996|||0|0|0|0|0|0|0|0|1|0|0|0|0|0|1|0|0|0|0\n"
    "267|unknown||||1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
)


@pytest.fixture
def ml100k(tmp_path: Path) -> Path:
    (tmp_path / "u.data").write_text("196\t1\t3\t881250949\n186\t2\t5\t891717742\n\n")
    (tmp_path / "u.user").write_text("196|49|M|writer|55105\n186|39|F|executive|00000\n")
    (tmp_path / "u.item").write_bytes(U_ITEM.encode("latin-1"))
    genres = "".join(f"{name}|{index}\n" for index, name in enumerate(ML100K_GENRES))
    (tmp_path / "u.genre").write_text(genres.replace("Drama|8", "Drama (renamed)|8") + "\n")
    return tmp_path


def test_100k_layout(ml100k: Path) -> None:
    assert detect_format(ml100k) == "movielens"
    sources = open_movielens(ml100k)
    assert [source.kind for source in sources] == ["items", "users", "events"]
    items, users, events = (ok(rows) for rows in rows_of(sources))
    toy, cafe, unknown = items
    assert isinstance(toy, ItemIn) and isinstance(cafe, ItemIn) and isinstance(unknown, ItemIn)
    assert toy.title == "Toy Story (1995)"
    assert toy.categories == ["Animation", "Children's", "Comedy"]
    assert toy.attributes == {
        "genres": ["Animation", "Children's", "Comedy"],
        "release_date": "1995-01-01",
        "year": 1995,
        "imdb_url": "http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)",
    }
    assert cafe.title == "Café Society"  # u.item is latin-1
    assert cafe.categories == ["Drama (renamed)", "Romance"]  # names come from u.genre
    assert cafe.attributes["year"] == 1996  # from the release date when the title has none
    assert unknown.categories == ["unknown"] and unknown.attributes == {"genres": ["unknown"]}
    first, second = users
    assert isinstance(first, UserIn) and isinstance(second, UserIn)
    assert first.id == "196"
    assert first.attributes == {"age": 49, "gender": "M", "occupation": "writer", "zip": "55105"}
    assert second.attributes["zip"] == "00000"
    rating = events[0]
    assert isinstance(rating, EventIn)
    assert (rating.user_id, rating.item_id, rating.type, rating.value) == ("196", "1", "rate", 3.0)
    assert rating.message_id == "ml-r-196-1-881250949" and rating.timestamp == 881250949.0
    assert sum(source.total_bytes for source in sources) == sum(
        source.bytes_read for source in sources
    )


def test_100k_without_u_genre_uses_the_standard_names(ml100k: Path) -> None:
    (ml100k / "u.genre").unlink()
    cafe = ok(list(open_movielens(ml100k)[0]))[1]
    assert cafe.categories == ["Drama", "Romance"]


def test_100k_row_problems_are_row_errors(ml100k: Path) -> None:
    (ml100k / "u.data").write_text("196\t1\t3\t881250949\n\n196 1 3\n196\t1\tx\t881250950\n")
    (ml100k / "u.item").write_bytes(b"1|Short|row\n")
    items, _, events = rows_of(open_movielens(ml100k))
    assert items[0].error == "items line 1: 3 fields; expected 5, then 19 genre flags"
    assert [row.line for row in events] == [1, 3, 4]
    assert events[1].error is not None and events[1].error.startswith("events line 3: 1 fields")
    assert events[2].error is not None and events[2].error.startswith("events line 4: value")


def test_a_directory_of_neither_layout_says_what_was_expected(tmp_path: Path) -> None:
    (tmp_path / "movies.csv").write_text("movieId,title,genres\n")
    with pytest.raises(InvalidInput) as caught:
        open_movielens(tmp_path)
    message = caught.value.message
    assert "movies.csv, ratings.csv" in message and "u.data, u.item, u.user" in message
    with pytest.raises(InvalidInput):
        open_movielens(tmp_path / "missing")


@pytest.mark.realdata
def test_ml_latest_small_reads_completely_without_errors() -> None:
    if not REAL_DATA.is_dir():
        pytest.skip(f"MovieLens data not found at {REAL_DATA} (see DESIGN.md section 10)")
    assert detect_format(REAL_DATA) == "movielens"
    sources = open_movielens(REAL_DATA)
    counts: Counter[str] = Counter()
    errors = []
    for source in sources:
        for row in source:
            counts[source.description] += 1
            if row.error:
                errors.append(row.error)
        assert source.bytes_read == source.total_bytes
    assert errors == []
    assert counts == {
        "movies": 9_742,
        "users (from ratings)": 610,
        "ratings": 100_836,
        "tags": 3_683,
    }
