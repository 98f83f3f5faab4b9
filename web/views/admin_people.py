"""Admin pages about accounts: search, suspend or reinstate, delete (after a confirmation), make or unmake admin."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from instance.errors import NotFound, ValidationError
from instance.i18n import gettext as _
from instance.models import User
from instance.runtime import Instance
from instance.services import admin_users
from web.auth import require_admin
from web.csrf import read_form
from web.templating import flash, render
from web.views.site import local_path

ACTIONS = ("suspend", "unsuspend", "make-admin", "remove-admin")


def _page_number(request: Request) -> int:
    try:
        return int(request.query_params.get("page", "1"))
    except ValueError:
        return 1


async def users(request: Request) -> Response:
    admin = require_admin(request)
    q = request.query_params.get("q", "").strip()[:200]
    async with request.app.state.instance.sessions() as db:
        result = await admin_users.search_users(db, admin, q, _page_number(request))
    here = request.url.path + ("?" + urlencode({"q": q, "page": result.page}) if q or result.page > 1 else "")
    return render(request, "admin/users.html", {"result": result, "q": q, "here": here, "section": "admin_users"})


def _done_message(action: str, user: User) -> str:
    messages = {
        "suspend": _("%(name)s is suspended: their sessions ended and they cannot log in.", name=user.public_name),
        "unsuspend": _("%(name)s can log in again.", name=user.public_name),
        "make-admin": _("%(name)s is now an administrator.", name=user.public_name),
        "remove-admin": _("%(name)s is no longer an administrator.", name=user.public_name),
    }
    return messages[action]


async def user_action(request: Request) -> Response:
    admin = require_admin(request)
    action = request.path_params["action"]
    if action not in ACTIONS:
        raise NotFound(_("Page not found"))
    data = await read_form(request)
    target = data.get("next")
    back = local_path(target if isinstance(target, str) else "", "/admin/users")
    instance: Instance = request.app.state.instance
    async with instance.sessions() as db:
        user_id = request.path_params["user_id"]
        try:
            if action in ("suspend", "unsuspend"):
                user = await admin_users.set_suspended(db, admin, user_id, action == "suspend")
            else:
                user = await admin_users.set_admin(db, admin, user_id, action == "make-admin")
        except ValidationError as error:
            await db.rollback()
            flash(request, str(error.message), "error")
            return RedirectResponse(back, status_code=303)
        await db.commit()
    flash(request, _done_message(action, user))
    return RedirectResponse(back, status_code=303)


async def delete_user(request: Request) -> Response:
    """GET: what deleting this account does, and a confirmation; POST: delete it."""
    admin = require_admin(request)
    instance: Instance = request.app.state.instance
    user_id = request.path_params["user_id"]
    async with instance.sessions() as db:
        user = await db.get(User, user_id)
        if user is None:
            raise NotFound(_("This account does not exist."))
        if request.method == "GET":
            context = {"person": user, "section": "admin_users", "error": ""}
            return render(request, "admin/user_delete.html", context)
        await read_form(request)
        try:
            name = await admin_users.delete_user(db, admin, user_id)
        except ValidationError as error:
            await db.rollback()
            user = await db.get(User, user_id)  # the rollback expired it
            context = {"person": user, "section": "admin_users", "error": str(error.message)}
            return render(request, "admin/user_delete.html", context, 400)
        await db.commit()
    flash(request, _("The account of %(name)s is deleted.", name=name))
    return RedirectResponse(str(request.app.url_path_for("admin_users")), status_code=303)


routes: list[BaseRoute] = [
    Route("/admin/users", users, name="admin_users"),
    Route("/admin/users/{user_id:int}/delete", delete_user, methods=["GET", "POST"], name="admin_user_delete"),
    Route("/admin/users/{user_id:int}/{action:str}", user_action, methods=["POST"], name="admin_user_action"),
]
