"""What every guardrail shares: the candidates it is given, the user and page it works for,
the notes it leaves, the cards it returns, and the protocol it implements."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar, cast

import numpy as np
import numpy.typing as npt

from launchpoint.errors import ErrorDetail, InvalidInput
from launchpoint.ranking.trace import RibbonTrace

if TYPE_CHECKING:
    from launchpoint.ranking.guardrails.draft import RibbonDraft

IntArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_EMPTY = np.zeros(0, dtype=np.intp)
T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class CandidateList:
    """One ribbon's candidates: distinct catalogue item indices and their scores (finite,
    higher is better). Equal scores keep the list's order, so the order is the tie-break."""

    items: IntArray
    scores: FloatArray

    def __len__(self) -> int:
        return len(self.items)

    def validated(self, catalogue_size: int) -> CandidateList:
        """The same list, checked (for edges and tests; the serving path trusts its input)."""
        items = np.asarray(self.items)
        scores = np.asarray(self.scores, dtype=np.float64)
        problems = []
        if items.ndim != 1 or scores.shape != items.shape:
            problems.append(ErrorDetail("scores", "one score per item is needed"))
        elif not np.issubdtype(items.dtype, np.integer):
            problems.append(ErrorDetail("items", "item indices must be integers"))
        else:
            if len(items) and (items.min() < 0 or items.max() >= catalogue_size):
                problems.append(ErrorDetail("items", f"indices must be in 0..{catalogue_size}"))
            if len(np.unique(items)) != len(items):
                problems.append(ErrorDetail("items", "an item appears twice"))
            if not np.isfinite(scores).all():
                problems.append(ErrorDetail("scores", "scores must be finite"))
        if problems:
            raise InvalidInput("the candidate list is not valid", problems)
        return CandidateList(items.astype(np.intp), scores)


@dataclass(frozen=True, eq=False)
class UserContext:
    """What the guardrails know about the user asking."""

    user_id: str
    now: float
    consents: frozenset[str] = frozenset()  # sensitive topics the user consented to
    category_affinity: FloatArray | None = None  # per catalogue category; strongest is 1
    ignored_items: IntArray = field(default_factory=lambda: _EMPTY)  # shown, never clicked
    ignored_counts: IntArray = field(default_factory=lambda: _EMPTY)  # times, in the window
    seed: int = 0  # varies the exploration draw, e.g. with the day number


class PageState:
    """The page being assembled: the items already placed on it, ribbon by ribbon, and what
    guardrails work out once per page for its user (per-item masks over the catalogue)."""

    def __init__(self, catalogue_size: int, user: UserContext) -> None:
        self.size = catalogue_size
        self.user = user
        self.on_page = np.zeros(catalogue_size, dtype=bool)  # items earlier ribbons show
        self._cache: dict[str, object] = {}

    def cached(self, key: str, build: Callable[[], T]) -> T:
        """``build()``, once per page."""
        if key not in self._cache:
            self._cache[key] = build()
        return cast(T, self._cache[key])


@dataclass(frozen=True)
class GuardrailNote:
    """A constraint a guardrail could not meet for one ribbon, and why."""

    guardrail: str
    ribbon: str
    constraint: str
    wanted: int
    got: int
    reason: str

    @property
    def message(self) -> str:
        return f"{self.guardrail}: {self.constraint}: wanted {self.wanted}, got {self.got}; " + (
            self.reason
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "guardrail": self.guardrail,
            "ribbon": self.ribbon,
            "constraint": self.constraint,
            "wanted": self.wanted,
            "got": self.got,
            "reason": self.reason,
            "message": self.message,
        }


class GuardedCard(NamedTuple):
    """One card of a finished ribbon. ``source`` is what placed it (model, pinned, curated,
    diversity, exploration, recency); ``label`` the text a guardrail gives it, if any."""

    item: int
    candidate: int
    position: int
    score: float
    source: str
    label: str | None


@dataclass(frozen=True)
class GuardedRibbon:
    key: str
    cards: list[GuardedCard]
    notes: list[GuardrailNote]
    trace: RibbonTrace | None = None

    @property
    def items(self) -> list[int]:
        return [card.item for card in self.cards]


class Guardrail(Protocol):
    """One step of the chain. It reads and changes the draft of one ribbon."""

    name: str

    def apply(self, draft: RibbonDraft) -> None: ...


def share_count(share: float, cards: int) -> int:
    """Cards a share asks for: share x cards, rounded to the nearest card, halves up (20% of
    10 is 2, 25% of 10 is 3, 20% of 2 is 0)."""
    return min(cards, math.floor(share * cards + 0.5 + 1e-9))


_MASK64 = (1 << 64) - 1


def user_seed(seed: int, user_id: str, ribbon: str, extra: int = 0) -> int:
    """A 64-bit seed for one user and ribbon, the same on every process and run."""
    text = f"{seed}\x1f{extra}\x1f{user_id}\x1f{ribbon}".encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def item_keys(seed: int, items: IntArray) -> npt.NDArray[np.uint64]:
    """A pseudo-random 64-bit key per item (splitmix64 of seed and item): sorting by it
    draws items in a per-seed order that does not depend on which other items are present."""
    x = np.asarray(items, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    x ^= np.uint64(seed & _MASK64)
    x += np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return np.asarray(x ^ (x >> np.uint64(31)))
