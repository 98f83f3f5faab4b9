"""Finding an association of another instance by its handle (``@name@host``) or its address, for the pages and
the API: the actor is found (WebFinger, then a signed GET), must be a ``Group`` elsewhere, and is mirrored here
with a copy of its catalog."""

from __future__ import annotations

import contextlib

from sqlalchemy.ext.asyncio import AsyncSession

from federation import catalog_sync, mirrors
from federation.client import FederationClient
from federation.policy import domain_of
from federation.remote import RemoteError, find_actor, split_handle
from instance.errors import ValidationError
from instance.i18n import lazy_gettext
from instance.models import Association


def _target_host(text: str) -> str:
    named = split_handle(text)
    return named[1] if named is not None else domain_of(text)


async def find_association(db: AsyncSession, client: FederationClient, text: str) -> Association:
    """The local mirror of the remote association named by ``text`` (handle or address), made on first use."""
    if not text:
        raise ValidationError({"target": lazy_gettext("Give the association's address, like @name@example.org.")})
    if _target_host(text) == domain_of(client.settings.base_url):
        raise ValidationError({"target": lazy_gettext("This association is on this instance: join it from its page.")})
    try:
        actor = await find_actor(db, client, text)
    except RemoteError as error:
        raise ValidationError(
            {"target": lazy_gettext("No association could be found at this address (%(reason)s).", reason=error.reason)}
        ) from error
    if actor.actor_type != "Group":
        raise ValidationError({"target": lazy_gettext("This account is not an association.")})
    association = await mirrors.association_for(db, actor)
    if catalog_sync.is_stale(association):
        with contextlib.suppress(RemoteError):  # fetched again when the entry form opens
            await catalog_sync.refresh(db, client, association, actor.catalog)
    return association
