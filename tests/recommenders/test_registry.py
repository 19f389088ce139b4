from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from launchpoint.errors import Conflict, NotFound
from launchpoint.recommenders.model import TrainedModel, train_model
from launchpoint.recommenders.registry import ModelRegistry
from tests.recommenders.tastes import taste_data


@pytest.fixture
def model() -> TrainedModel:
    return train_model(taste_data(), "item_knn", {"n": 5}, signals={"rating_threshold": None})


def test_a_saved_version_has_its_model_and_manifest(tmp_path: Path, model: TrainedModel) -> None:
    registry = ModelRegistry.for_workspace(tmp_path, "shop")
    manifest = registry.save(model)
    assert manifest.version == "v0001"
    folder = tmp_path / "models" / "shop" / "v0001"
    assert (folder / "model.pkl").is_file()
    stored = json.loads((folder / "manifest.json").read_text())
    assert stored["family"] == "item_knn" and stored["params"]["n"] == 5
    assert stored["data"]["users"] == 21 and stored["data"]["positive"] == 82
    assert stored["data"]["last_event"] >= stored["data"]["first_event"]
    assert stored["training_seconds"] >= 0
    assert registry.active_version() is None and registry.active() is None
    loaded = registry.load("v0001")
    np.testing.assert_allclose(loaded.scorer.score(3), model.scorer.score(3))
    assert [m.version for m in registry.versions()] == ["v0001"]
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".tmp")]


def test_activate_rollback_and_a_second_reader(tmp_path: Path, model: TrainedModel) -> None:
    writer = ModelRegistry.for_workspace(tmp_path, "shop")
    reader = ModelRegistry.for_workspace(tmp_path, "shop")  # e.g. a serving process
    writer.save(model, activate=True)
    first = reader.active()
    assert first is not None and first.version == "v0001"
    assert reader.active() is first  # cached while the pointer is unchanged
    writer.save(model, activate=True)
    second = reader.active()
    assert second is not None and second.version == "v0002"
    # A request that started on v0001 finishes on it.
    assert np.isfinite(first.scorer.score(2)).all()
    assert writer.rollback() == "v0001"
    rolled = reader.active()
    assert rolled is not None and rolled.version == "v0001"
    with pytest.raises(Conflict, match="no earlier version"):
        writer.rollback()
    writer.activate("v0002")
    assert reader.active_version() == "v0002"


def test_unknown_versions_are_not_found(tmp_path: Path, model: TrainedModel) -> None:
    registry = ModelRegistry.for_workspace(tmp_path, "shop")
    registry.save(model)
    with pytest.raises(NotFound, match=r"'v0009'.*known versions: v0001"):
        registry.activate("v0009")
    with pytest.raises(NotFound):
        registry.load("../elsewhere")


def test_a_slow_reader_looks_at_the_pointer_at_most_every_interval(
    tmp_path: Path, model: TrainedModel
) -> None:
    writer = ModelRegistry.for_workspace(tmp_path, "shop")
    writer.save(model, activate=True)
    reader = ModelRegistry.for_workspace(tmp_path, "shop", check_interval=3600)
    first = reader.active()
    writer.save(model, activate=True)
    assert reader.active() is first


def test_a_version_that_cannot_be_written_leaves_nothing_behind(
    tmp_path: Path, model: TrainedModel
) -> None:
    registry = ModelRegistry.for_workspace(tmp_path, "shop")
    model.metrics["unpicklable"] = lambda: None  # type: ignore[assignment]
    with pytest.raises(Exception, match="pickle"):
        registry.save(model, activate=True)
    assert registry.versions() == [] and registry.active_version() is None
    assert not [p for p in registry.root.iterdir() if p.name.startswith(".tmp")]


def test_a_broken_new_version_leaves_the_old_one_serving(
    tmp_path: Path, model: TrainedModel
) -> None:
    writer = ModelRegistry.for_workspace(tmp_path, "shop")
    writer.save(model, activate=True)
    reader = ModelRegistry.for_workspace(tmp_path, "shop")
    first = reader.active()
    writer.save(model, activate=True)
    (writer.root / "v0002" / "model.pkl").write_bytes(b"not a pickle")
    assert reader.active() is first
