"""Real server processes for the crash tests: started on a free loopback port, killed with
SIGKILL at a chosen moment, and started again on the same port and database."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ZYGOTE = Path(__file__).with_name("_server_zygote.py")
START_TIMEOUT_S = 120.0  # the first start imports the server, on a machine that may be busy
STOP_TIMEOUT_S = 15.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_gone(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


class ServerPool:
    """Starts server processes, each forked from one process that imported the server once
    (see ``_server_zygote.py``)."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("ab")
        self._lock = threading.Lock()
        self._zygote = subprocess.Popen(
            [sys.executable, str(ZYGOTE)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            # Only what each order says: no setting leaks in from the test's environment.
            env={k: v for k, v in os.environ.items() if not k.startswith("LAUNCHPOINT_")},
        )

    def start(self, port: int, env: dict[str, str]) -> int:
        """Start a server on ``port``; its pid, once it answers /healthz."""
        with self._lock:
            stdin, stdout = self._zygote.stdin, self._zygote.stdout
            assert stdin is not None and stdout is not None
            stdin.write(json.dumps({"port": port, "env": env}).encode() + b"\n")
            stdin.flush()
            answer = stdout.readline()
        if not answer:
            raise RuntimeError(f"the server zygote died:\n{self.log_tail()}")
        pid = int(answer)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if not alive(pid):
                raise RuntimeError(f"server {pid} exited on start:\n{self.log_tail()}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    return pid
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                raise RuntimeError(f"server did not answer in {START_TIMEOUT_S:.0f} s")
            time.sleep(0.02)

    def log_tail(self, chars: int = 4000) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def close(self) -> None:
        assert self._zygote.stdin is not None
        self._zygote.stdin.close()  # end of orders: the zygote returns
        try:
            self._zygote.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._zygote.kill()
            self._zygote.wait()
        self._log.close()


@dataclass
class CrashingServer:
    """One server that the test kills (SIGKILL: no shutdown, no flush, no goodbye) and
    starts again, on the same port and database."""

    pool: ServerPool
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    kills: int = 0
    pid: int | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.pid = self.pool.start(self.port, self.env)

    def kill_and_restart(self) -> None:
        with self._lock:
            assert self.pid is not None
            os.kill(self.pid, signal.SIGKILL)
            if not wait_gone(self.pid, STOP_TIMEOUT_S):
                raise RuntimeError(f"server {self.pid} outlived SIGKILL")
            self.kills += 1
            self.start()

    def kill_later(self, delay_s: float) -> threading.Thread:
        """Kill (and restart) the server ``delay_s`` from now, from another thread, so that
        it dies while the client waits for an answer."""

        def crash() -> None:
            time.sleep(delay_s)
            self.kill_and_restart()

        thread = threading.Thread(target=crash, daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        with self._lock:
            if self.pid is None or not alive(self.pid):
                return
            os.kill(self.pid, signal.SIGTERM)
            if not wait_gone(self.pid, STOP_TIMEOUT_S):
                os.kill(self.pid, signal.SIGKILL)
                wait_gone(self.pid, STOP_TIMEOUT_S)
