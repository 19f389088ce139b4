"""Acknowledged means committed, and retries count once, even when the server dies.

A real server (uvicorn, the app ``launchpoint serve`` runs) takes a stream of events from a
client that resends every request until it is acknowledged, with the same message ids. The
test kills the server with SIGKILL at seeded moments while a request is in flight, and starts
it again on the same database. At the end every event sent is stored exactly once: none lost
(the client kept every event until acknowledged), none twice (a request that committed just
before the kill is answered as duplicates when resent). Runs on SQLite, and on PostgreSQL in
a workspace of its own when LAUNCHPOINT_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from launchpoint.engine import Launchpoint
from launchpoint.settings import Settings
from launchpoint.storage import Database
from tests.reliability._server import CrashingServer, ServerPool
from tests.reliability._storage import drop_workspace, stored_message_ids

SEED = 20240501
TOTAL_EVENTS = 100_000
BATCH = 2_000
BATCH_KILLS = 2
LOST_ANSWERS = 2  # batches sent twice, as if the first answer never came
SINGLE_EVENTS = 300
SINGLE_KILLS = 2
USERS = 1_000
BASE_TS = 1_714_550_400.0  # 2024-05-01
ACK_DEADLINE_S = 180.0  # per request: long enough for any restart, short enough to end
SEGMENTS = [
    # Thresholds near what a user reaches in the single-event stream, so memberships move.
    {"id": "clickers", "users": "count(event = 'click') >= 3", "min_users": 0, "min_items": 0},
    {
        "id": "savers",
        "users": "count(event = 'save') >= 2 or sum(event = 'purchase', value) >= 50",
        "min_users": 0,
        "min_items": 0,
    },
]


@dataclass
class Ack:
    """A request acknowledged: its answer, and how many times it was sent."""

    answer: dict[str, Any]
    attempts: int


@dataclass
class RetryingClient:
    """Sends each request until it is acknowledged; the same body every time."""

    server: CrashingServer
    workspace: str
    durations: list[float] = field(default_factory=list)
    reconnected: bool = False  # a request failed since the last call to ``took_reconnect``
    failed_attempts: int = 0
    # One client for the whole stream: it reconnects by itself after a connection broke.
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=60))

    def post(self, path: str, body: bytes, expect: int = 201) -> Ack:
        return self.send("POST", path, body, expect)

    def get(self, path: str) -> Any:
        return self.send("GET", path, None, 200).answer

    def send(self, method: str, path: str, body: bytes | None, expect: int) -> Ack:
        headers = {"content-type": "application/json", "x-workspace": self.workspace}
        deadline = time.monotonic() + ACK_DEADLINE_S
        attempts = 0
        while True:
            attempts += 1
            start = time.perf_counter()
            try:
                response = self.http.request(
                    method, self.server.url + path, content=body, headers=headers
                )
            except httpx.TransportError:
                response = None  # refused, reset or cut off: the server died; send it again
            if response is not None and response.status_code == expect:
                if method == "POST":
                    self.durations.append(time.perf_counter() - start)
                return Ack(response.json(), attempts)
            if response is not None and response.status_code < 500:
                raise AssertionError(f"{path} refused: {response.status_code} {response.text}")
            self.reconnected = True
            self.failed_attempts += 1
            if time.monotonic() > deadline:
                raise AssertionError(f"{path} not acknowledged in {ACK_DEADLINE_S:.0f} s")
            time.sleep(0.02)

    def took_reconnect(self) -> bool:
        seen, self.reconnected = self.reconnected, False
        return seen

    def kill_delay(self, rng: random.Random) -> float:
        """A moment inside the next request: a share of the quickest recent answer."""
        return rng.uniform(0.05, 0.95) * min(self.durations[-20:], default=0.002)


@pytest.fixture
def crashing_server(
    backend_url: str, tmp_path: Path, server_pool: ServerPool
) -> Iterator[CrashingServer]:
    workspace = f"kill{uuid.uuid4().hex[:12]}"
    # Migrate first, as ``launchpoint serve`` does before it starts serving.
    Launchpoint(Settings(database_url=backend_url, data_dir=tmp_path), migrate=True).close()
    env = {
        "LAUNCHPOINT_DATABASE_URL": backend_url,
        "LAUNCHPOINT_DATA_DIR": str(tmp_path),
        "LAUNCHPOINT_WORKSPACE": workspace,
    }
    server = CrashingServer(server_pool, env)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        db = Database(backend_url)
        try:
            drop_workspace(db, workspace)
        finally:
            db.dispose()


@pytest.fixture
def retrying_client(crashing_server: CrashingServer) -> Iterator[RetryingClient]:
    client = RetryingClient(crashing_server, crashing_server.env["LAUNCHPOINT_WORKSPACE"])
    yield client
    client.http.close()


def _event(n: int, rng: random.Random) -> dict[str, Any]:
    kind = rng.choice(("view", "view", "click", "save", "purchase"))
    return {
        "message_id": f"m{n}",
        "user_id": f"u{rng.randrange(USERS)}",
        "item_id": f"i{rng.randrange(200)}",
        "type": kind,
        "value": round(rng.uniform(5, 40), 2) if kind == "purchase" else None,
        "timestamp": BASE_TS + n,
    }


def _stored_once(server: CrashingServer, expected: set[str]) -> None:
    db = Database(server.env["LAUNCHPOINT_DATABASE_URL"])
    try:
        counts = stored_message_ids(db, server.env["LAUNCHPOINT_WORKSPACE"])
    finally:
        db.dispose()
    twice = sorted(m for m, n in counts.items() if n > 1)
    lost = sorted(expected - set(counts))
    extra = sorted(set(counts) - expected)
    assert not twice, f"{len(twice)} events stored more than once, e.g. {twice[:5]}"
    assert not lost, f"{len(lost)} events lost, e.g. {lost[:5]}"
    assert not extra, f"{len(extra)} events stored that were never sent, e.g. {extra[:5]}"
    assert counts == Counter(dict.fromkeys(expected, 1))


def test_batches_survive_sigkill(retrying_client: RetryingClient) -> None:
    client, server = retrying_client, retrying_client.server
    rng = random.Random(SEED)
    n_batches = TOTAL_EVENTS // BATCH
    picks = rng.sample(range(3, n_batches - 1), BATCH_KILLS + LOST_ANSWERS)
    kill_at, answer_lost_at = set(picks[:BATCH_KILLS]), set(picks[BATCH_KILLS:])
    events = [_event(n, rng) for n in range(TOTAL_EVENTS)]
    acks: list[Ack] = []
    crashes = []
    for index in range(n_batches):
        body = json.dumps({"events": events[index * BATCH : (index + 1) * BATCH]}).encode()
        if index in kill_at:
            crashes.append(server.kill_later(client.kill_delay(rng)))
        if index in answer_lost_at:
            # The other way an answer goes missing: committed, then the connection dropped.
            client.post("/v1/events/batch", body)
        acks.append(client.post("/v1/events/batch", body))
    for crash in crashes:
        crash.join()
    assert server.kills == BATCH_KILLS

    for index, ack in enumerate(acks):
        answer = ack.answer
        assert answer["received"] == BATCH and answer["suppressed"] == 0, (index, answer)
        # A batch is one transaction: resent after a crash, it was stored whole or not at all.
        assert (answer["stored"], answer["duplicates"]) in {(BATCH, 0), (0, BATCH)}, (index, ack)
        if index in answer_lost_at:
            assert answer["duplicates"] == BATCH, (index, ack)
        elif ack.attempts == 1:
            assert answer["stored"] == BATCH, (index, ack)
    assert client.failed_attempts, "no request was cut off by the kills"
    _stored_once(server, {e["message_id"] for e in events})


def test_single_events_survive_sigkill_and_state_agrees(retrying_client: RetryingClient) -> None:
    """One event per request, each taken into the serving state before it is acknowledged;
    after the kills, the live server's view of every user equals a rebuild from storage."""
    client, server = retrying_client, retrying_client.server
    workspace = client.workspace
    rng = random.Random(SEED + 1)
    users = [f"s{n}" for n in range(20)]
    items = [{"id": f"i{n}", "categories": [f"c{n % 4}"]} for n in range(10)]
    client.post("/v1/items/batch", json.dumps({"items": items}).encode())
    client.post("/v1/users/batch", json.dumps({"users": [{"id": u} for u in users]}).encode())
    client.post("/v1/apply", json.dumps({"segments": SEGMENTS}).encode(), expect=200)
    client.get(f"/v1/users/{users[0]}/ribbons")  # builds the state the events go into

    kill_at = set(rng.sample(range(20, SINGLE_EVENTS - 10), SINGLE_KILLS))
    sent = []
    crashes = []
    for n in range(SINGLE_EVENTS):
        event = {**_event(n, rng), "message_id": f"one{n}", "user_id": rng.choice(users)}
        event["item_id"] = rng.choice(items)["id"]
        sent.append(event["message_id"])
        if n in kill_at:
            crashes.append(server.kill_later(client.kill_delay(rng)))
        ack = client.post("/v1/events", json.dumps(event).encode())
        assert ack.answer["stored"] + ack.answer["duplicates"] == 1, (n, ack)
        if client.took_reconnect():
            client.get(f"/v1/users/{users[0]}/ribbons")  # a fresh process: build its state
    for crash in crashes:
        crash.join()
    assert server.kills == SINGLE_KILLS
    assert client.failed_attempts, "no request met a dead server"
    _stored_once(server, set(sent))

    rebuilt = Launchpoint(
        Settings(database_url=server.env["LAUNCHPOINT_DATABASE_URL"], workspace=workspace),
        migrate=False,
    )
    try:
        fresh = rebuilt.workspace()
        for user in users:
            live = client.get(f"/v1/users/{user}/segments")["segments"]
            # Qualification sums over users and waits for the next rebuild; membership and
            # the counts it read are the user's own, kept up to date event by event.
            seen = [(s["segment_id"], s["member"], s["why"]) for s in live]
            expected = [
                (m.segment_id, m.member, json.loads(json.dumps(asdict(m.why))))
                for m in fresh.user_segments(user)
            ]
            assert seen == expected, user
    finally:
        rebuilt.close()
