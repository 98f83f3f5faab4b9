"""Associations of other instances (``/follows``): find one by its handle or address, see it, join it.

Finding an association makes a local mirror of it (``federation.mirrors``) with a copy of its catalog; its page
is then the usual association page, where a volunteer joins, logs time and leaves as for a local association.
The page also lists the volunteer's memberships in remote associations and the remote associations known here.
"""

from __future__ import annotations

import contextlib

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from federation import catalog_sync, mirrors
from federation.policy import domain_of
from federation.remote import RemoteError, find_actor, split_handle
from federation.runtime import Federation
from instance.errors import ValidationError
from instance.i18n import lazy_gettext
from instance.models import Association, Membership, User
from web.auth import require_user
from web.csrf import read_form
from web.forms import Form
from web.templating import render

DIRECTORY_SIZE = 100


def _federation(request: Request) -> Federation:
    found: Federation = request.app.state.federation
    return found


async def _page(request: Request, user: User, form: Form, status_code: int = 200) -> Response:
    async with _federation(request).sessions() as db:
        mine = await db.scalars(
            select(Membership)
            .join(Association, Association.id == Membership.association_id)
            .where(Membership.user_id == user.id, Association.actor_uri.is_not(None))
            .order_by(Association.name)
        )
        known = await db.scalars(
            select(Association)
            .where(Association.actor_uri.is_not(None))
            .order_by(Association.name)
            .limit(DIRECTORY_SIZE)
        )
        context = {"form": form, "memberships": list(mine.unique()), "known": list(known)}
    return render(request, "follows/index.html", context, status_code)


def _target_host(text: str) -> str:
    named = split_handle(text)
    return named[1] if named is not None else domain_of(text)


async def find_association(db: AsyncSession, federation: Federation, text: str) -> Association:
    """The local mirror of the remote association named by ``text`` (handle or address), made on first use."""
    if not text:
        raise ValidationError({"target": lazy_gettext("Give the association's address, like @name@example.org.")})
    if _target_host(text) == domain_of(federation.settings.base_url):
        raise ValidationError({"target": lazy_gettext("This association is on this instance: join it from its page.")})
    try:
        actor = await find_actor(db, federation.client, text)
    except RemoteError as error:
        raise ValidationError(
            {"target": lazy_gettext("No association could be found at this address (%(reason)s).", reason=error.reason)}
        ) from error
    if actor.actor_type != "Group":
        raise ValidationError({"target": lazy_gettext("This account is not an association.")})
    association = await mirrors.association_for(db, actor)
    if catalog_sync.is_stale(association):
        with contextlib.suppress(RemoteError):  # fetched again when the entry form opens
            await catalog_sync.refresh(db, federation.client, association, actor.catalog)
    return association


async def follows_page(request: Request) -> Response:
    user = require_user(request)
    if request.method == "GET":
        return await _page(request, user, Form())
    form = Form.from_data(await read_form(request))
    federation = _federation(request)
    async with federation.sessions() as db:
        try:
            association = await find_association(db, federation, form.text("target"))
        except ValidationError as error:
            return await _page(request, user, form.fail(error), 400)
        await db.commit()
    target = request.app.url_path_for("association", handle=association.handle)
    return RedirectResponse(str(target), status_code=303)


routes: list[BaseRoute] = [Route("/follows", follows_page, methods=["GET", "POST"], name="follows")]
