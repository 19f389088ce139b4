"""Idempotency and suppression as a state machine over the engine.

Hypothesis sends events (new, retried, single, in batches that repeat themselves), creates and
deletes users and builds the serving state, in any order, against a model of what the store
must hold: one row per message id that was sent for a user who is not deleted. After every
step the database is read directly and compared with the model; every ingest answer must say
exactly what the model expects and add up (received = stored + duplicates + suppressed)."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from launchpoint.domain.records import EventIn, UserIn
from launchpoint.domain.segments import SegmentSpec
from launchpoint.engine import IngestResult, Launchpoint, WorkspaceEngine
from launchpoint.errors import NotFound
from launchpoint.segments.compiler import compile_rule
from launchpoint.settings import Settings
from tests.reliability._storage import drop_workspace, rows_of_users, stored_message_ids

USERS = ("ann", "bob", "cy", "dee")
KINDS = ("view", "click")
BASE_TS = 1_700_000_000.0
# A segment over every user's counts per event type, so the real-time path has work to do and
# a retried event counted twice in memory would show in the counts and the membership.
ACTIVE = SegmentSpec(
    id="active",
    users="count(event = 'click') >= 2 or count(event = 'view') >= 3",
    min_users=0,
    min_items=0,
)
COUNTS = {
    kind: compile_rule(f"count(event = '{kind}') >= 0", "users").aggregates[0].key for kind in KINDS
}


@dataclass(frozen=True)
class Sent:
    """One event as the client knows it; a retry sends exactly this again."""

    message_id: str
    user_id: str
    kind: str

    def record(self) -> EventIn:
        serial = int(self.message_id.rsplit("-", 1)[1])
        return EventIn(
            message_id=self.message_id,
            user_id=self.user_id,
            type=self.kind,
            timestamp=BASE_TS + serial,
        )


@dataclass
class StoreModel:
    """What the store must hold."""

    stored: dict[str, Sent] = field(default_factory=dict)
    users: set[str] = field(default_factory=set)
    suppressed: set[str] = field(default_factory=set)

    def ingest(self, batch: list[Sent]) -> IngestResult:
        """Apply a batch the way the store promises to; the answer it must give. The first
        of a message id's copies in a batch is the one considered, as in the store."""
        unique = list({s.message_id: s for s in reversed(batch)}.values())
        stored = suppressed = 0
        for sent in unique:
            if sent.user_id in self.suppressed:
                suppressed += 1
            elif sent.message_id not in self.stored:
                self.stored[sent.message_id] = sent
                stored += 1
        # An event creates its (bare) user, duplicates included; a deleted one never.
        self.users.update(s.user_id for s in unique if s.user_id not in self.suppressed)
        return IngestResult(len(batch), stored, len(batch) - stored - suppressed, suppressed)

    def delete(self, user_id: str) -> None:
        self.stored = {m: s for m, s in self.stored.items() if s.user_id != user_id}
        self.users.discard(user_id)
        self.suppressed.add(user_id)

    def count(self, user_id: str, kind: str) -> int:
        return sum(s.user_id == user_id and s.kind == kind for s in self.stored.values())


class IngestMachine(RuleBasedStateMachine):
    launchpoint: ClassVar[Launchpoint]

    def __init__(self) -> None:
        super().__init__()
        self.workspace = f"sm{uuid.uuid4().hex[:12]}"
        self.ws: WorkspaceEngine = self.launchpoint.workspace(self.workspace)
        self.ws.put_segment(ACTIVE)
        self.model = StoreModel()
        self.serial = 0
        self.sent: list[Sent] = []  # every event sent so far, in order, for retries

    def teardown(self) -> None:
        self.ws.exposures.close()
        drop_workspace(self.launchpoint.db, self.workspace)

    def _new(self, user_id: str, kind: str) -> Sent:
        self.serial += 1
        sent = Sent(f"{self.workspace}-{self.serial}", user_id, kind)
        self.sent.append(sent)
        return sent

    def _send(self, batch: list[Sent]) -> None:
        expected = self.model.ingest(batch)
        answer = self.ws.add_events([s.record() for s in batch])
        assert answer == expected
        assert answer.received == answer.stored + answer.duplicates + answer.suppressed

    @rule(user=st.sampled_from(USERS), kind=st.sampled_from(KINDS))
    def send_new(self, user: str, kind: str) -> None:
        self._send([self._new(user, kind)])

    @rule(data=st.data())
    def retry(self, data: st.DataObject) -> None:
        if self.sent:
            self._send([data.draw(st.sampled_from(self.sent), label="retried")])

    @rule(
        data=st.data(),
        fresh=st.lists(st.tuples(st.sampled_from(USERS), st.sampled_from(KINDS)), max_size=6),
        retried=st.integers(0, 4),
        echoed=st.lists(st.integers(0, 100), max_size=3),
    )
    def send_batch(
        self,
        data: st.DataObject,
        fresh: list[tuple[str, str]],
        retried: int,
        echoed: list[int],
    ) -> None:
        batch = [self._new(user, kind) for user, kind in fresh]
        if self.sent:
            batch += data.draw(
                st.lists(st.sampled_from(self.sent), max_size=retried), label="retried"
            )
        if batch:
            batch += [batch[n % len(batch)] for n in echoed]  # the same event twice in one batch
            order = data.draw(st.permutations(range(len(batch))), label="order")
            self._send([batch[n] for n in order])

    @rule(user=st.sampled_from(USERS))
    def create_user(self, user: str) -> None:
        answer = self.ws.add_users([UserIn(id=user)])
        if user in self.model.suppressed:
            assert (answer.stored, answer.suppressed) == (0, 1)
        else:
            assert (answer.stored, answer.suppressed) == (1, 0)
            self.model.users.add(user)

    @rule(user=st.sampled_from(USERS))
    def delete_user(self, user: str) -> None:
        if user not in self.model.users:
            with pytest.raises(NotFound):
                self.ws.control.delete(user)
            return
        self.ws.control.delete(user)
        self.model.delete(user)

    @rule()
    def build_state(self) -> None:
        """Serve: the state, rebuilt or kept up to date in real time, must count each stored
        event once."""
        state = self.ws.state()
        assert set(state.user_index) == self.model.users
        (active,) = state.segments
        for user, index in state.user_index.items():
            row = state.rule_row(index)
            counts = {kind: int(row[COUNTS[kind]] or 0) for kind in KINDS}
            assert counts == {kind: self.model.count(user, kind) for kind in KINDS}, user
            member = counts["click"] >= 2 or counts["view"] >= 3
            assert bool(active.members[index]) == member, user

    @invariant()
    def store_matches_model(self) -> None:
        counts = stored_message_ids(self.launchpoint.db, self.workspace)
        assert counts == Counter(dict.fromkeys(self.model.stored, 1))

    @invariant()
    def suppressed_users_leave_no_rows(self) -> None:
        rows = rows_of_users(self.launchpoint.db, self.workspace, self.model.suppressed)
        assert rows == {"events": 0, "users": 0}


def test_retries_count_once_and_deleted_users_stay_deleted(
    backend_url: str, tmp_path: Path
) -> None:
    lp = Launchpoint(Settings(database_url=backend_url, data_dir=tmp_path))
    machine = type("BoundIngestMachine", (IngestMachine,), {"launchpoint": lp})
    try:
        run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=30,
                stateful_step_count=25,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    finally:
        lp.close()
