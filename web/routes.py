"""Every route of the application, gathered from the view modules."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from web.views import accounts, associations, home

STATIC_DIR = Path(__file__).parent / "static"


def routes() -> list[BaseRoute]:
    return [
        *home.routes,
        *accounts.routes,
        *associations.routes,
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
