"""CSV and JSON Lines: mapping, light typing, line numbers, and errors a person can act on."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from launchpoint.domain.records import EventIn, ItemIn, UserIn
from launchpoint.errors import InvalidInput
from launchpoint.importing import ParsedRow, RecordKind, detect_format, open_table


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def read(path: Path, kind: RecordKind, **options: object) -> list[ParsedRow]:
    return list(open_table(path, kind, **options))  # type: ignore[arg-type]


def records(rows: list[ParsedRow]) -> list[ItemIn | UserIn | EventIn]:
    assert [row.error for row in rows if row.error] == []
    return [row.record for row in rows if row.record is not None]


def test_mapping_takes_fields_from_named_columns_and_keeps_the_rest_typed(tmp_path: Path) -> None:
    path = write(
        tmp_path / "movies.csv",
        "movieId,name,genres,title,year,score,is_new,imdb,note,available\n"
        "1,Toy Story,Animation|Comedy,ignored,1995,4.5,true,0114709,,false\n",
    )
    rows = read(path, "items", mapping={"id": "movieId", "categories": "genres"})
    (item,) = records(rows)
    assert isinstance(item, ItemIn)
    assert item.id == "1"
    assert item.title == "ignored"  # unmapped fields are looked up by their own name
    assert item.categories == ["Animation", "Comedy"]
    assert item.available is False
    assert item.attributes == {
        "name": "Toy Story",
        "year": 1995,
        "score": 4.5,
        "is_new": True,
        "imdb": "0114709",  # leading zeros mean an identifier, not a number
    }  # the empty `note` cell is absent
    assert rows[0].line == 2 and rows[0].source == str(path) and rows[0].kind == "items"


def test_a_field_mapped_elsewhere_leaves_its_own_column_in_attributes(tmp_path: Path) -> None:
    path = write(tmp_path / "items.csv", "id,name,title\n7,Heat,subtitle\n")
    (item,) = records(read(path, "items", mapping={"title": "name"}))
    assert isinstance(item, ItemIn)
    assert item.title == "Heat"
    assert item.attributes == {"title": "subtitle"}


def test_constant_mapping_gives_every_row_the_same_value(tmp_path: Path) -> None:
    path = write(tmp_path / "ratings.csv", "user,movie,stars,when\nu1,m1,4,964982703\n")
    mapping = {"type": "=rate", "user_id": "user", "item_id": "movie", "value": "stars"}
    (event,) = records(read(path, "events", mapping=mapping | {"timestamp": "when"}))
    assert isinstance(event, EventIn)
    assert (event.type, event.user_id, event.item_id, event.value) == ("rate", "u1", "m1", 4.0)
    assert event.timestamp == 964982703.0
    assert event.properties == {}


def test_events_without_a_type_are_refused_with_the_way_out(tmp_path: Path) -> None:
    path = write(tmp_path / "events.csv", "user_id,item_id\nu1,i1\n")
    with pytest.raises(InvalidInput) as caught:
        open_table(path, "events")
    assert "'type'" in caught.value.message and "=view" in caught.value.message


def test_unmapped_event_columns_become_typed_properties(tmp_path: Path) -> None:
    path = write(tmp_path / "e.csv", "user_id,type,seconds,device,ok\nu1,dwell,12,mobile,FALSE\n")
    (event,) = records(read(path, "events"))
    assert isinstance(event, EventIn)
    assert event.properties == {"seconds": 12, "device": "mobile", "ok": False}


def test_user_consents_and_personalisation_from_csv(tmp_path: Path) -> None:
    path = write(
        tmp_path / "users.csv",
        "id,consents,personalisation,region\n"
        'u1,finance|health,false,EU\nu2,"{""health"": false}",,\n',
    )
    first, second = records(read(path, "users"))
    assert isinstance(first, UserIn) and isinstance(second, UserIn)
    assert first.consents == {"finance": True, "health": True}
    assert first.personalisation is False
    assert first.attributes == {"region": "EU"}
    assert second.consents == {"health": False} and second.personalisation is True


def test_byte_order_mark_and_windows_line_ends_are_fine(tmp_path: Path) -> None:
    path = write(tmp_path / "items.csv", "id,title\r\n1,Café\r\n", encoding="utf-8-sig")
    (item,) = records(read(path, "items"))
    assert isinstance(item, ItemIn)
    assert (item.id, item.title, item.attributes) == ("1", "Café", {})


def test_tsv_suffix_means_tab_separated(tmp_path: Path) -> None:
    path = write(tmp_path / "items.tsv", "id\ttitle\n1\tA, B and C\n")
    (item,) = records(read(path, "items"))
    assert isinstance(item, ItemIn) and item.title == "A, B and C"


def test_line_numbers_are_physical_lines_past_blank_and_multiline_rows(tmp_path: Path) -> None:
    path = write(
        tmp_path / "items.csv",
        'id,text\n1,"two\nlines"\n\n   \n,,\n2,plain\n3,"x"\n',
    )
    rows = read(path, "items")
    assert [(row.line, row.error) for row in rows] == [(2, None), (7, None), (8, None)]
    assert isinstance(rows[0].record, ItemIn) and rows[0].record.text == "two\nlines"


def test_row_errors_name_the_line_field_and_what_is_allowed(tmp_path: Path) -> None:
    path = write(
        tmp_path / "events.csv",
        "user_id,type,value,timestamp\n"
        "u1,view,,2024-05-01T12:00:00Z\n"
        "u1,view,abc,1700000000\n"
        "u1,view,,yesterday\n"
        ",view,,1700000000\n"
        "u1,Order Completed,,1700000000\n"
        "u1,view,1,1700000000,extra\n",
    )
    rows = read(path, "events")
    assert rows[0].error is None and rows[0].record is not None
    errors = {row.line: row.error for row in rows[1:]}
    assert all(row.record is None for row in rows[1:])
    assert errors[3] is not None and errors[3].startswith("events line 3: value: 'abc'")
    assert errors[4] is not None and errors[4].startswith(
        "events line 4: timestamp: 'yesterday' is not a timestamp"
    )
    assert errors[5] == "events line 5: user_id: is required but missing"
    assert errors[6] is not None and "type: event type 'order completed'" in errors[6]
    assert errors[7] is not None and "5 cells but the header has 4 columns" in errors[7]
    assert not any("pydantic" in (e or "") or "http" in (e or "") for e in errors.values())


def test_row_errors_name_the_source_column_of_a_mapped_field(tmp_path: Path) -> None:
    path = write(tmp_path / "movies.csv", "movieId,title\n,No id\n")
    (row,) = read(path, "items", mapping={"id": "movieId"})
    assert row.error == "items line 2: id (column 'movieId'): is required but missing"


def test_undecodable_bytes_fail_their_row_only(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    path.write_bytes(b"id,title\n1,ok\n2,caf\xe9\n3,fine\n")
    rows = read(path, "items")
    assert [row.line for row in rows] == [2, 3, 4]
    assert rows[1].error is not None and "not valid utf-8" in rows[1].error
    assert rows[0].error is None and rows[2].error is None


@pytest.mark.parametrize(
    ("text", "mapping", "expected"),
    [
        ("id,title\n1,a\n", {"id": "movieId"}, "column 'movieId', which the file does not have"),
        ("id,title\n1,a\n", {"name": "title"}, "unknown mapping target 'name'"),
        ("id,title\n1,a\n", {"attributes": "=x"}, "to a constant is not allowed"),
        ("title\na\n", None, "items need the field 'id'"),
        ("", None, "the file is empty"),
        ("id,title,id\n1,a,1\n", None, "columns appear twice in the header: ['id']"),
    ],
)
def test_whole_file_problems_raise_invalid_input(
    tmp_path: Path, text: str, mapping: dict[str, str] | None, expected: str
) -> None:
    path = write(tmp_path / "items.csv", text)
    with pytest.raises(InvalidInput) as caught:
        open_table(path, "items", mapping=mapping)
    assert expected in caught.value.message


def test_a_missing_file_is_invalid_input(tmp_path: Path) -> None:
    for fmt in ("csv", "jsonl", None):
        with pytest.raises(InvalidInput, match="no such file"):
            open_table(tmp_path / "nope.csv", "items", fmt=fmt)


def test_jsonl_merges_nested_objects_with_the_extra_keys(tmp_path: Path) -> None:
    lines = [
        {"id": 1, "title": "A", "colour": "red", "size": 2, "attributes": {"size": 3, "x": None}},
        {"id": "2", "categories": "a|b", "sensitive": ["health"], "created_at": 1700000000},
    ]
    path = write(tmp_path / "items.jsonl", "\n".join(json.dumps(line) for line in lines) + "\n")
    first, second = records(read(path, "items"))
    assert isinstance(first, ItemIn) and isinstance(second, ItemIn)
    assert first.id == "1" and first.attributes == {"colour": "red", "size": 3, "x": None}
    assert second.categories == ["a", "b"] and second.sensitive == ["health"]
    assert second.created_at == 1700000000.0


def test_jsonl_events_keep_properties_and_context_and_follow_a_mapping(tmp_path: Path) -> None:
    track = {
        "messageId": "m-1",
        "userId": 42,
        "event": "click",
        "timestamp": "2024-05-01T12:00:00Z",
        "context": {"surface": "home", "position": 3},
        "properties": {"item": "i9"},
        "campaign": "spring",
        "anonymousId": None,
    }
    path = write(tmp_path / "track.ndjson", json.dumps(track) + "\n")
    mapping = {"message_id": "messageId", "user_id": "userId", "type": "event"}
    (event,) = records(read(path, "events", mapping=mapping))
    assert isinstance(event, EventIn)
    assert (event.message_id, event.user_id, event.type) == ("m-1", "42", "click")
    assert event.context == {"surface": "home", "position": 3}
    assert event.properties == {"campaign": "spring", "item": "i9"}


def test_jsonl_constant_mapping_and_traits_as_attributes(tmp_path: Path) -> None:
    path = write(tmp_path / "u.jsonl", '{"userId": "u1", "traits": {"role": "analyst"}}\n')
    (user,) = records(read(path, "users", mapping={"id": "userId", "attributes": "traits"}))
    assert isinstance(user, UserIn) and user.attributes == {"role": "analyst"}
    path = write(tmp_path / "e.jsonl", '{"user_id": "u1", "item_id": "i1"}\n')
    (event,) = records(read(path, "events", mapping={"type": "=view"}))
    assert isinstance(event, EventIn) and event.type == "view"


def test_jsonl_row_errors_carry_their_line(tmp_path: Path) -> None:
    path = write(
        tmp_path / "e.jsonl",
        '{"user_id": "u1", "type": "view"}\n'
        "\n"
        "{not json\n"
        "[1, 2]\n"
        '{"user_id": "u1"}\n'
        '{"user_id": "u1", "type": "view", "properties": 5}\n',
    )
    rows = read(path, "events")
    assert [row.line for row in rows] == [1, 3, 4, 5, 6]
    errors = [row.error or "" for row in rows]
    assert errors[0] == ""
    assert errors[1].startswith("events line 3: not valid JSON")
    assert errors[2] == "events line 4: expected a JSON object, got list"
    assert errors[3].startswith("events line 5: type: is required but missing")
    assert errors[4].startswith("events line 6: properties: must be a JSON object")


def test_progress_counts_every_byte_and_sources_can_be_read_again(tmp_path: Path) -> None:
    path = write(tmp_path / "items.csv", "id,title\n" + "".join(f"{i},t{i}\n" for i in range(50)))
    source = open_table(path, "items")
    assert source.total_bytes == path.stat().st_size and source.bytes_read == 0
    seen = []
    for _ in source:
        seen.append(source.bytes_read)
    assert seen == sorted(seen) and seen[0] > 0 and source.bytes_read == source.total_bytes
    assert len(list(source)) == 50 and source.kind == "items"


def test_detect_format(tmp_path: Path) -> None:
    assert detect_format(write(tmp_path / "a.CSV", "id\n1\n")) == "csv"
    assert detect_format(write(tmp_path / "a.tsv", "id\n1\n")) == "csv"
    assert detect_format(write(tmp_path / "a.jsonl", "{}\n")) == "jsonl"
    assert detect_format(write(tmp_path / "a.ndjson", "{}\n")) == "jsonl"
    assert detect_format(write(tmp_path / "export.txt", '\n  {"id": 1}\n')) == "jsonl"
    with pytest.raises(InvalidInput, match="cannot tell the format"):
        detect_format(write(tmp_path / "data.bin", "id\n1\n"))
    with pytest.raises(InvalidInput, match="no such file or directory"):
        detect_format(tmp_path / "missing.csv")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "notes.txt").write_text("hi")
    with pytest.raises(InvalidInput) as caught:
        detect_format(folder)
    message = caught.value.message
    assert "movies.csv, ratings.csv" in message and "u.data, u.item, u.user" in message
    assert "found: notes.txt" in message


def test_memory_stays_bounded_whatever_the_file_size(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    with path.open("w") as handle:
        # A lean row: tracemalloc slows every allocation, and the row's shape does not matter.
        handle.write("user_id,type,timestamp,device\n")
        for i in range(200_000):
            handle.write(f"u{i % 977},view,{1_600_000_000 + i},web\n")
    size = path.stat().st_size
    source = open_table(path, "events")
    tracemalloc.start()
    try:
        count = sum(1 for row in source if row.error is None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 200_000
    # A fixed allowance covers pydantic-core's bounded string cache (about a megabyte at most).
    assert peak < size / 4, f"peak {peak} bytes reading a {size}-byte file"


def test_a_line_the_csv_reader_rejects_fails_alone(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    path.write_bytes(b"id,title\n1,ok\n2," + b"x" * 200_000 + b"\n3,fine\n")  # over the field limit
    rows = read(path, "items")
    assert [row.line for row in rows] == [2, 3, 4]
    assert rows[1].error is not None and rows[1].error.startswith(
        "items line 3: not readable as CSV"
    )
    assert rows[2].error is None
