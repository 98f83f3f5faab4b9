"""Follows over federation: a volunteer follows associations of other instances (``/follows``), and the managers
of an association see and decide the follow requests of accounts on other servers (``.../remote-followers``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from federation import follows
from federation.policy import domain_of
from federation.remote import RemoteError, find_actor, split_handle
from federation.runtime import Federation
from instance.errors import Conflict, NotFound, ValidationError
from instance.i18n import gettext as _
from instance.i18n import lazy_gettext
from instance.models import Association, User
from instance.services.access import require_permission, visible_association
from web.auth import require_user
from web.csrf import read_form
from web.forms import Form
from web.templating import flash, render


def _federation(request: Request) -> Federation:
    found: Federation = request.app.state.federation
    return found


async def _page(request: Request, user: User, form: Form, status_code: int = 200) -> Response:
    async with _federation(request).sessions() as db:
        rows = await follows.user_follows(db, user)
    return render(request, "follows/index.html", {"form": form, "rows": rows}, status_code)


def _target_host(text: str) -> str:
    named = split_handle(text)
    return named[1] if named is not None else domain_of(text)


async def _follow(db: AsyncSession, federation: Federation, user: User, text: str) -> str:
    if not text:
        raise ValidationError({"target": lazy_gettext("Give the association's address, like @name@example.org.")})
    if _target_host(text) == domain_of(federation.settings.base_url):
        raise ValidationError({"target": lazy_gettext("This association is on this instance: join it from its page.")})
    try:
        target = await find_actor(db, federation.client, text)
    except RemoteError as error:
        raise ValidationError(
            {"target": lazy_gettext("No association could be found at this address (%(reason)s).", reason=error.reason)}
        ) from error
    await follows.follow_remote(db, federation.settings, await _me(db, user), target)
    return target.name or target.handle


async def _me(db: AsyncSession, user: User) -> User:
    found = await db.get(User, user.id)
    if found is None:
        raise NotFound(lazy_gettext("This account does not exist."))
    return found


async def follows_page(request: Request) -> Response:
    user = require_user(request)
    if request.method == "GET":
        return await _page(request, user, Form())
    form = Form.from_data(await read_form(request))
    federation = _federation(request)
    async with federation.sessions() as db:
        try:
            name = await _follow(db, federation, user, form.text("target"))
        except (ValidationError, Conflict) as error:
            failure = error if isinstance(error, ValidationError) else ValidationError({"target": error.message})
            return await _page(request, user, form.fail(failure), 400)
        await db.commit()
    flash(request, _("Your request to follow %(name)s is sent.", name=name))
    return RedirectResponse(str(request.app.url_path_for("follows")), status_code=303)


async def stop_following(request: Request) -> Response:
    user = require_user(request)
    await read_form(request)
    federation = _federation(request)
    async with federation.sessions() as db:
        await follows.unfollow_remote(db, federation.settings, await _me(db, user), request.path_params["follow_id"])
        await db.commit()
    flash(request, _("You no longer follow this association."))
    return RedirectResponse(str(request.app.url_path_for("follows")), status_code=303)


# -- the managers' side ------------------------------------------------------------------------------------


async def _managed(db: AsyncSession, request: Request, user: User) -> Association:
    association = await visible_association(db, request.path_params["handle"], user)
    await require_permission(db, user, association, "manage_members")
    return association


async def remote_followers(request: Request) -> Response:
    user = require_user(request)
    async with _federation(request).sessions() as db:
        association = await _managed(db, request, user)
        rows = await follows.remote_followers(db, association)
    context = {
        "association": association,
        "pending": [(f, a) for f, a in rows if f.state == "pending"],
        "accepted": [(f, a) for f, a in rows if f.state == "accepted"],
    }
    return render(request, "follows/association.html", context)


Decision = Callable[[AsyncSession, Federation, Association, int], Awaitable[str]]


async def _accept(db: AsyncSession, federation: Federation, association: Association, follow_id: int) -> str:
    await follows.decide(db, federation.settings, association, follow_id, accept=True)
    return _("The request is accepted.")


async def _reject(db: AsyncSession, federation: Federation, association: Association, follow_id: int) -> str:
    await follows.decide(db, federation.settings, association, follow_id, accept=False)
    return _("The request is refused.")


async def _remove(db: AsyncSession, federation: Federation, association: Association, follow_id: int) -> str:
    await follows.remove_follower(db, federation.settings, association, follow_id)
    return _("This account no longer follows the association.")


def decision(action: Decision) -> Callable[[Request], Awaitable[Response]]:
    async def view(request: Request) -> Response:
        user = require_user(request)
        await read_form(request)
        federation = _federation(request)
        async with federation.sessions() as db:
            association = await _managed(db, request, user)
            try:
                message = await action(db, federation, association, request.path_params["follow_id"])
            except Conflict as error:
                flash(request, str(error.message), "error")
            else:
                await db.commit()
                flash(request, message)
        target = request.app.url_path_for("remote_followers", handle=association.handle)
        return RedirectResponse(str(target), status_code=303)

    return view


REMOTE = "/associations/{handle}/remote-followers"
routes: list[BaseRoute] = [
    Route("/follows", follows_page, methods=["GET", "POST"], name="follows"),
    Route("/follows/{follow_id:int}/stop", stop_following, methods=["POST"], name="follow_stop"),
    Route(REMOTE, remote_followers, name="remote_followers"),
    Route(f"{REMOTE}/{{follow_id:int}}/accept", decision(_accept), methods=["POST"], name="remote_follower_accept"),
    Route(f"{REMOTE}/{{follow_id:int}}/reject", decision(_reject), methods=["POST"], name="remote_follower_reject"),
    Route(f"{REMOTE}/{{follow_id:int}}/remove", decision(_remove), methods=["POST"], name="remote_follower_remove"),
]
