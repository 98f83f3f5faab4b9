"""Moving an association here from Bénévalibre 2.x: upload, preview (file vs. result, side by side), import.

The preview runs the whole import in a transaction that is rolled back, so every check (and the origin's
answer) is known before anything is written; the checked file is then kept as a ``MoveUpload`` until its
uploader confirms. Instance admins may import for anyone; other logged-in people may when the instance lets
them create associations, and become the imported association's manager.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from instance.errors import NotFound, PermissionDenied, ValidationError
from instance.i18n import gettext as _
from instance.i18n import lazy_gettext
from instance.models import Association, AssociationMove, MembershipStatus, MoveUpload, User, utcnow
from instance.runtime import Instance
from instance.security import MIN_PASSWORD_LENGTH
from instance.services.access import membership_of
from instance.services.associations import may_register
from instance.services.benevalibre_format import MAX_FILE_BYTES
from instance.services.benevalibre_import import ImportResult, after_figures, confirm_move, import_export
from instance.services.benevalibre_parse import parse_export
from instance.services.move_accounts import activate, activation_target, user_by_email
from instance.services.move_figures import Figures
from instance.services.move_protocol import OriginClient, new_client
from web.auth import log_in, require_user
from web.csrf import read_form
from web.forms import Form
from web.templating import flash, render
from web.views.move_tables import comparison

UPLOAD_MAX_AGE = dt.timedelta(days=1)
FIELDS = ("owner", "rename", "handle")


def instance_of(request: Request) -> Instance:
    instance: Instance = request.app.state.instance
    return instance


def require_importer(request: Request) -> User:
    user = require_user(request)
    if not may_register(instance_of(request).settings, user):
        raise PermissionDenied(lazy_gettext("On this instance, only administrators can create associations."))
    return user


def _form_page(request: Request, form: Form, status: int = 200) -> Response:
    context = {"form": form, "max_mib": MAX_FILE_BYTES // (1024 * 1024)}
    return render(request, "moves/import.html", context, status)


async def _owner(db: AsyncSession, user: User, form: Form) -> User | None:
    """Who will manage the association: the uploader; for an admin, the account they name, or nobody more
    than the managers the file names."""
    me = await db.get(User, user.id)
    assert me is not None
    if not me.is_admin:
        return me
    email = form.text("owner")
    if not email:
        return None
    owner = await user_by_email(db, email)
    if owner is None:
        raise ValidationError({"owner": lazy_gettext("No account uses this email address on this instance.")})
    return owner


async def _run(request: Request, db: AsyncSession, content: bytes, form: Form, user: User) -> ImportResult:
    instance = instance_of(request)
    export = parse_export(content)
    owner = await _owner(db, user, form)
    importer = await db.get(User, user.id)
    async with new_client() as http:
        return await import_export(
            db,
            instance,
            export,
            owner=owner,
            importer=importer,
            rename=form.text("rename"),
            handle=form.text("handle"),
            origin=OriginClient(http, instance.settings),
        )


async def upload(request: Request) -> Response:
    user = require_importer(request)
    if request.method == "GET":
        return _form_page(request, Form())
    data = await read_form(request)
    try:
        form = Form.from_data(data)
        sent = data.get("file")
        content = await sent.read(MAX_FILE_BYTES + 1) if isinstance(sent, UploadFile) else b""
    finally:
        await data.close()
    if not content:
        return _form_page(request, form.fail(ValidationError({"file": lazy_gettext("Choose the export file.")})), 400)
    async with instance_of(request).sessions() as db:
        try:
            result = await _run(request, db, content, form, user)
        except ValidationError as error:
            await db.rollback()
            return _form_page(request, form.fail(error), 400)
        context = _preview_context(result)
        await db.rollback()  # a preview writes nothing; the file waits for the "import" button
        key = secrets.token_urlsafe(32)
        await db.execute(delete(MoveUpload).where(MoveUpload.created_at < utcnow() - UPLOAD_MAX_AGE))
        db.add(MoveUpload(key=key, user_id=user.id, content=content))
        await db.commit()
    return render(request, "moves/preview.html", {**context, "key": key, "form": form})


def _preview_context(result: ImportResult) -> dict[str, Any]:
    names = {f"link:{uuid}": link["name"] for uuid, link in result.move.details["anonymous_links"].items()}
    return {
        "name": result.association.name,
        "handle": result.association.handle,
        "pending": result.association.status.value == "pending",
        "tables": comparison(result.before, result.after, names),
        "created": result.created,
        "matched": result.matched,
        "warnings": result.warnings,
        "endpoint": result.move.origin_endpoint,
    }


async def confirm(request: Request) -> Response:
    user = require_importer(request)
    form = Form.from_data(await read_form(request))
    instance = instance_of(request)
    async with instance.sessions() as db:
        stored = await db.scalar(
            select(MoveUpload).where(MoveUpload.key == form.text("key"), MoveUpload.user_id == user.id)
        )
        if stored is None or stored.created_at < utcnow() - UPLOAD_MAX_AGE:
            error = ValidationError({"file": lazy_gettext("This preview has expired: please send the file again.")})
            return _form_page(request, form.fail(error), 400)
        content = stored.content
        try:
            result = await _run(request, db, content, form, user)
        except ValidationError as error:
            await db.rollback()
            return _form_page(request, form.fail(error), 400)
        await db.execute(delete(MoveUpload).where(MoveUpload.key == form.text("key")))
        await db.commit()
        move = result.move
        async with new_client() as http:
            await confirm_move(db, OriginClient(http, instance.settings), move, instance.settings.base_url)
        flash(request, _("The association %(name)s was imported.", name=result.association.name))
        return RedirectResponse(str(request.app.url_path_for("move", move_id=str(move.id))), status_code=303)


async def _visible_move(db: AsyncSession, user: User, move_id: int) -> tuple[AssociationMove, Association | None]:
    move = await db.get(AssociationMove, move_id)
    if move is None:
        raise NotFound(lazy_gettext("This move does not exist."))
    association = await db.get(Association, move.association_id) if move.association_id else None
    membership = await membership_of(db, user, association) if association is not None else None
    manager = (
        membership is not None
        and membership.status == MembershipStatus.ACTIVE
        and membership.role.allows("manage_association")
    )
    if not (user.is_admin or move.imported_by_id == user.id or manager):
        raise NotFound(lazy_gettext("This move does not exist."))
    return move, association


async def move_page(request: Request) -> Response:
    user = require_user(request)
    async with instance_of(request).sessions() as db:
        move, association = await _visible_move(db, user, request.path_params["move_id"])
        details = move.details or {}
        before = Figures.from_json(details.get("before", {}))
        after = await after_figures(db, association, move) if association is not None else Figures()
        names = {f"link:{uuid}": link["name"] for uuid, link in details.get("anonymous_links", {}).items()}
        context = {
            "move": move,
            "association": association,
            "tables": comparison(before, after, names),
            "set_aside": details.get("set_aside_activity_fields", []),
            "rounded": details.get("rounded_actions", []),
            "created": details.get("created_users", []),
        }
    return render(request, "moves/result.html", context)


async def move_list(request: Request) -> Response:
    user = require_user(request)
    if not user.is_admin:
        raise PermissionDenied(lazy_gettext("This page is for the instance's administrators."))
    async with instance_of(request).sessions() as db:
        rows = await db.execute(
            select(AssociationMove, Association)
            .outerjoin(Association, Association.id == AssociationMove.association_id)
            .order_by(AssociationMove.imported_at.desc())
            .limit(200)
        )
        moves = [(move, association) for move, association in rows]
    return render(request, "moves/list.html", {"moves": moves})


async def activation(request: Request) -> Response:
    instance = instance_of(request)
    token = request.path_params["token"]
    context: dict[str, Any] = {"min_password_length": MIN_PASSWORD_LENGTH}
    async with instance.sessions() as db:
        try:
            account = await activation_target(db, instance, token)
        except ValidationError as error:
            context = {"message": error.message, "resend": "password_reset"}
            return render(request, "accounts/link_invalid.html", context, 400)
        if request.method == "GET":
            return render(request, "accounts/reset_password.html", {**context, "account": account, "form": Form()})
        data = await read_form(request)
        form = Form.from_data(data)
        password, again = data.get("password"), data.get("password_confirmation")
        try:
            user = await activate(
                db,
                instance,
                token,
                password if isinstance(password, str) else "",
                again if isinstance(again, str) else "",
            )
        except ValidationError as error:
            await db.rollback()
            account = await activation_target(db, instance, token)
            page = {**context, "account": account, "form": form.fail(error)}
            return render(request, "accounts/reset_password.html", page, 400)
        await db.commit()
    log_in(request, user)
    flash(request, _("Your account is active. Welcome!"))
    return RedirectResponse("/", status_code=303)


routes = [
    Route("/moves", move_list, name="moves"),
    Route("/moves/import", upload, methods=["GET", "POST"], name="move_import"),
    Route("/moves/import/confirm", confirm, methods=["POST"], name="move_import_confirm"),
    Route("/moves/{move_id:int}", move_page, name="move"),
    Route("/moves/activate/{token}", activation, methods=["GET", "POST"], name="move_activate"),
]
