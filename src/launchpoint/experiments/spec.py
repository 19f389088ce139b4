"""Experiments as a team writes them: a surface, variants that override its settings, and the
rollout knobs (coverage, namespace buckets) that decide who takes part."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from launchpoint.domain.segments import Fallback
from launchpoint.segments.parser import parse_duration

ExperimentStatus = Literal["draft", "running", "stopped"]
GuardrailMetric = Literal[
    "ctr", "conversion", "engagement", "diversity", "negative_feedback", "opt_out"
]
NAMESPACE_BUCKETS = 1000  # each namespace splits users into this many buckets
RESERVED_EXPERIMENT_IDS = frozenset({"holdout"})  # names an API route
_ID = r"^[A-Za-z0-9_.\-]+$"
ENGAGEMENT_EVENTS = ("click", "like", "save", "share", "purchase", "dwell", "thumbs_up", "rate")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SurfaceOverrides(_Spec):
    """The surface settings a variant may change; anything left out keeps the surface's value.
    ``personalisation: false`` serves the surface's non-personalised experience (its
    fallback), which is what a control arm or the holdout gets."""

    layers: int | None = Field(None, ge=1, le=50)
    cards: int | None = Field(None, ge=1, le=200)
    fallback: Fallback | None = None
    algorithm: str | None = Field(None, min_length=1, max_length=128, pattern=_ID)
    blend_weights: dict[str, float] | None = None
    guardrails: dict[str, Any] | None = None
    personalisation: bool | None = None

    @field_validator("blend_weights")
    @classmethod
    def _weights(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is not None:
            bad = {k: w for k, w in value.items() if not w >= 0}
            if bad:
                raise ValueError(f"blend weights must be >= 0, got {bad}")
        return value


KNOWN_OVERRIDES = tuple(SurfaceOverrides.model_fields)


def validate_overrides(raw: dict[str, Any]) -> dict[str, Any]:
    """The overrides as a plain dict of known keys, or ValueError naming the unknown ones and
    listing those allowed."""
    unknown = sorted(set(raw) - set(KNOWN_OVERRIDES))
    if unknown:
        raise ValueError(
            f"unknown override(s) {', '.join(map(repr, unknown))}; a variant may override: "
            + ", ".join(KNOWN_OVERRIDES)
        )
    try:
        parsed = SurfaceOverrides.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"override {where}: {first['msg']}") from None
    return parsed.model_dump(exclude_none=True)


class VariantSpec(_Spec):
    id: str = Field(..., min_length=1, max_length=128, pattern=_ID)
    weight: float = Field(1.0, gt=0, description="Share of the experiment's users, relative.")
    overrides: dict[str, Any] = Field(default_factory=dict)
    description: str = Field("", max_length=1024)

    @field_validator("overrides")
    @classmethod
    def _known(cls, value: dict[str, Any]) -> dict[str, Any]:
        return validate_overrides(value)


class GuardrailSpec(_Spec):
    """A metric that must not move the wrong way by more than ``max_change`` (relative) in any
    variant against the control. ``rise`` guards metrics that must not go up (negative
    feedback, opt-outs); ``fall`` those that must not go down (diversity, CTR)."""

    metric: GuardrailMetric
    direction: Literal["rise", "fall"] = "rise"
    max_change: float = Field(0.1, ge=0, description="Largest tolerated relative change.")
    min_users: int = Field(100, ge=1, description="Per variant, before the guardrail can fire.")
    stop: bool = Field(True, description="Stop the experiment when the guardrail is breached.")


class EventTypes(_Spec):
    """Which event types count as what. Engagement is every interaction; conversions are the
    ones that matter most to the business."""

    clicks: list[str] = Field(default_factory=lambda: ["click"])
    conversions: list[str] = Field(default_factory=lambda: ["purchase", "save"])
    engagement: list[str] = Field(default_factory=lambda: list(ENGAGEMENT_EVENTS))
    negative: list[str] = Field(default_factory=lambda: ["dismiss", "thumbs_down"])
    opt_out: list[str] = Field(default_factory=lambda: ["opt_out"])


class ExperimentSpec(_Spec):
    """An experiment on one surface. The first variant is the control unless ``control``
    names another."""

    id: str = Field(..., min_length=1, max_length=128, pattern=_ID)
    name: str = Field("", max_length=256)
    description: str = Field("", max_length=4096)
    surface: str = Field("home", min_length=1, max_length=128)
    variants: list[VariantSpec] = Field(..., min_length=2, max_length=20)
    control: str = Field("", description="Variant id of the control; default the first.")
    seed: str = Field("", max_length=128, description="Hash seed; default the experiment id.")
    coverage: float = Field(1.0, ge=0, le=1, description="Share of eligible users taking part.")
    namespace: str = Field(
        "", max_length=128, description="Experiments sharing a namespace never share a user."
    )
    buckets: tuple[int, int] = Field(
        (0, NAMESPACE_BUCKETS), description="[start, end) of the namespace's buckets taken."
    )
    attribution_window: str = Field("24h", description="How long after an exposure it counts.")
    events: EventTypes = Field(default_factory=EventTypes)
    guardrails: list[GuardrailSpec] = Field(default_factory=list)
    alpha: float = Field(0.05, gt=0, lt=0.5)
    # The mixing scale of the sequential test, in units of relative lift: the effect size it
    # is most sensitive to.
    sequential_tau: float = Field(0.1, gt=0, le=10)

    @model_validator(mode="after")
    def _check(self) -> ExperimentSpec:
        if self.id in RESERVED_EXPERIMENT_IDS:
            raise ValueError(f"experiment id {self.id!r} is reserved (it names an API route)")
        ids = [v.id for v in self.variants]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"variant id(s) {repeated} appear more than once")
        if not self.control:
            self.control = ids[0]
        elif self.control not in ids:
            raise ValueError(f"control {self.control!r} is not a variant; variants: {ids}")
        if not self.name:
            self.name = self.id
        if not self.seed:
            self.seed = self.id
        if not self.namespace:
            self.namespace = f"experiment:{self.id}"
        start, end = self.buckets
        if not 0 <= start < end <= NAMESPACE_BUCKETS:
            raise ValueError(
                f"buckets {list(self.buckets)} must satisfy 0 <= start < end <= {NAMESPACE_BUCKETS}"
            )
        if parse_duration(self.attribution_window) is None:
            raise ValueError(
                f"attribution_window {self.attribution_window!r} is not a duration; use e.g. "
                "'24h', '30m' or '7d'"
            )
        return self

    @property
    def window_seconds(self) -> float:
        seconds = parse_duration(self.attribution_window)
        assert seconds is not None  # checked when validated
        return seconds

    @property
    def variant_ids(self) -> list[str]:
        return [v.id for v in self.variants]

    def variant(self, variant_id: str) -> VariantSpec:
        for v in self.variants:
            if v.id == variant_id:
                return v
        raise KeyError(variant_id)


class RolloutStep(_Spec):
    at: float
    coverage: float
    note: str = ""


class Experiment(_Spec):
    """A stored experiment: its spec and where it is in its life."""

    spec: ExperimentSpec
    status: ExperimentStatus = "draft"
    created_at: float = 0.0
    started_at: float | None = None
    stopped_at: float | None = None
    stop_reason: str = ""
    rollout: list[RolloutStep] = Field(default_factory=list)

    @property
    def id(self) -> str:
        return self.spec.id


class HoldoutSpec(_Spec):
    """The workspace's global holdout: this share of users gets the non-personalised
    experience and takes part in no experiment. Raising the share keeps everyone already
    held out in the holdout."""

    share: float = Field(0.0, ge=0, le=0.5)
    seed: str = Field("holdout", min_length=1, max_length=128)
