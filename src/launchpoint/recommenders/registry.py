"""Trained models kept as versioned artefacts, one folder per version, and the active one.

Layout under ``<data_dir>/models/<workspace>/``::

    v0001/model.pkl        the fitted scorer and the ids it was trained on (pickle)
    v0001/manifest.json    family, parameters, data window, training seconds, metrics
    ACTIVE                 the active version's name
    activations.json       the stack of activations that ``rollback`` pops

Every write is atomic: a version is written into a temporary folder and renamed into place;
``ACTIVE`` and ``activations.json`` are replaced with ``os.replace``. So a serving process
never reads half a model, and ``ModelRegistry.active()`` (one ``stat`` per call) picks up a
new version without a restart, while requests in flight finish on the model they started
with. Models are pickles: load them only from a registry folder this installation wrote.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from launchpoint.errors import Conflict, NotFound
from launchpoint.recommenders.model import TrainedModel

MODEL_FILE = "model.pkl"
MANIFEST_FILE = "manifest.json"
ACTIVE_FILE = "ACTIVE"
STACK_FILE = "activations.json"
_VERSION = re.compile(r"^v(\d{4,})$")
log = logging.getLogger(__name__)


class ModelManifest(BaseModel):
    """What a version is: written once, next to the model, and never changed."""

    model_config = ConfigDict(frozen=True, extra="allow")

    version: str
    workspace: str
    family: str
    params: dict[str, Any]
    created_at: float
    training_seconds: float
    data: dict[str, Any]  # window, users, items, interactions, signal settings
    metrics: dict[str, Any]


@dataclass
class _Loaded:
    stamp: tuple[int, int, int]
    version: str
    model: TrainedModel


@dataclass
class ModelRegistry:
    """The versions of one workspace's models, in ``root``. ``check_interval``: the least
    seconds between two looks at the ACTIVE pointer from ``active()`` (0: every call)."""

    root: Path
    workspace: str = "default"
    check_interval: float = 0.0
    _loaded: _Loaded | None = field(default=None, init=False, repr=False)
    _checked_at: float = field(default=0.0, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @classmethod
    def for_workspace(
        cls, data_dir: Path, workspace: str, check_interval: float = 0.0
    ) -> ModelRegistry:
        return cls(Path(data_dir) / "models" / workspace, workspace, check_interval)

    # -- writing -------------------------------------------------------------------------
    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One writer at a time across processes (another trainer, an operator)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+") as handle:
            try:
                import fcntl

                fcntl.flock(handle, fcntl.LOCK_EX)
            except ImportError:  # not POSIX: renames stay atomic, writers are not serialised
                pass
            yield

    def save(self, model: TrainedModel, *, activate: bool = False) -> ModelManifest:
        """Write ``model`` as the next version (and make it active if ``activate``)."""
        with self._exclusive():
            staging = self.root / f".tmp-{uuid.uuid4().hex}"
            staging.mkdir()
            try:
                version = self._next_version()
                manifest = ModelManifest(
                    version=version, workspace=self.workspace, **model.info_for_manifest()
                )
                with open(staging / MODEL_FILE, "wb") as handle:
                    pickle.dump(model, handle, protocol=pickle.HIGHEST_PROTOCOL)
                    _sync(handle)
                _write_json(staging / MANIFEST_FILE, manifest.model_dump(mode="json"))
                os.rename(staging, self.root / version)  # atomic; the name is new
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            if activate:
                self._push(version)
        return manifest

    def _next_version(self) -> str:
        numbers = [int(m.group(1)) for p in self.root.iterdir() if (m := _VERSION.match(p.name))]
        return f"v{max(numbers, default=0) + 1:04d}"

    def activate(self, version: str) -> None:
        """Serve ``version`` from now on; ``rollback`` returns to the one active before."""
        with self._exclusive():
            self.manifest(version)  # NotFound for an unknown version
            self._push(version)

    def _push(self, version: str) -> None:
        stack = self._stack()
        if not stack or stack[-1]["version"] != version:
            stack.append({"version": version, "at": time.time()})
        _write_json(self.root / STACK_FILE, stack)
        _write_text(self.root / ACTIVE_FILE, version)

    def rollback(self) -> str:
        """Go back to the version active before the current one; returns its name."""
        with self._exclusive():
            stack = self._stack()
            while len(stack) >= 2:
                stack.pop()
                previous = stack[-1]["version"]
                if (self.root / previous / MODEL_FILE).is_file():
                    _write_json(self.root / STACK_FILE, stack)
                    _write_text(self.root / ACTIVE_FILE, previous)
                    return str(previous)
            raise Conflict(
                f"no earlier version to roll back to in workspace {self.workspace!r}: "
                "activate one by name (launchpoint models activate VERSION)"
            )

    def _stack(self) -> list[dict[str, Any]]:
        try:
            data = json.loads((self.root / STACK_FILE).read_text())
        except FileNotFoundError:
            return []
        return list(data)

    # -- reading -------------------------------------------------------------------------
    def versions(self) -> list[ModelManifest]:
        """Every saved version, oldest first."""
        if not self.root.is_dir():
            return []
        names = sorted(
            (p.name for p in self.root.iterdir() if _VERSION.match(p.name)),
            key=lambda name: int(name[1:]),
        )
        return [self.manifest(name) for name in names]

    def manifest(self, version: str) -> ModelManifest:
        path = self.root / version / MANIFEST_FILE
        if not _VERSION.match(version) or not path.is_file():
            known = (
                ", ".join(m.version for m in self.versions()) if path.parent.parent.is_dir() else ""
            )
            raise NotFound(
                f"model version {version!r} does not exist in workspace {self.workspace!r}"
                + (f"; known versions: {known}" if known else "; train one with launchpoint train")
            )
        return ModelManifest.model_validate_json(path.read_text())

    def load(self, version: str) -> TrainedModel:
        self.manifest(version)
        with open(self.root / version / MODEL_FILE, "rb") as handle:
            model = pickle.load(handle)
        if not isinstance(model, TrainedModel):
            raise NotFound(f"{self.root / version / MODEL_FILE} does not hold a Launchpoint model")
        model.version = version
        return model

    def active_version(self) -> str | None:
        try:
            return (self.root / ACTIVE_FILE).read_text().strip() or None
        except FileNotFoundError:
            return None

    def active(self) -> TrainedModel | None:
        """The active model, loaded once and reloaded when the ACTIVE pointer changes; cheap
        enough to call for every request. A version that fails to load leaves the previous
        one serving (and is logged)."""
        loaded = self._loaded
        now = time.monotonic()
        if loaded is not None and now - self._checked_at < self.check_interval:
            return loaded.model
        try:
            st = os.stat(self.root / ACTIVE_FILE)
        except FileNotFoundError:
            return loaded.model if loaded is not None else None
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        self._checked_at = now
        if loaded is not None and loaded.stamp == stamp:
            return loaded.model
        with self._lock:
            loaded = self._loaded
            version = self.active_version()
            if version is None:
                return loaded.model if loaded is not None else None
            if loaded is not None and loaded.version == version:
                self._loaded = _Loaded(stamp, version, loaded.model)
                return loaded.model
            try:
                model = self.load(version)
            except Exception:
                if loaded is None:
                    raise
                log.exception(
                    "model %s could not be loaded; still serving %s", version, loaded.version
                )
                return loaded.model
            self._loaded = _Loaded(stamp, version, model)
            return model


def _sync(handle: Any) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _write_text(path: Path, text: str) -> None:
    """Replace ``path`` atomically: readers see the old content or the new, never a part."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
        _sync(handle)
    os.replace(temporary, path)


def _write_json(path: Path, data: Any) -> None:
    _write_text(path, json.dumps(data, indent=2, sort_keys=True))
