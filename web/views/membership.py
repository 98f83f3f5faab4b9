"""Membership: joining and leaving, and the managers' members page (requests, roles, removal)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from instance.errors import Conflict, ValidationError
from instance.i18n import gettext as _
from instance.models import Association, Membership, MembershipStatus, User
from instance.services import membership as members
from instance.services.access import membership_of, require_permission, visible_association
from instance.services.roles import roles_of
from web.auth import require_user
from web.csrf import read_form
from web.forms import Form
from web.templating import flash, render
from web.views import roles


def _to(request: Request, name: str, handle: str) -> RedirectResponse:
    return RedirectResponse(str(request.app.url_path_for(name, handle=handle)), status_code=303)


async def join(request: Request) -> Response:
    user = require_user(request)
    instance = request.app.state.instance
    form = Form.from_data(await read_form(request))
    async with instance.sessions() as db:
        association = await visible_association(db, request.path_params["handle"], user)
        try:
            membership = await members.join(db, instance.settings, user, association, form.text("message"))
        except (Conflict, ValidationError) as error:
            flash(request, str(error.message) or next(iter(getattr(error, "fields", {}).values()), ""), "error")
            return _to(request, "association", association.handle)
        await db.commit()
    if membership.status == MembershipStatus.PENDING:
        flash(request, _("Your request is sent. The association's managers will answer it."), "info")
    else:
        flash(request, _("Welcome! You are now a member of %(name)s.", name=association.name))
    return _to(request, "association", association.handle)


async def leave(request: Request) -> Response:
    user = require_user(request)
    async with request.app.state.instance.sessions() as db:
        association = await visible_association(db, request.path_params["handle"], user)
        membership = await membership_of(db, user, association)
        if request.method == "GET":
            context = {"association": association, "membership": membership}
            return render(request, "membership/leave.html", context)
        await read_form(request)
        try:
            await members.leave(db, user, association)
        except Conflict as error:
            flash(request, str(error.message), "error")
            return _to(request, "association", association.handle)
        await db.commit()
    flash(request, _("You are no longer a member of %(name)s.", name=association.name))
    return RedirectResponse(str(request.app.url_path_for("directory")), status_code=303)


async def member_list(request: Request) -> Response:
    user = require_user(request)
    async with request.app.state.instance.sessions() as db:
        association = await visible_association(db, request.path_params["handle"], user)
        people = await members.list_members(db, user, association)
        mine = await require_permission(db, user, association, "list_members")
        context = {
            "association": association,
            "people": people,
            "pending": [m for m in people if m.status == MembershipStatus.PENDING],
            "active": [m for m in people if m.status == MembershipStatus.ACTIVE],
            "roles": await roles_of(db, association),
            "can_manage": mine.role.allows("manage_members"),
        }
    return render(request, "membership/members.html", context)


Action = Callable[[AsyncSession, Request, User, Association, Membership, Form], Awaitable[str]]


async def _approve(db: AsyncSession, request: Request, user: User, a: Association, m: Membership, form: Form) -> str:
    await members.approve(db, request.app.state.instance.settings, user, a, m, form.text("role"))
    return _("%(person)s is now a member.", person=m.user.public_name)


async def _refuse(db: AsyncSession, request: Request, user: User, a: Association, m: Membership, form: Form) -> str:
    name = m.user.public_name
    await members.refuse(db, request.app.state.instance.settings, user, a, m)
    return _("The request of %(person)s is refused.", person=name)


async def _change(db: AsyncSession, request: Request, user: User, a: Association, m: Membership, form: Form) -> str:
    await members.change_role(db, user, a, m, form.text("role"))
    return _("%(person)s now has the role %(role)s.", person=m.user.public_name, role=m.role.name)


async def _remove(db: AsyncSession, request: Request, user: User, a: Association, m: Membership, form: Form) -> str:
    name = m.user.public_name
    await members.remove(db, user, a, m)
    return _("%(person)s is no longer a member.", person=name)


def member_action(action: Action) -> Callable[[Request], Awaitable[Response]]:
    """A POST on one membership: the service checks the permission; conflicts come back as a message."""

    async def view(request: Request) -> Response:
        user = require_user(request)
        form = Form.from_data(await read_form(request))
        async with request.app.state.instance.sessions() as db:
            association = await visible_association(db, request.path_params["handle"], user)
            membership = await members.membership_in(db, association, request.path_params["member_id"])
            try:
                message = await action(db, request, user, association, membership, form)
            except (Conflict, ValidationError) as error:
                flash(request, str(error.message) or _("This is not possible."), "error")
                return _to(request, "members", association.handle)
            await db.commit()
        flash(request, message)
        return _to(request, "members", association.handle)

    return view


MEMBER = "/associations/{handle}/members/{member_id:int}"
routes: list[BaseRoute] = [
    Route("/associations/{handle}/join", join, methods=["POST"], name="association_join"),
    Route("/associations/{handle}/leave", leave, methods=["GET", "POST"], name="association_leave"),
    Route("/associations/{handle}/members", member_list, name="members"),
    Route(f"{MEMBER}/approve", member_action(_approve), methods=["POST"], name="member_approve"),
    Route(f"{MEMBER}/refuse", member_action(_refuse), methods=["POST"], name="member_refuse"),
    Route(f"{MEMBER}/role", member_action(_change), methods=["POST"], name="member_role"),
    Route(f"{MEMBER}/remove", member_action(_remove), methods=["POST"], name="member_remove"),
    *roles.routes,
]
