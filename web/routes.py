"""Every route of the application, gathered from the view modules."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from web import api
from web.views import (
    accounts,
    activitypub,
    admin,
    admin_federation,
    anonymous,
    associations,
    catalog,
    entries,
    entry_objects,
    follows,
    home,
    inbox,
    membership,
    moves,
    my_data,
    news,
    notifications,
    ops,
    records,
    reports,
    site,
    tokens,
    wellknown,
)

STATIC_DIR = Path(__file__).parent / "static"


def routes() -> list[BaseRoute]:
    return [
        *wellknown.routes,
        *inbox.routes,
        *activitypub.routes,  # before the HTML pages of the same URLs: it hands browsers over to them
        *home.routes,
        *accounts.routes,
        *associations.routes,
        *news.routes,
        *membership.routes,
        *follows.routes,
        *catalog.routes,
        *entries.routes,
        *entry_objects.routes,
        *anonymous.routes,
        *reports.routes,
        *notifications.routes,
        *admin.routes,
        *admin_federation.routes,
        *ops.routes,
        *site.routes,
        *tokens.routes,
        *my_data.routes,
        *records.routes,
        *api.routes,
        *moves.routes,
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
