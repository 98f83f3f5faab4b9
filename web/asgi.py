"""Entry point for ASGI servers: ``uvicorn --factory web.asgi:app`` reads the settings from the environment."""

from __future__ import annotations

from starlette.applications import Starlette

from instance.logs import configure_logging
from instance.runtime import freeze_startup_heap
from instance.settings import Settings
from web.app import create_app


def app() -> Starlette:
    """The application for the settings of the environment, without the in-process worker (see Procfile)."""
    settings = Settings.load()
    configure_logging(settings)
    application = create_app(settings)
    freeze_startup_heap()
    return application
