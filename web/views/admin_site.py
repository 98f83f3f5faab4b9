"""Admin pages about the instance itself: its settings and registration policy, announcements, and reports."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from instance import reference
from instance.errors import ValidationError
from instance.i18n import gettext as _
from instance.models import Audience, FlagState, User
from instance.runtime import Instance
from instance.services import announcements, instance_settings, reports_flags
from instance.services.instance_settings import Site
from web.auth import require_admin
from web.csrf import read_form
from web.forms import Form
from web.ops_middleware import banner_cache
from web.templating import flash, render


def _instance(request: Request) -> Instance:
    return request.app.state.instance  # type: ignore[no-any-return]


def _redirect(request: Request, name: str) -> Response:
    return RedirectResponse(str(request.app.url_path_for(name)), status_code=303)


# -- settings -------------------------------------------------------------------------------------------------


def settings_form(site: Site) -> Form:
    """The form as stored: fields the database does not set are empty (the environment's value applies)."""
    values: dict[str, Any] = {name: str(getattr(site.settings, name)) for name in site.overridden}
    values.update(
        description=site.description,
        charter=site.charter,
        contact=site.contact,
        default_categories=list(site.default_categories),
        default_levels=instance_settings.levels_text(site),
    )
    return Form(values)


def render_settings(request: Request, site: Site, form: Form, status_code: int = 200) -> Response:
    context = {
        "form": form,
        "site": site,
        "environment": _instance(request).settings,
        "categories": reference.common_categories(),
        "section": "admin_settings",
    }
    return render(request, "admin/settings.html", context, status_code)


async def site_settings(request: Request) -> Response:
    admin = require_admin(request)
    instance = _instance(request)
    async with instance.sessions() as db:
        if request.method == "GET":
            site = await instance_settings.effective(db, instance.settings)
            return render_settings(request, site, settings_form(site))
        form = Form.from_data(await read_form(request), multiple=("default_categories",))
        try:
            await instance_settings.save(db, admin, form.values)
        except ValidationError as error:
            await db.rollback()
            site = await instance_settings.effective(db, instance.settings)
            return render_settings(request, site, form.fail(error), 400)
        await db.commit()
    banner_cache(request.app).clear()
    flash(request, _("The instance settings are saved."))
    return _redirect(request, "admin_settings")


# -- announcements --------------------------------------------------------------------------------------------


def audience_options() -> list[tuple[str, str]]:
    return [
        (Audience.EVERYONE.value, _("Everyone, including visitors")),
        (Audience.USERS.value, _("Everyone with an account")),
        (Audience.MANAGERS.value, _("Managers of associations")),
    ]


async def render_announcements(request: Request, admin: User, form: Form, status_code: int = 200) -> Response:
    async with _instance(request).sessions() as db:
        listed = await announcements.all_announcements(db, admin)
    context = {
        "form": form,
        "announcements": listed,
        "audiences": audience_options(),
        "is_current": announcements.is_current,
        "section": "admin_announcements",
    }
    return render(request, "admin/announcements.html", context, status_code)


async def announcements_page(request: Request) -> Response:
    admin = require_admin(request)
    if request.method == "GET":
        return await render_announcements(request, admin, Form({"audience": "users", "banner": "1"}))
    form = Form.from_data(await read_form(request))
    instance = _instance(request)
    async with instance.sessions() as db:
        try:
            await announcements.publish(
                db,
                admin,
                title=form.text("title"),
                body=form.text("body"),
                audience=form.text("audience"),
                banner=form.flag("banner"),
                notify_people=form.flag("notify"),
                expires_on=form.text("expires_on"),
                link=instance.url("/"),
            )
        except ValidationError as error:
            await db.rollback()
            return await render_announcements(request, admin, form.fail(error), 400)
        await db.commit()
    banner_cache(request.app).clear()
    flash(request, _("The announcement is published."))
    return _redirect(request, "admin_announcements")


async def end_announcement(request: Request) -> Response:
    admin = require_admin(request)
    await read_form(request)
    async with _instance(request).sessions() as db:
        await announcements.end(db, admin, request.path_params["announcement_id"])
        await db.commit()
    banner_cache(request.app).clear()
    flash(request, _("The announcement is no longer shown."))
    return _redirect(request, "admin_announcements")


# -- reports --------------------------------------------------------------------------------------------------


async def reports_page(request: Request) -> Response:
    admin = require_admin(request)
    state = FlagState.RESOLVED if request.query_params.get("state") == "resolved" else FlagState.OPEN
    async with _instance(request).sessions() as db:
        flags = await reports_flags.list_flags(db, admin, state)
    context = {"flags": flags, "state": state.value, "section": "admin_reports"}
    return render(request, "admin/reports.html", context)


async def resolve_report(request: Request) -> Response:
    admin = require_admin(request)
    form = Form.from_data(await read_form(request))
    async with _instance(request).sessions() as db:
        try:
            await reports_flags.resolve(db, admin, request.path_params["flag_id"], form.text("resolution"))
        except ValidationError as error:
            await db.rollback()
            flash(request, str(error.message or next(iter(error.fields.values()), "")), "error")
            return _redirect(request, "admin_reports")
        await db.commit()
    flash(request, _("The report is resolved; the person who sent it is told."))
    return _redirect(request, "admin_reports")


routes: list[BaseRoute] = [
    Route("/admin/settings", site_settings, methods=["GET", "POST"], name="admin_settings"),
    Route("/admin/announcements", announcements_page, methods=["GET", "POST"], name="admin_announcements"),
    Route(
        "/admin/announcements/{announcement_id:int}/end",
        end_announcement,
        methods=["POST"],
        name="admin_announcement_end",
    ),
    Route("/admin/reports", reports_page, name="admin_reports"),
    Route("/admin/reports/{flag_id:int}/resolve", resolve_report, methods=["POST"], name="admin_report_resolve"),
]
