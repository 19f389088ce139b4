"""The settings: defaults, limits, and errors that say what is allowed."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from launchpoint.ranking.guardrails import GuardrailsConfig, RecencyConfig
from launchpoint.ranking.guardrails.config import duration_seconds


def test_the_defaults() -> None:
    config = GuardrailsConfig()
    assert config.model_dump() == {
        "diversity": {
            "min_categories": 3,
            "max_per_category": None,
            "mmr_lambda": None,
            "mmr_candidates": 50,
        },
        "exploration": {
            "share": 0.2,
            "min_affinity": 0.3,
            "candidates": 20,
            "seed": 0,
            "label": "Something different",
        },
        "recency": {"share": 0.0, "max_age": "7d", "label": "New this week"},
        "editorial": {"hidden": [], "label": "Editor's pick", "ribbons": {}},
        "no_repeats": {"across_ribbons": True, "rotate_after": 3, "rotation_window": "7d"},
    }


def test_a_surface_file_reads_into_the_config() -> None:
    config = GuardrailsConfig.model_validate(
        {
            "diversity": {"max_per_category": 3},
            "recency": {"share": 0.3, "max_age": "3d"},
            "editorial": {
                "ribbons": {
                    "cautious_savers": {
                        "pins": [{"item": "P0055", "position": 0}],
                        "curated": ["P1"],
                        "curated_share": 0.2,
                    }
                }
            },
        }
    )
    assert config.recency.max_age_seconds == 3 * 86400
    assert config.editorial.ribbons["cautious_savers"].pins[0].item == "P0055"


@pytest.mark.parametrize(
    ("settings", "where"),
    [
        ({"exploration": {"share": 1.5}}, "exploration.share"),
        ({"recency": {"max_age": "a week"}}, "recency.max_age"),
        ({"no_repeats": {"rotation_window": "7x"}}, "no_repeats.rotation_window"),
        ({"diversity": {"max_per_category": 0}}, "diversity.max_per_category"),
        ({"diversity": {"mmr_lambda": 2}}, "diversity.mmr_lambda"),
        ({"diversity": {"minimum": 3}}, "diversity.minimum"),
        (
            {
                "editorial": {
                    "ribbons": {
                        "s": {"pins": [{"item": "x", "position": 0}, {"item": "x", "position": 1}]}
                    }
                }
            },
            "editorial.ribbons.s",
        ),
    ],
)
def test_bad_settings_are_refused_where_they_are(settings: dict, where: str) -> None:
    with pytest.raises(ValidationError) as raised:
        GuardrailsConfig.model_validate(settings)
    locations = [".".join(str(part) for part in error["loc"]) for error in raised.value.errors()]
    assert any(location.startswith(where) for location in locations), locations


def test_durations() -> None:
    assert [duration_seconds(t) for t in ("45s", "90m", "12h", "7d", "2w", "1.5d")] == [
        45,
        5400,
        43200,
        604800,
        1209600,
        129600,
    ]
    with pytest.raises(ValueError, match="not a duration"):
        RecencyConfig(max_age="soon")
