"""``create_app`` wires settings, the engine and the routes; it collects no features."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import CapacityLimiter, to_thread
from fastapi import Depends, FastAPI
from starlette.concurrency import run_in_threadpool
from threadpoolctl import threadpool_limits

from launchpoint import __version__
from launchpoint.api.auth import authorize_route, install_auth
from launchpoint.api.errors import install_error_handlers
from launchpoint.api.fast_path import ServingFastPath
from launchpoint.api.limits import BodySizeLimit
from launchpoint.api.pacing import CountRequests, lend_threads
from launchpoint.api.routes import ROUTERS
from launchpoint.engine import Launchpoint
from launchpoint.heap import settle_heap
from launchpoint.settings import Settings

log = logging.getLogger("launchpoint.api")


def create_app(
    settings: Settings | None = None,
    launchpoint: Launchpoint | None = None,
    *,
    settle: bool | None = None,
) -> FastAPI:
    """``settle``: set each serving state aside from garbage collection (``launchpoint.heap``:
    the warm one after a collection, later ones as they take over).
    By default an app that makes its own Launchpoint does, as a server owns its process; one
    given a Launchpoint (an application embedding Launchpoint, tests) leaves the heap to its
    owner, unless told otherwise (``launchpoint serve`` and ``demo`` are servers)."""
    lp = launchpoint or Launchpoint(settings or Settings())
    owns_heap = launchpoint is None if settle is None else settle

    async def refresh_on_schedule() -> None:
        # A thread of its own, not one of the requests': with one request thread (the
        # default), a refresh run there answered nothing while the state was rebuilt (0.8 s
        # on ml-latest-small, 100 s at 1M users); requests now go on with the state serving.
        limiter = CapacityLimiter(1)
        while True:
            await asyncio.sleep(lp.settings.refresh_seconds)
            try:
                await to_thread.run_sync(lp.refresh, limiter=limiter)
            except Exception:  # a failed refresh must not end the schedule
                log.exception("scheduled refresh failed")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # A server answers many requests at once, each with small products (a model's scores
        # over a catalogue): BLAS threads of its own per product only fight the requests'
        # threads for the cores. At 100k items and 1M users with ALS, a server with the
        # default BLAS threads spent 116 ms of CPU a request at 200 req/s.
        blas = threadpool_limits(limits=1, user_api="blas")
        # Requests run in a thread pool, the rest wait their turn in the event loop. Python
        # runs one thread at a time, so a second request at once only adds switching: on
        # ml-latest-small with the hybrid, 2 threads cost 7.7 ms of CPU a request, 1 thread
        # 5.1 ms. More cores are for more processes (serve --workers N).
        threads = lp.settings.request_threads or os.cpu_count() or 1
        limiter = to_thread.current_default_thread_limiter()
        limiter.total_tokens = threads
        # A write's request waiting for the state it called for lends its thread meanwhile.
        lp.pace.lend = lend_threads(limiter)
        if lp.settings.warm_start:
            # Before the first request is taken: each of `serve --workers N` accepts
            # connections only once its own state is built.
            started = time.perf_counter()
            try:
                await run_in_threadpool(lp.warm)
                log.info("serving state ready in %.1f s", time.perf_counter() - started)
                if owns_heap:
                    await run_in_threadpool(settle_heap)
            except Exception:  # serving builds it on the first request instead
                log.exception("warm start failed; the first request builds the serving state")
        task = asyncio.create_task(refresh_on_schedule())
        lp.schedule(True, owns_heap=owns_heap)  # later states are set aside as they serve
        yield
        lp.schedule(False)
        lp.pace.lend = None
        task.cancel()
        blas.restore_original_limits()
        if launchpoint is None:
            lp.close()

    app = FastAPI(
        title="Launchpoint",
        version=__version__,
        description="Segments, ribbons and cards for every surface of a product, with reasons.",
        lifespan=lifespan,
        dependencies=[Depends(authorize_route)],
    )
    app.state.launchpoint = lp
    install_error_handlers(app)
    app.add_middleware(ServingFastPath, launchpoint=lp, state=app.state)
    app.add_middleware(BodySizeLimit, max_bytes=lp.settings.max_body_bytes)
    install_auth(app, lp)
    app.add_middleware(CountRequests, pace=lp.pace)  # outermost: from arrival to answer
    for router in ROUTERS:
        app.include_router(router)

    @app.get("/healthz", tags=["workspace"], summary="Liveness and schema revision")
    def healthz() -> dict[str, str | None]:
        return {"status": "ok", "schema": lp.db.schema_revision()}

    return app


def app_from_environment() -> FastAPI:
    """The app built from LAUNCHPOINT_* variables: what each `serve --workers N` process runs."""
    return create_app(Settings())
