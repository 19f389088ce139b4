"""``launchpoint train``, ``evaluate`` and ``models``, run in-process against a small workspace.

The commands are mounted on their own root app here (with the real global options), so these
tests do not depend on how the main CLI registers them."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from launchpoint.cli import common, main_options, models
from launchpoint.domain.records import EventIn, ItemIn, UserIn
from launchpoint.domain.segments import SegmentSpec, WorkspaceConfig
from launchpoint.engine import Launchpoint
from launchpoint.settings import Settings
from tests.recommenders.tastes import taste_log

runner = CliRunner()
ENV = {"COLUMNS": "400", "LINES": "200"}
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

app = typer.Typer(no_args_is_help=True)
app.callback()(main_options)
app.command("train")(models.train)
app.command("evaluate")(models.evaluate_command)
app.add_typer(models.models_app, name="models")


def flat(text: str) -> str:
    return " ".join(_ANSI.sub("", text).split())


class Run:
    def __init__(self, tmp: Path) -> None:
        self.url = f"sqlite:///{tmp / 'lp.db'}"
        self.workspace = f"m{uuid.uuid4().hex[:10]}"
        self.data_dir = tmp / "data"

    def __call__(self, *args: str, code: int = 0) -> Any:
        result = runner.invoke(
            app,
            [
                "--database-url",
                self.url,
                "--workspace",
                self.workspace,
                "--data-dir",
                str(self.data_dir),
                *args,
            ],
            env=ENV,
        )
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert result.exit_code == code, (args, result.exit_code, result.output)
        return result


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    for console in (common.console, common.err_console):
        monkeypatch.setattr(console, "_width", 400)
    cli = Run(tmp_path)
    log = taste_log()
    lp = Launchpoint(Settings(database_url=cli.url, workspace=cli.workspace, data_dir=cli.data_dir))
    ws = lp.workspace()
    meta = log.metadata
    ws.add_items(
        [
            ItemIn(id=i, title=meta.titles[n], categories=list(meta.categories[n]))
            for n, i in enumerate(log.item_ids)
        ]
    )
    ws.add_users([UserIn(id=u) for u in log.user_ids])
    ws.add_events(
        [
            EventIn(
                user_id=log.user_ids[u],
                item_id=log.item_ids[i],
                type="purchase",
                timestamp=float(t),
                message_id=f"e{n}",
            )
            for n, (u, i, t) in enumerate(zip(log.users, log.items, log.timestamps, strict=True))
        ]
    )
    fans = [
        SegmentSpec(
            id=f"{genre.lower()}_fans",
            name=f"{genre} fans",
            priority=n,
            min_users=1,
            min_items=1,
            users=f"count(event = 'purchase' and categories contains '{genre}') >= 2",
            items=f"categories contains '{genre}'",
        )
        for n, genre in enumerate(("Action", "Romance"), 1)
    ]
    ws.apply(WorkspaceConfig(segments=fans))
    lp.close()
    return cli


def test_train_saves_and_activates_versions_and_rollback_returns(run: Run) -> None:
    out = flat(run("train", "--family", "item_knn", "--param", "n=5").stdout)
    assert "Saved model v0001 (item_knn)" in out and "Active: v0001" in out
    out = flat(run("train", "--family", "popularity", "--no-activate").stdout)
    assert "Not active; serve it with: launchpoint models activate v0002" in out
    listed = json.loads(run("models", "list", "--json").stdout)
    assert listed["active"] == "v0001"
    assert [v["family"] for v in listed["versions"]] == ["item_knn", "popularity"]
    assert listed["versions"][0]["params"]["n"] == 5
    run("models", "activate", "v0002")
    table = flat(run("models", "list").stdout)
    assert "v0002 *" in table and "v0001 *" not in table
    assert "Active: v0001" in flat(run("models", "rollback").stdout)
    assert "no earlier version" in flat(run("models", "rollback", code=2).stderr)
    assert "'v0009' does not exist" in flat(run("models", "activate", "v0009", code=2).stderr)
    shown = json.loads(run("models", "show", "v0001").stdout)
    assert shown["data"]["users"] == 21 and shown["training_seconds"] >= 0


def test_train_the_default_hybrid_reports_its_blend(run: Run) -> None:
    out = flat(run("train", "--param", "validation_k=1", "--weight", "purchase=4").stdout)
    assert "(hybrid)" in out and "Blend weights (fitted on validation):" in out
    manifest = json.loads(run("models", "show", "v0001").stdout)
    assert manifest["data"]["signals"]["weights"] == {"purchase": 4.0}


def test_bad_settings_are_clear_errors(run: Run) -> None:
    assert "unknown recommender family 'nope'" in flat(
        run("train", "--family", "nope", code=2).stderr
    )
    assert "invalid settings for item_knn: n" in flat(
        run("train", "--family", "item_knn", "--param", "n=0", code=2).stderr
    )
    assert "not KEY=VALUE" in flat(run("train", "--param", "oops", code=2).stderr)


def test_evaluate_prints_metrics_and_writes_a_report(run: Run, tmp_path: Path) -> None:
    report = tmp_path / "eval.html"
    out = flat(
        run(
            "evaluate",
            "--family",
            "popularity",
            "--family",
            "item_knn",
            "--test-k",
            "1",
            "--k",
            "3",
            "--report",
            str(report),
        ).stdout
    )
    assert "ndcg@3" in out and "item_knn" in out and "popularity" in out
    assert "Report written:" in out and "data:image/png;base64," in report.read_text()
    assert "Equity audit: item_knn" in report.read_text()
    data = json.loads(
        run("evaluate", "--family", "item_knn", "--test-k", "1", "--k", "3", "--json").stdout
    )
    assert data["models"]["item_knn"]["users"] == 20
    assert 0 <= data["models"]["item_knn"]["ndcg@3"] <= 1
    audit = data["segments"]["item_knn"]
    assert {row["segment"]: row["users"] for row in audit["rows"]} == {
        "action_fans": 10,
        "romance_fans": 10,
    }
    assert "ndcg@3" in audit["gaps"]
