"""Admin pages about federation: the known instances (block, unblock, allow), the delivery queue (retry now),
and the remote accounts (suspend, unsuspend). Instance admins only; every form carries the CSRF token."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from federation import admin as federation_admin
from federation import admin_queue, policy
from federation.admin import Cut
from instance.errors import NotFound, ValidationError
from instance.i18n import gettext as _
from instance.models import DeliveryState, User
from instance.runtime import Instance
from web.auth import require_admin
from web.csrf import read_form
from web.forms import Form
from web.templating import flash, render
from web.views.site import local_path

DOMAIN_ACTIONS = ("block", "unblock", "allow", "disallow")
ACTOR_ACTIONS = ("suspend", "unsuspend")


def _instance(request: Request) -> Instance:
    return request.app.state.instance  # type: ignore[no-any-return]


def _number(request: Request, name: str = "page") -> int:
    try:
        return int(request.query_params.get(name, "1"))
    except ValueError:
        return 1


def _back(data: Any, default: str) -> Response:
    target = data.get("next")
    return RedirectResponse(local_path(target if isinstance(target, str) else "", default), status_code=303)


def _here(request: Request, **params: Any) -> str:
    kept = {name: value for name, value in params.items() if value not in ("", 1, None)}
    return request.url.path + ("?" + urlencode(kept) if kept else "")


# -- known instances ---------------------------------------------------------------------------------------


async def render_instances(request: Request, admin: User, form: Form, status_code: int = 200) -> Response:
    instance = _instance(request)
    q = request.query_params.get("q", "").strip()[:200]
    async with instance.sessions() as db:
        result = await federation_admin.known_domains(db, admin, q, _number(request))
        allowlist = await policy.allowlist_only(db, instance.settings)
    context = {
        "result": result,
        "q": q,
        "here": _here(request, q=q, page=result.page),
        "form": form,
        "allowlist": allowlist,
        "section": "admin_federation",
    }
    return render(request, "admin/federation/instances.html", context, status_code)


async def instances(request: Request) -> Response:
    admin = require_admin(request)
    return await render_instances(request, admin, Form())


def _cut_message(domain: str, cut: Cut) -> str:
    return _(
        "%(domain)s is blocked: %(follows)s follows removed, %(deliveries)s deliveries stopped, "
        "%(activities)s received activities ignored.",
        domain=domain,
        follows=cut.follows,
        deliveries=cut.deliveries,
        activities=cut.activities,
    )


async def domain_action(request: Request) -> Response:
    admin = require_admin(request)
    data = await read_form(request)
    form = Form.from_data(data)
    action = form.text("action")
    if action not in DOMAIN_ACTIONS:
        raise NotFound(_("Page not found"))
    instance = _instance(request)
    async with instance.sessions() as db:
        try:
            domain = federation_admin.clean_domain(instance.settings, form.text("domain"))
            if action == "block":
                cut = await federation_admin.block_domain(db, instance.settings, admin, domain, form.text("reason"))
                message = _cut_message(domain, cut)
            elif action == "unblock":
                await federation_admin.unblock_domain(db, instance.settings, admin, domain)
                message = _("%(domain)s is no longer blocked.", domain=domain)
            else:
                allowed = action == "allow"
                await federation_admin.allow_domain(db, instance.settings, admin, domain, allowed, form.text("reason"))
                message = (
                    _("%(domain)s is on the allow-list.", domain=domain)
                    if allowed
                    else _("%(domain)s is no longer on the allow-list.", domain=domain)
                )
        except ValidationError as error:
            await db.rollback()
            return await render_instances(request, admin, form.fail(error), 400)
        await db.commit()
    flash(request, message)
    return _back(data, str(request.app.url_path_for("admin_federation")))


# -- delivery queue ----------------------------------------------------------------------------------------


async def queue(request: Request) -> Response:
    admin = require_admin(request)
    domain = request.query_params.get("domain", "").strip().lower()[:255]
    failed_page, pending_page = _number(request, "failed"), _number(request, "pending")
    async with _instance(request).sessions() as db:
        counts = await admin_queue.queue_counts(db, admin)
        failed = await admin_queue.deliveries(db, admin, DeliveryState.FAILED, domain, failed_page)
        pending = await admin_queue.deliveries(db, admin, DeliveryState.PENDING, domain, pending_page)
        dead = await admin_queue.unavailable_domains(db, admin)
    context = {
        "counts": counts,
        "failed": failed,
        "pending": pending,
        "dead": dead,
        "domain": domain,
        "here": _here(request, domain=domain, failed=failed.page, pending=pending.page),
        "section": "admin_federation",
    }
    return render(request, "admin/federation/queue.html", context)


async def retry(request: Request) -> Response:
    admin = require_admin(request)
    data = await read_form(request)
    form = Form.from_data(data)
    instance = _instance(request)
    async with instance.sessions() as db:
        try:
            if form.text("delivery_id").isdecimal():
                row = await admin_queue.retry_delivery(db, admin, int(form.text("delivery_id")))
                message = _("The delivery to %(inbox)s will be tried again now.", inbox=row.inbox)
            else:
                waiting = await admin_queue.retry_domain(db, instance.settings, admin, form.text("domain"))
                message = _(
                    "%(n)s deliveries to %(domain)s will be tried again now.", n=waiting, domain=form.text("domain")
                )
        except ValidationError as error:
            await db.rollback()
            flash(request, str(error.message or next(iter(error.fields.values()), "")), "error")
            return _back(data, str(request.app.url_path_for("admin_federation_queue")))
        await db.commit()
    flash(request, message)
    return _back(data, str(request.app.url_path_for("admin_federation_queue")))


# -- remote accounts ---------------------------------------------------------------------------------------


async def actors(request: Request) -> Response:
    admin = require_admin(request)
    q = request.query_params.get("q", "").strip()[:200]
    only_suspended = request.query_params.get("suspended") == "1"
    async with _instance(request).sessions() as db:
        result = await federation_admin.remote_actors(db, admin, q, _number(request), only_suspended)
    context = {
        "result": result,
        "q": q,
        "only_suspended": only_suspended,
        "here": _here(request, q=q, suspended="1" if only_suspended else "", page=result.page),
        "section": "admin_federation",
    }
    return render(request, "admin/federation/actors.html", context)


async def actor_action(request: Request) -> Response:
    """Suspend or unsuspend the remote actor ``actor_id`` (or, from a report, the one whose address is ``uri``)."""
    admin = require_admin(request)
    action = request.path_params.get("action", "suspend")
    if action not in ACTOR_ACTIONS:
        raise NotFound(_("Page not found"))
    data = await read_form(request)
    form = Form.from_data(data)
    default = str(request.app.url_path_for("admin_federation_actors"))
    async with _instance(request).sessions() as db:
        try:
            actor_id = request.path_params.get("actor_id")
            if actor_id is None:
                actor_id = await federation_admin.actor_id_of(db, admin, form.text("uri"))
            if action == "suspend":
                actor, cut = await federation_admin.suspend_actor(db, admin, actor_id, form.text("reason"))
                message = _(
                    "%(actor)s is suspended: %(follows)s follows removed, %(deliveries)s deliveries stopped.",
                    actor=actor.handle,
                    follows=cut.follows,
                    deliveries=cut.deliveries,
                )
            else:
                actor = await federation_admin.unsuspend_actor(db, admin, actor_id)
                message = _("%(actor)s is no longer suspended.", actor=actor.handle)
        except ValidationError as error:
            await db.rollback()
            flash(request, str(error.message or next(iter(error.fields.values()), "")), "error")
            return _back(data, default)
        await db.commit()
    flash(request, message)
    return _back(data, default)


routes: list[BaseRoute] = [
    Route("/admin/federation", instances, name="admin_federation"),
    Route("/admin/federation/domains", domain_action, methods=["POST"], name="admin_federation_domain"),
    Route("/admin/federation/queue", queue, name="admin_federation_queue"),
    Route("/admin/federation/queue/retry", retry, methods=["POST"], name="admin_federation_retry"),
    Route("/admin/federation/actors", actors, name="admin_federation_actors"),
    Route("/admin/federation/actors/suspend", actor_action, methods=["POST"], name="admin_federation_suspend"),
    Route(
        "/admin/federation/actors/{actor_id:int}/{action:str}",
        actor_action,
        methods=["POST"],
        name="admin_federation_actor_action",
    ),
]
