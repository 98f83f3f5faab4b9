"""The instance administrators' area: the dashboard with the associations waiting for approval, and the mail log.

The other sections live in ``admin_people`` (accounts) and ``admin_site`` (settings, announcements, reports);
their routes are gathered here. ``templates/admin/_nav.html`` lists the sections.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from federation.admin_queue import queue_counts
from instance.errors import NotFound, ValidationError
from instance.i18n import gettext as _
from instance.services import admin_users
from instance.services import association_approval as approval
from instance.services.mail_log import recent_mail
from web.auth import require_admin
from web.csrf import read_form
from web.forms import Form
from web.templating import flash, render
from web.views import admin_people, admin_site


async def admin_home(request: Request) -> Response:
    admin = require_admin(request)
    async with request.app.state.instance.sessions() as db:
        pending = await approval.awaiting_approval(db, admin)
        counts = await admin_users.dashboard_counts(db, admin)
        federation = await queue_counts(db, admin)
    context = {"pending": pending, "failed": None, "form": Form(), "counts": counts, "federation": federation}
    return render(request, "admin/home.html", context)


async def decide(request: Request) -> Response:
    admin = require_admin(request)
    instance = request.app.state.instance
    if request.path_params["decision"] not in ("approve", "refuse"):
        raise NotFound(_("Page not found"))
    form = Form.from_data(await read_form(request))
    association_id = request.path_params["association_id"]
    approve = request.path_params["decision"] == "approve"
    async with instance.sessions() as db:
        try:
            if approve:
                association = await approval.approve_association(
                    db, instance.settings, admin, association_id, form.text("message")
                )
            else:
                association = await approval.refuse_association(
                    db, instance.settings, admin, association_id, form.text("reason")
                )
        except ValidationError as error:
            await db.rollback()
            pending = await approval.awaiting_approval(db, admin)
            counts = await admin_users.dashboard_counts(db, admin)
            federation = await queue_counts(db, admin)
            context = {
                "pending": pending,
                "failed": association_id,
                "form": form.fail(error),
                "counts": counts,
                "federation": federation,
            }
            return render(request, "admin/home.html", context, 400)
        await db.commit()
    if approve:
        flash(request, _("%(name)s is approved; its managers are told.", name=association.name))
    else:
        flash(request, _("%(name)s is refused; its managers are told why.", name=association.name))
    return RedirectResponse(str(request.app.url_path_for("admin_home")), status_code=303)


async def mail_log(request: Request) -> Response:
    admin = require_admin(request)
    try:
        page = int(request.query_params.get("page", "1"))
    except ValueError:
        page = 1
    async with request.app.state.instance.sessions() as db:
        mails, pages = await recent_mail(db, admin, page)
    return render(request, "admin/mail.html", {"mails": mails, "page": page, "pages": pages})


routes: list[BaseRoute] = [
    Route("/admin", admin_home, name="admin_home"),
    Route("/admin/mail", mail_log, name="admin_mail"),
    Route(
        "/admin/associations/{association_id:int}/{decision:str}",
        decide,
        methods=["POST"],
        name="admin_association_decision",
    ),
    *admin_people.routes,
    *admin_site.routes,
]
