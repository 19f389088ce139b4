from __future__ import annotations

import pytest
from pydantic import ValidationError

from launchpoint.experiments.spec import ExperimentSpec, validate_overrides


def _spec(**changes: object) -> ExperimentSpec:
    base: dict[str, object] = {"id": "exp", "variants": [{"id": "a"}, {"id": "b"}]}
    return ExperimentSpec.model_validate({**base, **changes})


def test_defaults_fill_in_name_seed_namespace_and_control() -> None:
    spec = _spec()
    assert (spec.name, spec.seed, spec.namespace, spec.control) == (
        "exp",
        "exp",
        "experiment:exp",
        "a",
    )
    assert spec.window_seconds == 86_400.0
    assert _spec(attribution_window="30m").window_seconds == 1800.0


def test_an_unknown_override_names_itself_and_lists_the_known_ones() -> None:
    with pytest.raises(ValidationError) as info:
        _spec(variants=[{"id": "a", "overrides": {"layerz": 3}}, {"id": "b"}])
    message = str(info.value)
    assert "'layerz'" in message and "layers, cards, fallback, algorithm" in message


def test_overrides_are_validated_and_kept_as_a_plain_dict() -> None:
    raw = {"layers": 3, "blend_weights": {"popularity": 0.2}, "personalisation": False}
    assert validate_overrides(raw) == raw
    for bad in ({"layers": 0}, {"fallback": "random"}, {"blend_weights": {"x": -1}}):
        with pytest.raises(ValueError, match="override"):
            validate_overrides(bad)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"control": "z"}, "control 'z' is not a variant"),
        ({"variants": [{"id": "a"}, {"id": "a"}]}, "more than once"),
        ({"variants": [{"id": "a"}]}, "at least 2"),
        ({"buckets": (500, 500)}, "buckets"),
        ({"buckets": (0, 1001)}, "buckets"),
        ({"attribution_window": "soon"}, "not a duration"),
        ({"coverage": 1.5}, "less than or equal to 1"),
        ({"id": "holdout"}, "reserved"),
        ({"surprise": 1}, "Extra inputs"),
    ],
)
def test_invalid_specs_say_what_is_wrong(changes: dict[str, object], expected: str) -> None:
    with pytest.raises(ValidationError, match=expected):
        _spec(**changes)
