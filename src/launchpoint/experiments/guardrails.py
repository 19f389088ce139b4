"""Guardrail metrics: alerts when a variant moves a metric the wrong way, and the decision to
stop the experiment.

Guardrails are read at every report and before every ramp, that is, many times over an
experiment's life, so a breach is judged with the always-valid confidence sequence rather than
the fixed-horizon interval (which, read that often, would fire on noise far more than alpha
of the time). A guardrail is breached when both hold:

- the point estimate moved the wrong way by more than ``max_change`` (relative; any rise from
  a control at zero counts as more), and
- the always-valid test rejects "no change" at the experiment's alpha (equivalently, the
  confidence sequence excludes 0), with the change on the wrong side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from launchpoint.experiments.analysis import Analysis
from launchpoint.experiments.spec import ExperimentSpec, GuardrailSpec


@dataclass(frozen=True)
class GuardrailAlert:
    metric: str
    variant: str
    direction: str
    max_change: float
    lift: float
    cs_low: float
    cs_high: float
    users: int  # in the smaller of the two arms
    breached: bool
    stop: bool  # breached, and the guardrail stops the experiment
    message: str


def _judge(
    guard: GuardrailSpec, analysis: Analysis, variant: str, control: str, alpha: float
) -> GuardrailAlert:
    c = analysis.comparison(guard.metric, variant)
    users = {s.variant: s.users for s in analysis.variants}
    fewest = min(users[variant], users[control])
    rise = guard.direction == "rise"
    adverse = c.difference if rise else -c.difference
    if math.isfinite(c.lift):
        worse = c.lift if rise else -c.lift
    else:  # the control is at zero: any move the wrong way is unbounded in relative terms
        worse = math.inf if adverse > 0 else 0.0
    confident = adverse > 0 and c.always_valid_p < alpha
    enough = fewest >= guard.min_users
    breached = enough and worse > guard.max_change and confident
    verb = "rose" if rise else "fell"
    shown = f"{abs(c.lift):.1%}" if math.isfinite(c.lift) else "from zero"
    if breached:
        message = (
            f"guardrail {guard.metric}: {verb} {shown} in variant {variant!r} against "
            f"{control!r} (more than the {guard.max_change:.0%} allowed; always-valid "
            f"p = {c.always_valid_p:.2g})"
        )
    elif not enough:
        message = f"guardrail {guard.metric}: waiting for {guard.min_users} users per variant"
    else:
        message = f"guardrail {guard.metric}: within bounds in variant {variant!r}"
    return GuardrailAlert(
        guard.metric, variant, guard.direction, guard.max_change, c.lift, c.cs_low, c.cs_high,
        fewest, breached, breached and guard.stop, message,
    )  # fmt: skip


def evaluate_guardrails(spec: ExperimentSpec, analysis: Analysis) -> list[GuardrailAlert]:
    """One alert per guardrail and non-control variant, breached or not."""
    return [
        _judge(guard, analysis, variant, spec.control, spec.alpha)
        for guard in spec.guardrails
        for variant in spec.variant_ids
        if variant != spec.control
    ]


def stop_reason(alerts: list[GuardrailAlert]) -> str | None:
    """Why the experiment must stop, or None when no stopping guardrail is breached."""
    stopping = [a.message for a in alerts if a.stop]
    return "; ".join(stopping) if stopping else None
