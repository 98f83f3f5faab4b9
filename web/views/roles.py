"""An association's roles: list, create, edit, delete (their routes are served with the membership views)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from instance.errors import Conflict, ValidationError
from instance.i18n import lazy_gettext
from instance.models import PERMISSIONS, Association, Role
from instance.services import roles as service
from instance.services.access import require_permission, visible_association
from web.auth import require_user
from web.csrf import read_form
from web.forms import Form
from web.templating import flash, render

PERMISSION_LABELS = {
    "list_members": lazy_gettext("See the list of members"),
    "manage_members": lazy_gettext("Accept, refuse and remove members, change their role"),
    "manage_entries": lazy_gettext("Approve and enter time for members"),
    "manage_categories": lazy_gettext("Manage categories"),
    "manage_levels": lazy_gettext("Manage levels"),
    "manage_projects": lazy_gettext("Manage projects"),
    "manage_roles": lazy_gettext("Manage roles"),
    "manage_association": lazy_gettext("Manage the association (gives every permission)"),
}


def _values(form: Form) -> dict[str, Any]:
    permissions = form.values.get("permissions", [])
    return {
        "name": form.text("name"),
        "description": form.text("description"),
        "permissions": [p for p in permissions if p in PERMISSIONS] if isinstance(permissions, list) else [],
        "is_default": form.flag("is_default"),
    }


def _form_of(role: Role) -> Form:
    return Form(
        {
            "name": role.name,
            "description": role.description,
            "permissions": [p for p in PERMISSIONS if getattr(role, p)],
            "is_default": "1" if role.is_default else "",
        }
    )


def _to_list(request: Request, handle: str) -> RedirectResponse:
    return RedirectResponse(str(request.app.url_path_for("roles", handle=handle)), status_code=303)


def _form_page(
    request: Request, association: Association, form: Form, role: Role | None, status: int = 200
) -> Response:
    context = {"association": association, "form": form, "role": role, "labels": PERMISSION_LABELS}
    return render(request, "associations/role_form.html", context, status)


async def role_list(request: Request) -> Response:
    user = require_user(request)
    async with request.app.state.instance.sessions() as db:
        association = await visible_association(db, request.path_params["handle"], user)
        await require_permission(db, user, association, "manage_roles")
        context = {
            "association": association,
            "roles": await service.roles_of(db, association),
            "usage": await service.role_usage(db, association),
            "labels": PERMISSION_LABELS,
            "permissions": PERMISSIONS,
        }
    return render(request, "associations/roles.html", context)


async def role_form(request: Request) -> Response:
    """Create (no ``role_id``) or edit a role."""
    user = require_user(request)
    async with request.app.state.instance.sessions() as db:
        association = await visible_association(db, request.path_params["handle"], user)
        await require_permission(db, user, association, "manage_roles")
        role_id = request.path_params.get("role_id")
        role = await service.role_in(db, association, role_id) if role_id is not None else None
        if request.method == "GET":
            return _form_page(request, association, _form_of(role) if role else Form(), role)
        form = Form.from_data(await read_form(request), multiple=("permissions",))
        try:
            if role is None:
                await service.create_role(db, user, association, **_values(form))
            else:
                await service.update_role(db, user, association, role, **_values(form))
        except (ValidationError, Conflict) as error:
            await db.rollback()
            if isinstance(error, ValidationError):
                form.fail(error)
            else:
                form.errors["__all__"] = str(error.message)
            association = await visible_association(db, request.path_params["handle"], user)
            role = await service.role_in(db, association, role_id) if role_id is not None else None
            return _form_page(request, association, form, role, 400 if isinstance(error, ValidationError) else 409)
        await db.commit()
    flash(request, str(lazy_gettext("The role is saved.")))
    return _to_list(request, association.handle)


async def role_delete(request: Request) -> Response:
    user = require_user(request)
    await read_form(request)
    async with request.app.state.instance.sessions() as db:
        association = await visible_association(db, request.path_params["handle"], user)
        role = await service.role_in(db, association, request.path_params["role_id"])
        try:
            await service.delete_role(db, user, association, role)
        except Conflict as error:
            flash(request, str(error.message), "error")
            return _to_list(request, association.handle)
        await db.commit()
    flash(request, str(lazy_gettext("The role is deleted.")))
    return _to_list(request, association.handle)


ROLES = "/associations/{handle}/roles"
routes: list[BaseRoute] = [
    Route(ROLES, role_list, name="roles"),
    Route(f"{ROLES}/new", role_form, methods=["GET", "POST"], name="role_new"),
    Route(f"{ROLES}/{{role_id:int}}/edit", role_form, methods=["GET", "POST"], name="role_edit"),
    Route(f"{ROLES}/{{role_id:int}}/delete", role_delete, methods=["POST"], name="role_delete"),
]
