"""A volunteer's time entry as an ActivityPub object (``/entries/{id}``), for the association it was sent to.

Entries are not public: the object is served only to a GET signed by that association or by its instance's
actor (401 unsigned, 403 for anyone else, 404 for entries that were never sent elsewhere). A withdrawn entry
answers ``410 Gone`` with a ``Tombstone``. Browsers are sent to the entry's page.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from federation import time_entries as wire
from federation import urls
from federation.actors import with_context
from federation.entry_exchange import catalog_refs
from federation.policy import domain_of
from federation.runtime import Federation
from federation.signed_get import signer_of
from instance.errors import NotFound, PermissionDenied
from instance.i18n import lazy_gettext
from instance.models import Association, TimeEntry, User
from instance.models.entries import EntryStatus
from web.views.activitypub import NegotiatedRoute, activity_json
from web.views.inbox import public_url


def _missing() -> NotFound:
    return NotFound(lazy_gettext("This entry does not exist."))


async def entry_object(request: Request) -> Response:
    federation: Federation = request.app.state.federation
    settings = federation.settings
    async with federation.sessions() as db:
        entry = await db.get(TimeEntry, request.path_params["entry_id"])
        association = await db.get(Association, entry.association_id) if entry is not None else None
        user = await db.get(User, entry.user_id) if entry is not None and entry.user_id else None
        if entry is None or association is None or association.actor_uri is None or user is None:
            raise _missing()
        signer = await signer_of(db, federation.client, public_url(request, settings.base_url), request.headers)
        await db.commit()
        if signer is None:
            return activity_json({"error": "a signed request is required"}, 401)
        concerned = signer.uri == association.actor_uri or (
            signer.actor_type == "Application" and domain_of(signer.uri) == domain_of(association.actor_uri)
        )
        if not concerned:
            raise PermissionDenied(lazy_gettext("This entry is not yours to read."))
        if entry.status == EntryStatus.WITHDRAWN:
            tombstone = {
                "id": urls.entry(settings, entry.id),
                "type": "Tombstone",
                "formerType": "TimeEntry",
                "deleted": wire.timestamp(entry.updated_at),
            }
            return activity_json(with_context(tombstone), 410)
        refs = await catalog_refs(db, settings, entry, association)
        return activity_json(with_context(wire.entry_object(settings, entry, user, association, refs)))


async def entry_page(request: Request) -> Response:
    return RedirectResponse(f"/entries/{request.path_params['entry_id']}/edit", status_code=303)


routes: list[BaseRoute] = [
    NegotiatedRoute("/entries/{entry_id:int}", entry_object, html=entry_page, name="ap_entry"),
]
