"""The web application factory (`uvicorn app.main:create_app --factory`).

The lifespan builds the runtime (database, senders, background workers) from Settings; in
development it also upgrades the SQLite schema so `qunyun serve` works on a fresh checkout.
It then moves everything built at startup out of the garbage collector's sight (see
`app.runtime.quiet_gc`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse

from app.adapters.errors import CallbackRejected
from app.api import bridge, health, payment_callback, wecom
from app.api import v1 as admin_api
from app.clock import Clock
from app.devsecrets import with_dev_secrets
from app.runtime import Runtime, build_runtime, quiet_gc
from app.settings import Settings, get_settings

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    clock: Clock | None = None,
    start_workers: bool = True,
) -> FastAPI:
    """Build the app. Tests pass their own runtime and keep the workers stopped."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = runtime is None
        rt = runtime or build_runtime(with_dev_secrets(settings or get_settings()), clock=clock)
        app.state.runtime = rt
        if start_workers and not rt.started:
            # Again once the FAQ index is built: jieba's dictionary and the index are most of
            # the long-lived objects (measured: a full collection walking them took 110–140 ms
            # in the inbox worker; frozen, 3 ms).
            rt.start(when_warm=quiet_gc if own else None)
        if own:
            quiet_gc()
        try:
            yield
        finally:
            if own:
                rt.stop()

    app = FastAPI(title="Qunyun 群运", version="0.1.0", lifespan=lifespan)
    if runtime is not None:
        app.state.runtime = runtime
    app.include_router(health.router)
    app.include_router(bridge.router)
    app.include_router(wecom.router)
    app.include_router(payment_callback.router)
    app.include_router(admin_api.router)

    @app.exception_handler(CallbackRejected)
    async def _rejected(_request: Request, error: CallbackRejected) -> PlainTextResponse:
        return PlainTextResponse(error.reason, status_code=error.status)

    return app
