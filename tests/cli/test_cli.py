"""The ``launchpoint`` command line, run in-process with Typer's CliRunner, on every backend."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from launchpoint.cli import app, common
from launchpoint.domain.records import EventIn, ItemIn, UserIn
from launchpoint.engine import Launchpoint, WorkspaceEngine
from launchpoint.settings import Settings
from launchpoint.storage.database import head_revision

runner = CliRunner()
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# Wide enough that Rich never wraps a tmp_path or a table row.
ENV = {"COLUMNS": "400", "LINES": "200"}


def clean(text: str) -> str:
    return _ANSI.sub("", text)


def names_file_and_line(output: str, path: Path, line: int) -> bool:
    """Whether one line of output names the file and the line, as 'FILE:N:' or
    'FILE: <kind> line N:'."""
    pattern = re.compile(re.escape(str(path)) + rf"(:{line}\b|: \w+ line {line}\b)")
    return any(pattern.search(text) for text in clean(output).splitlines())


def flat(text: str) -> str:
    """Output with every run of whitespace made one space, for phrase searches."""
    return " ".join(clean(text).split())


class Cli:
    """Runs ``launchpoint --database-url URL --workspace WS ...`` and opens the same workspace."""

    def __init__(self, url: str, workspace: str, tmp: Path) -> None:
        self.url = url
        self.workspace = workspace
        self.tmp = tmp

    def __call__(self, *args: str, code: int = 0) -> Any:
        result = runner.invoke(
            app, ["--database-url", self.url, "--workspace", self.workspace, *args], env=ENV
        )
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert result.exit_code == code, (args, result.exit_code, result.output)
        return result

    @contextmanager
    def engine(self) -> Iterator[WorkspaceEngine]:
        lp = Launchpoint(Settings(database_url=self.url, workspace=self.workspace))
        try:
            yield lp.workspace()
        finally:
            lp.close()

    def stats(self) -> dict[str, Any]:
        with self.engine() as ws:
            return ws.stats()

    def write(self, name: str, text: str) -> Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path


@pytest.fixture
def cli(backend_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    # Rich reads COLUMNS once, when the CLI's consoles are made at import, and xdist workers
    # start with COLUMNS=80: widen them so that no path or table cell wraps.
    for console in (common.console, common.err_console):
        monkeypatch.setattr(console, "_width", 400)
    return Cli(backend_url, f"c{uuid.uuid4().hex[:12]}", tmp_path)


# -- help --------------------------------------------------------------------------------------


def _commands() -> list[tuple[tuple[str, ...], Any]]:
    """(path, command) for the root and every command and group below it."""
    out: list[tuple[tuple[str, ...], Any]] = []

    def walk(command: Any, path: tuple[str, ...]) -> None:
        out.append((path, command))
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return out


COMMANDS = _commands()
EXPECTED = {
    ("init",),
    ("import",),
    ("stats",),
    ("apply",),
    ("ribbons",),
    ("serve",),
    ("demo",),
    ("segments",),
    ("segments", "report"),
    ("keys",),
    ("keys", "create"),
    ("keys", "list"),
    ("keys", "revoke"),
    ("experiments",),
    ("experiments", "report"),
    ("simulate",),
}


def test_every_command_is_found() -> None:
    assert {path for path, _ in COMMANDS} >= EXPECTED


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p) or "root")
def test_help_of_every_command_explains_it_and_every_option(path: tuple[str, ...]) -> None:
    command = dict(COMMANDS)[path]
    result = runner.invoke(app, [*path, "--help"], env=ENV)
    assert result.exit_code == 0, result.output
    out = flat(result.output)
    assert "Usage:" in out
    summary = flat(command.help or "")
    assert len(summary) >= 20, f"{' '.join(path)} has no description"
    first_sentence = summary.split(". ")[0].rstrip(".")
    assert first_sentence in out
    for param in command.params:
        if param.name in ("help", "install_completion", "show_completion"):
            continue
        assert (getattr(param, "help", None) or "").strip(), f"{path} {param.name} has no help"
        for opt in getattr(param, "opts", []):
            if opt.startswith("--"):
                assert opt in out, (path, opt)


# -- init, stats, errors ----------------------------------------------------------------------


def test_init_creates_the_database_and_the_workspace(cli: Cli) -> None:
    out = flat(cli("init").stdout)
    assert "Database ready:" in out
    assert f"(schema {head_revision()})" in out
    assert f"Workspace: {cli.workspace}" in out
    assert cli.stats()["items"] == 0
    assert flat(cli("init").stdout) == out  # a second init is harmless


def test_an_unsupported_database_url_is_a_clear_error(cli: Cli, tmp_path: Path) -> None:
    result = runner.invoke(app, ["--database-url", "mysql://x@localhost/db", "init"], env=ENV)
    assert result.exit_code == 2
    assert "not supported" in flat(result.stderr)


def test_an_invalid_workspace_is_a_clear_error(cli: Cli) -> None:
    result = runner.invoke(
        app, ["--database-url", cli.url, "--workspace", "no spaces!", "stats"], env=ENV
    )
    assert result.exit_code == 2
    assert "workspace id 'no spaces!' is not valid" in flat(result.stderr)


def table_rows(output: str, title: str | None = None) -> list[dict[str, str]]:
    """The rows of the first Rich table in the output (after ``title`` when given), keyed by
    its column headers; robust to columns being added, renamed in part, or reordered."""
    lines = clean(output).splitlines()
    if title is not None:
        lines = lines[next(n for n, line in enumerate(lines) if title in line) :]
    n_header = next(n for n, line in enumerate(lines) if line.count("┃") >= 3)
    names = [c.strip() for c in lines[n_header].strip().strip("┃").split("┃")]
    rows = []
    for line in lines[n_header + 1 :]:
        if line.strip().startswith("└"):
            break
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if len(cells) == len(names) and line.strip().startswith("│"):
            rows.append(dict(zip(names, cells, strict=True)))
    return rows


def verdicts(output: str) -> dict[str, dict[str, str]]:
    """The qualification table as segment id -> {'users': ..., 'items': ..., 'shown': Y/N}."""
    out = {}
    for row in table_rows(output, "Segment qualification"):
        names = list(row)
        segment = row[next(n for n in names if "segment" in n)].split()[0]
        out[segment] = {
            "users": row[next(n for n in names if "users" in n and "test" in n)],
            "items": row[next(n for n in names if "items" in n and "test" in n)],
            "shown": row[names[-1]][:1],  # the last column says whether it qualifies: Y/N
        }
    return out


def test_stats_prints_counts_and_events_by_type(cli: Cli) -> None:
    with cli.engine() as ws:
        ws.add_items([ItemIn(id=f"i{k}") for k in range(3)])
        ws.add_users([UserIn(id="u1"), UserIn(id="u2")])
        ws.add_events(
            [
                EventIn(user_id="u1", item_id="i1", type=t, timestamp=1714564800 + n)
                for n, t in enumerate(["view", "view", "click"])
            ]
        )
    result = cli("stats")
    assert cli.workspace in result.stdout
    counts = {row["what"]: int(row["count"].replace(",", "")) for row in table_rows(result.stdout)}
    assert counts == {
        "items": 3,
        "users": 2,
        "events": 3,
        "segments": 0,
        "click events": 1,
        "view events": 2,
    }


# -- import ------------------------------------------------------------------------------------

ITEMS_CSV = """sku,name,genre,price
a1,Alpha,rock|pop,3.5
a2,"Beta, the second",jazz,4,EXTRA
a3,Gamma,jazz,5
"""
EVENTS_JSONL = (
    "\n".join(
        [
            '{"uid": "u1", "sku": "a1", "kind": "click", "when": "2024-05-01T12:00:00Z"}',
            '{"uid": "u1", "sku": "a3", "kind": "purchase", "when": 1714564800, "channel": "app"}',
            '{"uid": "u2", "sku": "a1", "when": 1714564900}',
            "not json",
            '{"uid": "u2", "sku": "a3", "kind": "view", "when": "2024-05-02T12:00:00Z"}',
        ]
    )
    + "\n"
)
ITEM_MAP = ["--map", "id=sku", "--map", "title=name", "--map", "categories=genre"]
EVENT_MAP = [
    "--map",
    "user_id=uid",
    "--map",
    "item_id=sku",
    "--map",
    "type=kind",
    "--map",
    "timestamp=when",
]


def test_import_csv_with_a_mapping_loads_good_rows_and_reports_the_bad_one(cli: Cli) -> None:
    path = cli.write("items.csv", ITEMS_CSV)
    result = cli("import", str(path), "--kind", "items", *ITEM_MAP)
    out = flat(result.stdout)
    assert "Wrote 2 items" in out
    assert "Skipped 1 bad rows" in out
    assert names_file_and_line(result.stdout, path, 3) and "5 cells" in out
    with cli.engine() as ws:
        assert ws.stats()["items"] == 2
        alpha = ws.item("a1")
        assert (alpha["title"], alpha["categories"], alpha["attributes"]) == (
            "Alpha",
            ["rock", "pop"],
            {"price": 3.5},
        )
        assert ws.item("a3")["attributes"] == {"price": 5}


def test_import_jsonl_with_a_mapping_reports_each_bad_line(cli: Cli) -> None:
    path = cli.write("events.jsonl", EVENTS_JSONL)
    result = cli("import", str(path), "--kind", "events", *EVENT_MAP)
    out = flat(result.stdout)
    assert "Stored 3 new events" in out and "Skipped 2 bad rows" in out
    assert names_file_and_line(result.stdout, path, 3) and "type" in out  # the row with no type
    assert names_file_and_line(result.stdout, path, 4) and "not valid JSON" in out
    stats = cli.stats()
    assert stats["events_by_type"] == {"click": 1, "purchase": 1, "view": 1}
    assert stats["users"] == 2  # created from the events
    assert stats["first_event_at"] == 1714564800.0


def test_a_constant_mapping_fills_a_field_the_file_lacks(cli: Cli) -> None:
    path = cli.write("views.csv", "who,what,at\nu1,i1,1714564800\nu2,i1,1714564801\n")
    cli(
        "import",
        str(path),
        "--kind",
        "events",
        "--map",
        "user_id=who",
        "--map",
        "item_id=what",
        "--map",
        "timestamp=at",
        "--map",
        "type==view",
    )
    assert cli.stats()["events_by_type"] == {"view": 2}


def test_strict_import_loads_nothing_and_exits_2(cli: Cli) -> None:
    path = cli.write("events.jsonl", EVENTS_JSONL)
    result = cli("import", str(path), "--kind", "events", "--strict", *EVENT_MAP, code=2)
    err = flat(result.stderr)
    assert names_file_and_line(result.stderr, path, 3) and "nothing was loaded" in err
    stats = cli.stats()
    assert (stats["events"], stats["users"]) == (0, 0)
    items = cli.write("items.csv", ITEMS_CSV)
    cli("import", str(items), "--kind", "items", "--strict", *ITEM_MAP, code=2)
    assert cli.stats()["items"] == 0
    good = cli.write("good.csv", "id,title\nx,X\ny,Y\n")
    assert "Wrote 2 items" in flat(cli("import", str(good), "--kind", "items", "--strict").stdout)


def test_importing_the_same_files_twice_changes_nothing(cli: Cli) -> None:
    items = cli.write("items.csv", ITEMS_CSV)
    events = cli.write("events.jsonl", EVENTS_JSONL)
    cli("import", str(items), "--kind", "items", *ITEM_MAP)
    cli("import", str(events), "--kind", "events", *EVENT_MAP)
    first = cli.stats()
    cli("import", str(items), "--kind", "items", *ITEM_MAP)
    second_run = flat(cli("import", str(events), "--kind", "events", *EVENT_MAP).stdout)
    assert "3 events were already stored" in second_run
    assert "Stored 0 new events" in second_run
    assert cli.stats() == first


def test_importing_events_without_timestamps_twice_changes_nothing(cli: Cli) -> None:
    path = cli.write("clicks.csv", "user_id,item_id,type\nu1,i1,click\nu2,i1,view\n")
    cli("import", str(path), "--kind", "events")
    first = cli.stats()
    cli("import", str(path), "--kind", "events")
    assert cli.stats()["events"] == first["events"] == 2


def test_import_refuses_a_mapping_to_a_missing_column(cli: Cli) -> None:
    path = cli.write("items.csv", ITEMS_CSV)
    result = cli("import", str(path), "--kind", "items", "--map", "id=nope", code=2)
    err = flat(result.stderr)
    assert "'nope'" in err and "sku, name, genre, price" in err
    bad = cli("import", str(path), "--kind", "items", "--map", "idsku", code=2)
    assert "FIELD=COLUMN" in flat(bad.stderr)
    kindless = cli("import", str(path), code=2)
    assert "--kind" in flat(kindless.stderr)
    assert cli.stats()["items"] == 0


def _movielens(cli: Cli) -> Path:
    cli.write(
        "ml/movies.csv",
        "movieId,title,genres\n"
        "1,Toy Story (1995),Adventure|Animation|Children\n"
        '2,"American President, The (1995)",Comedy|Drama|Romance\n'
        "3,Heat (1995),Action|Crime|Thriller\n"
        "4,Untitled,(no genres listed)\n",
    )
    cli.write(
        "ml/ratings.csv",
        "userId,movieId,rating,timestamp\n"
        "1,1,4.0,964982703\n1,3,4.5,964981247\n2,2,3.0,964982224\n"
        "2,1,5.0,964983815\n3,4,1.5,964982931\n",
    )
    cli.write(
        "ml/tags.csv",
        'userId,movieId,tag,timestamp\n2,1,pixar,1445714994\n3,3,"heist, classic",1445715000\n',
    )
    cli.write("ml/links.csv", "movieId,imdbId,tmdbId\n1,0114709,862\n2,0112346,9087\n")
    return cli.tmp / "ml"


def test_import_of_a_movielens_directory(cli: Cli) -> None:
    directory = _movielens(cli)
    out = flat(cli("import", str(directory)).stdout)
    assert "4 items" in out and "3 users" in out and "7 new events" in out
    stats = cli.stats()
    assert (stats["items"], stats["users"], stats["events"]) == (4, 3, 7)
    assert stats["events_by_type"] == {"rate": 5, "tag": 2}
    with cli.engine() as ws:
        toy = ws.item("1")
        assert toy["title"] == "Toy Story (1995)"
        assert toy["categories"] == ["Adventure", "Animation", "Children"]
        assert toy["attributes"]["year"] == 1995
        assert toy["attributes"]["imdb_id"] == "0114709"  # leading zero kept
        assert ws.item("2")["title"] == "American President, The (1995)"
        assert ws.item("4")["categories"] == []
    again = flat(cli("import", str(directory)).stdout)
    assert "7 events were already stored" in again
    assert cli.stats() == stats


def test_import_of_a_directory_that_is_not_movielens_says_what_it_expected(cli: Cli) -> None:
    cli.write("notml/readme.txt", "hello")
    err = flat(cli("import", str(cli.tmp / "notml"), code=2).stderr)
    assert "not a MovieLens export" in err and "ratings.csv" in err and "readme.txt" in err


# -- apply, segments report, ribbons -----------------------------------------------------------


def _load_shop(ws: WorkspaceEngine) -> None:
    ws.add_users(
        [UserIn(id=f"f{k}", attributes={"groups": ["fans"]}) for k in range(4)]
        + [UserIn(id="loner")]
    )
    ws.add_items(
        [
            ItemIn(id=f"m{k}", title=f"Main {k}", categories=["pop"], attributes={"shelf": "main"})
            for k in range(4)
        ]
        + [ItemIn(id="o1", title="Other", attributes={"shelf": "other"})]
    )
    ws.add_events(
        [
            EventIn(user_id=f"f{k % 4}", item_id=f"m{k % 3}", type="view", message_id=f"e{k}")
            for k in range(12)
        ]
    )


GOOD_YAML = """\
segments:
  - id: fans
    name: Fans
    priority: 1
    users: "groups contains 'fans'"
    items: "shelf = 'main'"
    min_users: 2
    min_items: 2
    title: "Picked for fans"
  - id: everyone
    priority: 2
    users: "true"
    min_users: 100
surfaces:
  home:
    layers: 1
    cards: 3
    fallback: popular
"""

BAD_YAML = """\
segments:
  - id: ok
    users: "true"
  - id: broken
    users: |
      groups contains 'fans' and
        grups contains 'x'
"""


def test_apply_prints_what_changed_and_the_report(cli: Cli) -> None:
    with cli.engine() as ws:
        _load_shop(ws)
    path = cli.write("segments.yaml", GOOD_YAML)
    result = cli("apply", str(path))
    out = flat(result.stdout)
    assert "created: fans, everyone" in out
    assert "surfaces: home" in out
    assert "Segment qualification" in out
    assert verdicts(result.stdout) == {
        "fans": {"users": "Y", "items": "Y", "shown": "Y"},
        "everyone": {"users": "N (<100 users)", "items": "N (<10 items)", "shown": "N"},
    }
    with cli.engine() as ws:
        assert [s.id for s, _ in ws.segments()] == ["fans", "everyone"]
        assert ws.surface("home").fallback == "popular"
    assert "unchanged: fans, everyone" in flat(cli("apply", str(path)).stdout)


def test_apply_with_a_bad_rule_exits_2_points_at_it_and_stores_nothing(cli: Cli) -> None:
    with cli.engine() as ws:
        _load_shop(ws)
    path = cli.write("bad.yaml", BAD_YAML)
    result = cli("apply", str(path), code=2)
    err = flat(result.stderr)
    assert "broken" in err
    assert "users:2:3" in err  # line 2, column 3 of the rule
    assert "did you mean 'groups'?" in err
    with cli.engine() as ws:
        assert ws.segments() == []
        assert ws.surfaces() == {}


def test_apply_with_a_malformed_file_says_where(cli: Cli) -> None:
    typo = cli.write("typo.yaml", "segments:\n  - id: a\n    user: 'true'\n")
    err = flat(cli("apply", str(typo), code=2).stderr)
    assert str(typo) in err and "segments.0.user" in err
    broken = cli.write("broken.yaml", "segments: [\n")
    assert "not valid YAML" in flat(cli("apply", str(broken), code=2).stderr)
    missing = flat(cli("apply", str(cli.tmp / "nope.yaml"), code=2).stderr)
    assert "nope.yaml" in missing
    with cli.engine() as ws:
        assert ws.segments() == []


def test_segments_report_as_table_and_json(cli: Cli) -> None:
    with cli.engine() as ws:
        _load_shop(ws)
    cli("apply", str(cli.write("segments.yaml", GOOD_YAML)))
    assert verdicts(cli("segments", "report").stdout) == {
        "fans": {"users": "Y", "items": "Y", "shown": "Y"},
        "everyone": {"users": "N (<100 users)", "items": "N (<10 items)", "shown": "N"},
    }
    rows = json.loads(cli("segments", "report", "--json").stdout)
    assert [r["segment_id"] for r in rows] == ["fans", "everyone"]
    fans, everyone = rows
    assert (fans["members"], fans["items"], fans["qualifies"]) == (4, 4, True)
    assert (everyone["members"], everyone["users_test"], everyone["qualifies"]) == (
        5,
        "N (<100 users)",
        False,
    )
    assert set(fans) == {
        "segment_id",
        "name",
        "priority",
        "status",
        "members",
        "items",
        "min_users",
        "min_items",
        "users_test",
        "items_test",
        "qualifies",
        "trend_since",
        "members_before",
        "items_before",
        "at_risk",
    }


def test_ribbons_as_table_and_json(cli: Cli) -> None:
    with cli.engine() as ws:
        _load_shop(ws)
    cli("apply", str(cli.write("segments.yaml", GOOD_YAML)))
    table = clean(cli("ribbons", "f0").stdout)
    assert "Picked for fans" in table and "(fans)" in table
    assert "Main 0" in table and "m0" in table
    assert "Popular with Fans" in table or "Because you like pop" in table
    assert "o1" not in table  # not on the segment's shelf

    page = json.loads(cli("ribbons", "f0", "--json").stdout)
    assert page["user_id"] == "f0" and page["surface"] == "home" and page["recommendation_id"]
    (ribbon,) = page["ribbons"]  # the surface has one layer
    assert ribbon["segment_id"] == "fans" and len(ribbon["cards"]) == 3  # and three cards
    more = json.loads(cli("ribbons", "f0", "--json", "--cards", "2", "--layers", "2").stdout)
    assert [len(r["cards"]) for r in more["ribbons"]] == [2]

    loner = json.loads(cli("ribbons", "loner", "--json").stdout)
    assert loner["fallback_used"] is True and loner["ribbons"][0]["kind"] == "fallback"
    assert "Popular right now" in clean(cli("ribbons", "loner").stdout)


def test_ribbons_for_a_user_in_no_segment_say_so(cli: Cli) -> None:
    with cli.engine() as ws:
        _load_shop(ws)
    out = flat(cli("ribbons", "loner").stdout)
    assert "No ribbon" in out


def test_ribbons_for_an_unknown_user_exit_2_with_a_clear_message(cli: Cli) -> None:
    with cli.engine() as ws:
        _load_shop(ws)
    result = cli("ribbons", "ghost", code=2)
    assert "error: user 'ghost' does not exist" in flat(result.stderr)
    assert "Traceback" not in result.output
    surface = cli("ribbons", "f0", "--surface", "sidebar", code=2)
    assert "surface 'sidebar' is not configured" in flat(surface.stderr)


# -- demo --------------------------------------------------------------------------------------


def _generate_demo() -> Callable[..., Any] | None:
    try:
        from launchpoint.demo import generate_demo
    except ImportError:
        return None
    return generate_demo


@pytest.mark.skipif(_generate_demo() is None, reason="launchpoint.demo.generate_demo not there yet")
def test_demo_without_serving_loads_data_and_prints_a_curl_line_and_the_report(cli: Cli) -> None:
    args = ("demo", "--no-serve", "--users", "300", "--items", "80", "--events", "5000")
    out = clean(cli(*args).stdout)
    curl = re.search(
        r"curl 'http://127\.0\.0\.1:8000/v1/users/([^/]+)/ribbons\?layers=2&cards=5'", out
    )
    assert curl, out
    assert "created:" in out
    report = verdicts(out)
    assert report and {v["shown"] for v in report.values()} <= {"Y", "N"}
    stats = cli.stats()
    assert (stats["users"], stats["items"]) == (300, 80)
    assert 0 < stats["events"] <= 5000 and stats["segments"] > 0
    with cli.engine() as ws:
        ws.user(curl.group(1))  # the suggested user exists
    # Same seed, same data: a second run adds nothing.
    again = clean(cli(*args).stdout)
    assert "unchanged:" in again
    assert cli.stats() == stats


def _five_users_and_a_segment_file(cli, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """Users u0..u4 with n = 0..4 loaded; a file with one segment 'big' (n >= 2), not applied."""
    users = tmp_path / "users.jsonl"
    users.write_text("".join(f'{{"id": "u{n}", "attributes": {{"n": {n}}}}}\n' for n in range(5)))
    cli("import", str(users), "--kind", "users")
    config = tmp_path / "segments.yaml"
    config.write_text(
        'segments:\n  - id: big\n    users: "n >= 2"\n    min_users: 1\n    min_items: 0\n'
    )
    return config


def test_apply_dry_run_shows_changes_and_writes_nothing(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = _five_users_and_a_segment_file(cli, tmp_path)
    out = flat(cli("apply", "--dry-run", str(config)).stdout)
    assert "big" in out and "create" in out and "+3" in out and "nothing was written" in out
    assert "created" not in out
    report = flat(cli("segments", "report").stdout)
    assert "big" not in report
    applied = flat(cli("apply", str(config)).stdout)
    assert "created: big" in applied


def test_segments_why_and_members(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = _five_users_and_a_segment_file(cli, tmp_path)
    cli("apply", str(config))
    why = flat(cli("segments", "why", "u1").stdout)
    assert "big" in why and "not a member" in why and "n >= 2" in why and "n = 1" in why
    members = flat(cli("segments", "members", "big", "--limit", "2").stdout)
    assert "3 members" in members and "u2" in members and "u3" in members and "u4" not in members
