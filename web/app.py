"""``create_app(settings)``: the whole ASGI application, built from plain lists; nothing happens at import."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware

from federation.runtime import Federation
from instance.db import check_migrations
from instance.runtime import Instance
from instance.services.health import heartbeat_writer
from instance.settings import Settings
from instance.worker import Worker
from web.errors import HANDLERS
from web.middleware import DatabaseUnavailableMiddleware, RequestContextMiddleware, SecurityHeadersMiddleware
from web.ops_middleware import AnnouncementsMiddleware, RequestIdMiddleware
from web.routes import routes
from web.templating import create_environment

SESSION_COOKIE = "benevalibre_session"


def create_app(
    settings: Settings,
    *,
    run_worker: bool = False,
    check_database: bool = True,
    http_transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    """Build the application for ``settings``; ``run_worker`` runs the background worker in this process.

    ``http_transport`` carries the federation's outbound HTTP (tests route it to other in-process apps).
    """
    instance = Instance.create(settings)
    settings = instance.settings
    federation = Federation(instance, http_transport)
    instance.tasks.extend(federation.tasks())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if check_database:
            try:
                await check_migrations(instance.engine)
            except Exception:
                await federation.aclose()
                await instance.close()
                raise
        worker_task = None
        if run_worker:
            worker = Worker(
                instance.tasks, settings.worker_poll_interval, heartbeat=heartbeat_writer(instance.sessions)
            )
            app.state.worker = worker
            worker_task = asyncio.create_task(worker.run_forever())
        try:
            yield
        finally:
            if worker_task is not None:
                app.state.worker.stop()
                await worker_task
            await federation.aclose()
            await instance.close()

    middleware = [
        Middleware(RequestIdMiddleware),
        Middleware(SecurityHeadersMiddleware),
        Middleware(DatabaseUnavailableMiddleware, instance=instance),
        Middleware(
            SessionMiddleware,
            secret_key=settings.secret_key,
            session_cookie=SESSION_COOKIE,
            max_age=settings.session_max_age,
            same_site="lax",
            https_only=settings.secure_cookies,
        ),
        Middleware(RequestContextMiddleware, instance=instance),
        Middleware(AnnouncementsMiddleware, instance=instance),
    ]
    app = Starlette(
        routes=routes(),
        middleware=middleware,
        exception_handlers=HANDLERS,
        lifespan=lifespan,
    )
    app.state.instance = instance
    app.state.federation = federation
    app.state.templates = create_environment()
    return app
