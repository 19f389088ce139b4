"""An evaluation report, in Markdown or self-contained HTML, with plots.

Plots are drawn with matplotlib's Agg backend (no display needed). The HTML embeds them as
base64 PNGs, so the one file can be mailed or attached to a ticket; the Markdown links PNG
files written beside it.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment

from launchpoint.evaluation.runner import Evaluation, SegmentAudit

_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; } th, td { padding: .3rem .7rem; }
th { background: #f0f0f0; text-align: left; } td.num { text-align: right; }
tr:nth-child(even) td { background: #fafafa; } img { max-width: 100%; }
.gap { color: #a33; }
</style></head><body>
<h1>{{ title }}</h1>
{% if protocol %}<h2>Protocol</h2><ul>{% for k, v in protocol %}<li><b>{{ k }}</b>: {{ v }}</li>
{% endfor %}</ul>{% endif %}
<h2>Models</h2>{{ models_table | safe }}
{% for name, image in plots %}<h3>{{ name }}</h3>
<img alt="{{ name }}" src="data:image/png;base64,{{ image }}">
{% endfor %}
{% for audit in audits %}<h2>Equity audit: {{ audit.model }}</h2>{{ audit.table | safe }}
<p>Gap between the best and the worst served segment:</p><ul>
{% for metric, best, worst, gap in audit.gaps %}
<li class="gap">{{ metric }}: {{ gap }} ({{ best }} best, {{ worst }} worst)</li>
{% endfor %}</ul>{% endfor %}
</body></html>
"""


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.4f}" if abs(value) < 100 else f"{value:,.1f}"
    return str(value)


@dataclass
class EvaluationReport:
    title: str
    evaluations: Sequence[Evaluation]
    audits: Sequence[SegmentAudit] = ()
    protocol: dict[str, str] = field(default_factory=dict)
    metrics: Sequence[str] | None = None

    def columns(self) -> list[str]:
        if self.metrics:
            return list(self.metrics)
        k = self.evaluations[0].k if self.evaluations else 10
        wanted = [f"{name}@{k}" for name in ("ndcg", "precision", "recall")]
        wanted += [f"recall@{2 * k}", f"map@{k}", f"hit_rate@{k}", f"coverage@{k}"]
        wanted += [f"diversity@{k}", f"novelty@{k}", f"popularity_bias@{k}"]
        present: set[str] = set()
        for evaluation in self.evaluations:
            present.update(evaluation.summary)
        return [m for m in wanted if m in present]

    def rows(self) -> tuple[list[str], list[list[str]]]:
        headers = ["model", *self.columns(), "fit s", "users"]
        rows = [
            [
                e.name,
                *(_fmt(e.summary.get(m, float("nan"))) for m in self.columns()),
                _fmt(e.fit_seconds),
                str(int(e.summary.get("users", 0))),
            ]
            for e in self.evaluations
        ]
        return headers, rows

    @staticmethod
    def _audit_rows(
        audit: SegmentAudit, metrics: Sequence[str]
    ) -> tuple[list[str], list[list[str]]]:
        headers = ["segment", "test users", *metrics]
        rows = [
            [r.segment, str(r.users), *(_fmt(r.metrics.get(m, float("nan"))) for m in metrics)]
            for r in audit.rows
        ]
        return headers, rows

    def _audit_metrics(self, audit: SegmentAudit) -> list[str]:
        return [m for m in self.columns() if any(m in r.metrics for r in audit.rows)]

    # -- plots ---------------------------------------------------------------------------
    def plots(self) -> list[tuple[str, bytes]]:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt

        out: list[tuple[str, bytes]] = []
        if not self.evaluations:
            return out
        names = [e.name for e in self.evaluations]
        accuracy = [m for m in self.columns() if m.split("@")[0] in ("ndcg", "recall", "precision")]
        fig, ax = plt.subplots(figsize=(8, 3.5))
        width = 0.8 / max(len(accuracy), 1)
        for n, metric in enumerate(accuracy):
            values = [e.summary.get(metric, float("nan")) for e in self.evaluations]
            ax.bar([i + n * width for i in range(len(names))], values, width, label=metric)
        ax.set_xticks(
            [i + width * (len(accuracy) - 1) / 2 for i in range(len(names))],
            names,
            rotation=20,
            ha="right",
        )
        ax.legend()
        ax.set_title("Accuracy by model")
        out.append(("accuracy", _png(fig)))
        k = self.evaluations[0].k
        fig, ax = plt.subplots(figsize=(6, 4))
        for e in self.evaluations:
            ax.scatter(e.summary.get(f"coverage@{k}", 0.0), e.summary.get(f"ndcg@{k}", 0.0))
            ax.annotate(
                e.name, (e.summary.get(f"coverage@{k}", 0.0), e.summary.get(f"ndcg@{k}", 0.0))
            )
        ax.set_xlabel(f"catalogue coverage@{k}")
        ax.set_ylabel(f"NDCG@{k}")
        ax.set_title("Accuracy against coverage")
        out.append(("coverage", _png(fig)))
        for audit in self.audits:
            metric = f"ndcg@{k}"
            rows = [r for r in audit.rows if not math.isnan(r.metrics.get(metric, float("nan")))]
            if not rows:
                continue
            fig, ax = plt.subplots(figsize=(8, 3.5))
            ax.bar([r.segment for r in rows], [r.metrics[metric] for r in rows])
            ax.set_ylabel(metric)
            ax.set_title(f"{metric} by segment ({audit.model})")
            ax.tick_params(axis="x", rotation=20)
            out.append((f"segments-{audit.model}", _png(fig)))
        plt.close("all")
        return out

    # -- output --------------------------------------------------------------------------
    def html(self) -> str:
        headers, rows = self.rows()
        audits = []
        for audit in self.audits:
            metrics = self._audit_metrics(audit)
            h, r = self._audit_rows(audit, metrics)
            gaps = [
                (m, best, worst, _fmt(gap))
                for m, (best, worst, gap) in audit.gaps.items()
                if m in metrics
            ]
            audits.append({"model": audit.model, "table": _html_table(h, r), "gaps": gaps})
        template = Environment(autoescape=True).from_string(_HTML)
        return template.render(
            title=self.title,
            protocol=list(self.protocol.items()),
            models_table=_html_table(headers, rows),
            plots=[(name, base64.b64encode(png).decode()) for name, png in self.plots()],
            audits=audits,
        )

    def markdown(self, image_links: Sequence[tuple[str, str]] = ()) -> str:
        headers, rows = self.rows()
        lines = [f"# {self.title}", ""]
        if self.protocol:
            lines += ["## Protocol", ""] + [f"- **{k}**: {v}" for k, v in self.protocol.items()]
            lines.append("")
        lines += ["## Models", "", *_md_table(headers, rows), ""]
        lines += [f"![{name}]({link})" for name, link in image_links]
        for audit in self.audits:
            metrics = self._audit_metrics(audit)
            h, r = self._audit_rows(audit, metrics)
            lines += ["", f"## Equity audit: {audit.model}", "", *_md_table(h, r), ""]
            lines += [
                f"- gap in {m}: {_fmt(gap)} ({best} best, {worst} worst)"
                for m, (best, worst, gap) in audit.gaps.items()
                if m in metrics
            ]
        return "\n".join(lines) + "\n"

    def write(self, path: Path) -> list[Path]:
        """Write the report: HTML for a .html path, else Markdown with PNGs beside it.
        Returns the files written."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() in (".html", ".htm"):
            path.write_text(self.html(), encoding="utf-8")
            return [path]
        written, links = [], []
        for name, png in self.plots():
            image = path.with_name(f"{path.stem}-{name}.png")
            image.write_bytes(png)
            written.append(image)
            links.append((name, image.name))
        path.write_text(self.markdown(links), encoding="utf-8")
        return [path, *written]


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def _html_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{html.escape(c)}</td>' if n else f"<td>{html.escape(c)}</td>"
            for n, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    rule = ["---" if n == 0 else "---:" for n in range(len(headers))]
    out = ["| " + " | ".join(cell(h) for h in headers) + " |", "| " + " | ".join(rule) + " |"]
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return out
