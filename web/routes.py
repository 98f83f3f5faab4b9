"""Every route of the application, gathered from the view modules."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from web.views import (
    accounts,
    activitypub,
    admin,
    anonymous,
    associations,
    catalog,
    entries,
    home,
    membership,
    notifications,
    reports,
    wellknown,
)

STATIC_DIR = Path(__file__).parent / "static"


def routes() -> list[BaseRoute]:
    return [
        *wellknown.routes,
        *activitypub.routes,  # before the HTML pages of the same URLs: it hands browsers over to them
        *home.routes,
        *accounts.routes,
        *associations.routes,
        *membership.routes,
        *catalog.routes,
        *entries.routes,
        *anonymous.routes,
        *reports.routes,
        *notifications.routes,
        *admin.routes,
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
