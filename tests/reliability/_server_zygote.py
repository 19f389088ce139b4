"""Forks server processes on demand, so that each one starts with the server already imported.

Importing the server (numpy, scipy and the rest) takes seconds of CPU; a test that kills the
server several times would spend most of its time there. This process imports it once, then
reads orders on standard input, one JSON line each (the port and the LAUNCHPOINT_* variables),
forks, and the child serves the app built from those variables, exactly as each worker of
``launchpoint serve --workers N`` does (``app_from_environment``). It answers each order with
the child's pid. The child is a process of its own: SIGKILL ends it at once, mid-request."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import sys

import uvicorn

import launchpoint.api.app  # noqa: F401  (imported once, before any fork)

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Linux: be killed when the parent goes, so that a test run cut short (a timeout, a
    Ctrl-C) leaves no server behind; elsewhere the test's own cleanup has to do."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def serve(port: int, env: dict[str, str]) -> None:
    die_with_parent()
    os.dup2(2, 1)  # standard output is the order channel; the server's output goes to the log
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.environ.update(env)
    uvicorn.run(
        "launchpoint.api.app:app_from_environment",
        factory=True,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
    )


def main() -> None:
    # Servers are children of this process; with SIGCHLD ignored the kernel reaps them when
    # they die, so a killed server's pid is gone at once, with no zombie left behind.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    die_with_parent()
    for line in sys.stdin:
        order = json.loads(line)
        pid = os.fork()
        if pid == 0:
            try:
                serve(int(order["port"]), order["env"])
            finally:
                os._exit(0)
        print(pid, flush=True)


if __name__ == "__main__":
    main()
