"""Pages about the instance for everyone: what it is (``/about``), dismissing an announcement, reporting
something to the admins (``/report``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from instance.errors import NotFound, ValidationError
from instance.i18n import gettext as _
from instance.runtime import Instance
from instance.services import instance_settings, reports_flags
from web.auth import require_user
from web.csrf import read_form
from web.forms import Form
from web.ops_middleware import DISMISSED_KEY
from web.templating import flash, render

MAX_DISMISSED = 50


def local_path(value: str, default: str = "/") -> str:
    """``value`` when it is a path on this site (never another origin), else ``default``."""
    if value.startswith("/") and not value.startswith("//") and "\\" not in value and "\n" not in value:
        return value
    return default


async def about(request: Request) -> Response:
    instance: Instance = request.app.state.instance
    async with instance.sessions() as db:
        site = await instance_settings.effective(db, instance.settings)
    return render(request, "site/about.html", {"site": site, "host": instance.settings.host})


async def dismiss(request: Request) -> Response:
    """Hide an announcement banner for this browser."""
    data = await read_form(request)
    announcement_id = request.path_params["announcement_id"]
    dismissed = [i for i in request.session.get(DISMISSED_KEY, []) if i != announcement_id]
    request.session[DISMISSED_KEY] = [*dismissed, announcement_id][-MAX_DISMISSED:]
    target = data.get("next")
    return RedirectResponse(local_path(target if isinstance(target, str) else ""), status_code=303)


def _back(kind: str, ref: str) -> str:
    return {"association": f"/associations/{ref}", "user": f"/users/{ref}"}.get(kind, "/")


async def report(request: Request) -> Response:
    """GET: the form to report ``?kind=association|user|entry&target=...``; POST: send it to the admins."""
    user = require_user(request)
    instance: Instance = request.app.state.instance
    if request.method == "POST":
        form = Form.from_data(await read_form(request))
    else:
        form = Form({"kind": request.query_params.get("kind", ""), "target": request.query_params.get("target", "")})
    kind, ref = form.text("kind"), form.text("target")
    if kind not in reports_flags.KINDS or not ref:
        raise NotFound(_("Page not found"))
    async with instance.sessions() as db:
        ref, label = await reports_flags.describe_target(db, user, kind, ref)
        context = {"form": form, "kind": kind, "ref": ref, "label": label, "back": _back(kind, ref)}
        if request.method == "GET":
            return render(request, "site/report.html", context)
        try:
            await reports_flags.report(db, user, kind, ref, form.text("reason"), instance.url("/admin/reports"))
        except ValidationError as error:
            await db.rollback()
            return render(request, "site/report.html", {**context, "form": form.fail(error)}, 400)
        await db.commit()
    flash(request, _("Thank you. The administrators will look at your report."))
    return RedirectResponse(_back(kind, ref), status_code=303)


routes: list[BaseRoute] = [
    Route("/about", about, name="about"),
    Route("/announcements/{announcement_id:int}/dismiss", dismiss, methods=["POST"], name="announcement_dismiss"),
    Route("/report", report, methods=["GET", "POST"], name="report"),
]
