"""Associations: the directory, creation, the public profile, editing and the logo."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from instance import reference
from instance.errors import ValidationError
from instance.i18n import gettext as _
from instance.models import PERMISSIONS, Association, AssociationStatus, Membership, MembershipStatus
from instance.services import logos, news
from instance.services.access import membership_of, require_permission, visible_association
from instance.services.associations import directory as search_directory
from instance.services.associations import may_register, member_count, register_association, update_association
from web.auth import require_user
from web.csrf import read_form
from web.forms import Form
from web.templating import flash, render, site_settings

PROFILE_FLAGS = ("has_employees", "hidden", "moderate_membership", "moderate_entries")


def profile_values(form: Form) -> dict[str, Any]:
    """What the profile form holds, as the keyword arguments of ``check_profile``."""
    fields = form.values.get("activity_fields", [])
    return {
        "name": form.text("name"),
        "description": form.text("description"),
        "website": form.text("website"),
        "activity_fields": fields if isinstance(fields, list) else [],
        "postal_code": form.text("postal_code"),
        "yearly_income": form.text("yearly_income"),
        **{flag: form.flag(flag) for flag in PROFILE_FLAGS},
    }


def form_of(association: Association) -> Form:
    values: dict[str, Any] = {
        "name": association.name,
        "description": association.description,
        "website": association.website,
        "activity_fields": list(association.activity_fields or []),
        "postal_code": association.postal_code,
        "yearly_income": "" if association.yearly_income is None else str(association.yearly_income),
    }
    values.update({flag: "1" if getattr(association, flag) else "" for flag in PROFILE_FLAGS})
    return Form(values)


def permissions_of(membership: Membership | None) -> set[str]:
    if membership is None or membership.status != MembershipStatus.ACTIVE:
        return set()
    return {p for p in PERMISSIONS if membership.role.allows(p)}


async def directory(request: Request) -> Response:
    q = request.query_params.get("q", "").strip()[:200]
    try:
        page = int(request.query_params.get("page", "1"))
    except ValueError:
        page = 1
    async with request.app.state.instance.sessions() as db:
        result = await search_directory(db, request.state.user, q, page)
    return render(request, "associations/directory.html", {"result": result, "q": q})


def _new_page(request: Request, form: Form, status: int = 200) -> Response:
    context = {"form": form, "activity_groups": reference.activity_fields(), "allowed": True}
    return render(request, "associations/new.html", context, status)


async def new_association(request: Request) -> Response:
    user = require_user(request)
    instance = request.app.state.instance
    settings = site_settings(request)
    if request.method == "GET":
        if not may_register(settings, user):
            return render(request, "associations/new.html", {"allowed": False})
        return _new_page(request, Form({"moderate_entries": "1"}))
    form = Form.from_data(await read_form(request), multiple=("activity_fields",))
    async with instance.sessions() as db:
        try:
            association = await register_association(
                db, settings, user, handle=form.text("handle"), **profile_values(form)
            )
        except ValidationError as error:
            return _new_page(request, form.fail(error), 400)
        await db.commit()
    if association.status == AssociationStatus.PENDING:
        flash(request, _("Your association is created. It will open once an administrator approves it."), "info")
    else:
        flash(request, _("Your association is created."))
    return RedirectResponse(str(request.app.url_path_for("association", handle=association.handle)), status_code=303)


async def profile(request: Request) -> Response:
    viewer = request.state.user
    async with request.app.state.instance.sessions() as db:
        association = await visible_association(db, request.path_params["handle"], viewer)
        membership = await membership_of(db, viewer, association)
        context = {
            "association": association,
            "membership": membership,
            "permissions": permissions_of(membership),
            "members": await member_count(db, association),
            "logo_version": await logos.logo_version(db, association),
            "news": await news.latest(db, association),
            "host": request.app.state.instance.settings.host,
            "form": Form(),
        }
    return render(request, "associations/profile.html", context)


def _edit_page(request: Request, association: Association, form: Form, status: int = 200) -> Response:
    context = {"association": association, "form": form, "activity_groups": reference.activity_fields()}
    return render(request, "associations/edit.html", context, status)


async def edit(request: Request) -> Response:
    user = require_user(request)
    instance = request.app.state.instance
    async with instance.sessions() as db:
        association = await visible_association(db, request.path_params["handle"], user)
        await require_permission(db, user, association, "manage_association")
        if request.method == "GET":
            return _edit_page(request, association, form_of(association))
        data = await read_form(request)
        try:
            form = Form.from_data(data, multiple=("activity_fields",))
            upload = data.get("logo")
            logo = await upload.read(instance.settings.max_logo_bytes + 1) if isinstance(upload, UploadFile) else b""
        finally:
            await data.close()
        try:
            await update_association(db, user, association, **profile_values(form))
        except ValidationError as error:
            form.fail(error)
        try:
            if form.flag("remove_logo"):
                await logos.remove_logo(db, user, association)
            elif logo:
                await logos.set_logo(db, instance.settings, user, association, logo)
        except ValidationError as error:
            form.fail(error)
        if not form.ok:
            await db.rollback()
            association = await visible_association(db, request.path_params["handle"], user)
            return _edit_page(request, association, form, 400)
        await db.commit()
    flash(request, _("The association's profile is saved."))
    return RedirectResponse(str(request.app.url_path_for("association", handle=association.handle)), status_code=303)


async def logo(request: Request) -> Response:
    async with request.app.state.instance.sessions() as db:
        association = await visible_association(db, request.path_params["handle"], request.state.user)
        stored = await logos.logo_of(db, association)
    if stored is None:
        return Response(status_code=404)
    etag = f'"logo-{association.id}-{int(stored.updated_at.timestamp())}"'
    public = association.status == AssociationStatus.ACTIVE and not association.hidden
    headers = {"ETag": etag, "Cache-Control": f"{'public' if public else 'private'}, max-age=86400"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(stored.data, media_type=stored.content_type, headers=headers)


routes = [
    Route("/associations", directory, name="directory"),
    Route("/associations/new", new_association, methods=["GET", "POST"], name="association_new"),
    Route("/associations/{handle}", profile, name="association"),
    Route("/associations/{handle}/edit", edit, methods=["GET", "POST"], name="association_edit"),
    Route("/associations/{handle}/logo", logo, name="association_logo"),
]
