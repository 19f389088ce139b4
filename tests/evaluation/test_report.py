from __future__ import annotations

from pathlib import Path

import numpy as np

from launchpoint.evaluation.report import EvaluationReport
from launchpoint.evaluation.runner import evaluate, segment_breakdown
from launchpoint.evaluation.splits import leave_last_k
from launchpoint.recommenders.neighbours import ItemKNNScorer
from launchpoint.recommenders.popularity import PopularityScorer
from tests.recommenders.tastes import taste_log


def _report() -> EvaluationReport:
    split = leave_last_k(taste_log(), 1, seed=0)
    results = [
        evaluate(ItemKNNScorer(n=5), split, name="knn <b>", k=3, cutoffs=(3, 6)),
        evaluate(PopularityScorer(), split, k=3, cutoffs=(3, 6)),
    ]
    users = np.arange(split.log.n_users)
    masks = {"action fans": users < 10, "romance fans": users >= 10}
    audit = segment_breakdown(results[0], masks)
    return EvaluationReport("Offline evaluation", results, [audit], {"split": "leave-last-1"})


def test_html_report_is_one_file_with_its_plots_inside(tmp_path: Path) -> None:
    (path,) = _report().write(tmp_path / "report.html")
    text = path.read_text()
    assert text.count("data:image/png;base64,") == 3  # accuracy, coverage, segments
    assert "knn &lt;b&gt;" in text and "<b>" not in text.replace("<b>split</b>", "")
    assert "Equity audit" in text and "romance fans" in text
    assert "ndcg@3" in text and "coverage@3" in text


def test_markdown_report_links_png_files_beside_it(tmp_path: Path) -> None:
    written = _report().write(tmp_path / "out" / "report.md")
    text = written[0].read_text()
    pngs = [p for p in written if p.suffix == ".png"]
    assert len(pngs) == 3 and all(p.read_bytes().startswith(b"\x89PNG") for p in pngs)
    assert all(f"]({p.name})" in text for p in pngs)
    assert "| model | ndcg@3 |" in text
    assert "gap in ndcg@3" in text
