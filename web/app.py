"""``create_app(settings)``: the whole ASGI application, built from plain lists; nothing happens at import."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware

from instance.db import check_migrations
from instance.runtime import Instance
from instance.settings import Settings
from instance.worker import Worker
from web.errors import HANDLERS
from web.middleware import RequestContextMiddleware, SecurityHeadersMiddleware
from web.routes import routes
from web.templating import create_environment

SESSION_COOKIE = "benevalibre_session"


def create_app(settings: Settings, *, run_worker: bool = False, check_database: bool = True) -> Starlette:
    """Build the application for ``settings``; ``run_worker`` runs the background worker in this process."""
    instance = Instance.create(settings)
    settings = instance.settings

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if check_database:
            try:
                await check_migrations(instance.engine)
            except Exception:
                await instance.close()
                raise
        worker_task = None
        if run_worker:
            worker = Worker(instance.tasks, settings.worker_poll_interval)
            app.state.worker = worker
            worker_task = asyncio.create_task(worker.run_forever())
        try:
            yield
        finally:
            if worker_task is not None:
                app.state.worker.stop()
                await worker_task
            await instance.close()

    middleware = [
        Middleware(SecurityHeadersMiddleware),
        Middleware(
            SessionMiddleware,
            secret_key=settings.secret_key,
            session_cookie=SESSION_COOKIE,
            max_age=settings.session_max_age,
            same_site="lax",
            https_only=settings.secure_cookies,
        ),
        Middleware(RequestContextMiddleware, instance=instance),
    ]
    app = Starlette(
        routes=routes(),
        middleware=middleware,
        exception_handlers=HANDLERS,
        lifespan=lifespan,
    )
    app.state.instance = instance
    app.state.templates = create_environment()
    return app
