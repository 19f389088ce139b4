"""An experiment report as Markdown or as one self-contained HTML page (charts embedded as
base64 PNG, drawn with matplotlib's Agg canvas so no display is needed)."""

from __future__ import annotations

import base64
import io
import math
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from launchpoint.experiments.metrics import METRICS
from launchpoint.experiments.service import ExperimentReport


def _num(value: float, digits: int = 4) -> str:
    return f"{value:.{digits}f}" if math.isfinite(value) else "n/a"


def _pct(value: float) -> str:
    return f"{value:+.1%}" if math.isfinite(value) else "n/a"


def _p(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    return "<0.0001" if value < 1e-4 else f"{value:.4f}"


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _rows(report: ExperimentReport) -> dict[str, list[list[str]]]:
    a = report.analysis
    variants = [
        [v.variant, f"{v.users:,}", f"{v.pages:,.0f}", f"{v.impressions:,.0f}"]
        + [_num(v.metrics[m].value) for m in METRICS]
        for v in a.variants
    ]
    comparisons = [
        [
            c.metric,
            c.variant,
            _num(c.control_value),
            _num(c.value),
            _pct(c.lift),
            f"[{_pct(c.ci_low)}, {_pct(c.ci_high)}]",
            _p(c.p_value),
            f"[{_pct(c.cs_low)}, {_pct(c.cs_high)}]",
            _p(c.always_valid_p),
            "yes" if c.significant else "no",
        ]
        for c in a.comparisons
    ]
    segments = [
        [
            name,
            c.metric,
            c.variant,
            f"{seg.users:,}",
            _pct(c.lift),
            f"[{_pct(c.ci_low)}, {_pct(c.ci_high)}]",
            _p(c.p_value),
        ]
        for name, seg in a.segments.items()
        for c in seg.comparisons
    ]
    guardrails = [
        [
            g.metric,
            g.variant,
            g.direction,
            f"{g.max_change:.0%}",
            _pct(g.lift),
            "BREACHED" if g.breached else "ok",
            g.message,
        ]
        for g in report.guardrails
    ]
    return {
        "variants": variants,
        "comparisons": comparisons,
        "segments": segments,
        "guardrails": guardrails,
    }


HEADERS = {
    "variants": ["variant", "users", "pages", "cards", *METRICS],
    "comparisons": [
        "metric",
        "variant",
        "control",
        "value",
        "lift",
        "95% CI",
        "p",
        "always-valid CI",
        "always-valid p",
        "significant",
    ],
    "segments": ["segment", "metric", "variant", "users", "lift", "95% CI", "p"],
    "guardrails": ["metric", "variant", "guards", "max change", "lift", "state", "message"],
}


def _summary(report: ExperimentReport) -> list[str]:
    e = report.experiment
    srm = report.analysis.srm
    lines = [
        f"Status: **{e.status}**" + (f" ({e.stop_reason})" if e.stop_reason else ""),
        f"Surface: `{e.spec.surface}`; control: `{e.spec.control}`; coverage "
        f"{e.spec.coverage:.0%}; attribution window {e.spec.attribution_window}",
        f"Started {_when(e.started_at)}; stopped {_when(e.stopped_at)}; report "
        f"{_when(report.generated_at)}",
        f"Exposed users: {report.analysis.users:,}; attributed outcomes: "
        + (", ".join(f"{k} {v:,}" for k, v in sorted(report.attributed.items())) or "none"),
    ]
    if srm.flagged:
        lines.append(
            f"**Sample ratio mismatch** (chi-square p = {_p(srm.p_value)}): users per variant "
            f"{srm.counts} against expected {[round(x) for x in srm.expected]}. The split is "
            "broken; do not trust the lifts below until the cause is found."
        )
    else:
        lines.append(f"Sample ratio: ok (p = {_p(srm.p_value)}, users {srm.counts})")
    for g in report.guardrails:
        if g.breached:
            lines.append(f"**Alert**: {g.message}")
    return lines


def _md_table(headers: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(out)


def render_markdown(report: ExperimentReport) -> str:
    tables = _rows(report)
    parts = [f"# Experiment {report.experiment.spec.name}", ""]
    parts += [f"- {line}" for line in _summary(report)]
    for key, title in (
        ("variants", "Variants"),
        ("comparisons", "Lift against the control"),
        ("guardrails", "Guardrails"),
        ("segments", "By segment"),
    ):
        if tables[key]:
            parts += ["", f"## {title}", "", _md_table(HEADERS[key], tables[key])]
    parts += ["", "Metrics: " + "; ".join(f"{m}: {d}" for m, (_, _, d) in METRICS.items()), ""]
    return "\n".join(parts)


def lift_chart(report: ExperimentReport) -> str:
    """Relative lift per metric and variant with its 95% interval (black) and always-valid
    interval (grey), as a base64 PNG."""
    rows = [c for c in report.analysis.comparisons if math.isfinite(c.lift)]
    fig = Figure(figsize=(7.5, 0.45 * max(len(rows), 2) + 1.2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for y, c in enumerate(rows):
        if math.isfinite(c.cs_low):
            ax.plot([c.cs_low * 100, c.cs_high * 100], [y, y], color="#bbbbbb", linewidth=6)
        if math.isfinite(c.ci_low):
            ax.plot([c.ci_low * 100, c.ci_high * 100], [y, y], color="black", linewidth=2)
        ax.plot([c.lift * 100], [y], "o", color="#d62728" if c.significant else "#1f77b4")
    ax.axvline(0, color="#888888", linewidth=1, linestyle="--")
    ax.set_yticks(range(len(rows)), [f"{c.metric} ({c.variant})" for c in rows])
    ax.set_xlabel(f"relative lift against {report.experiment.spec.control!r} (%)")
    ax.invert_yaxis()
    fig.tight_layout()
    return _png(fig)


def variant_chart(report: ExperimentReport) -> str:
    """Each metric per variant, with +-1.96 standard errors, as a base64 PNG."""
    variants = report.analysis.variants
    metrics = list(METRICS)
    fig = Figure(figsize=(9, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    for n, metric in enumerate(metrics):
        ax = fig.add_subplot(2, 3, n + 1)
        values = [v.metrics[metric].value for v in variants]
        errors = [1.96 * v.metrics[metric].se for v in variants]
        clean = [x if math.isfinite(x) else 0.0 for x in values]
        errs = [x if math.isfinite(x) else 0.0 for x in errors]
        ax.bar(range(len(variants)), clean, yerr=errs, color="#4c72b0", capsize=3)
        ax.set_xticks(range(len(variants)), [v.variant for v in variants], fontsize=8)
        ax.set_title(metric, fontsize=9)
        ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    return _png(fig)


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Experiment {{ name }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 72rem; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.alert { color: #b00020; font-weight: bold; }
</style></head><body>
<h1>Experiment {{ name }}</h1>
<ul>{% for line in summary %}<li{% if '**' in line %} class="alert"{% endif %}>
{{ line | replace('**', '') }}</li>{% endfor %}</ul>
<h2>Lift against the control</h2>
<img alt="relative lift per metric with intervals" src="data:image/png;base64,{{ lift_png }}">
<h2>Metrics per variant</h2>
<img alt="metric values per variant" src="data:image/png;base64,{{ variant_png }}">
{% for key, title in sections %}{% if tables[key] %}
<h2>{{ title }}</h2>
<table><tr>{% for h in headers[key] %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in tables[key] %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</table>{% endif %}{% endfor %}
</body></html>
"""


def render_html(report: ExperimentReport) -> str:
    context: dict[str, Any] = {
        "name": report.experiment.spec.name,
        "summary": _summary(report),
        "lift_png": lift_chart(report),
        "variant_png": variant_chart(report),
        "tables": _rows(report),
        "headers": HEADERS,
        "sections": [
            ("variants", "Variants"),
            ("comparisons", "Figures"),
            ("guardrails", "Guardrails"),
            ("segments", "By segment"),
        ],
    }
    return Environment(autoescape=True).from_string(_HTML).render(**context)
