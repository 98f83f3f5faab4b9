"""A person's own account: their page, profile, password, email address and deletion (``/me``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from instance import i18n
from instance.errors import NotFound, ValidationError
from instance.i18n import gettext as _
from instance.i18n import lazy_gettext
from instance.models import User
from instance.runtime import Instance
from instance.security import MIN_PASSWORD_LENGTH
from instance.services import account_settings
from web.auth import log_in, log_out, require_user
from web.csrf import read_form
from web.forms import Form
from web.templating import flash, render

PASSWORD_CONTEXT = {"min_password_length": MIN_PASSWORD_LENGTH}


def instance_of(request: Request) -> Instance:
    instance: Instance = request.app.state.instance
    return instance


def raw(data: FormData, name: str) -> str:
    """A field exactly as typed (passwords are not stripped)."""
    value = data.get(name)
    return value if isinstance(value, str) else ""


def go(request: Request, name: str) -> RedirectResponse:
    return RedirectResponse(str(request.app.url_path_for(name)), status_code=303)


async def fetch_me(db: AsyncSession, request: Request) -> User:
    """The logged-in person, loaded in ``db`` so that it can be changed."""
    user = await db.get(User, require_user(request).id)
    if user is None:
        raise NotFound(lazy_gettext("This account no longer exists."))
    return user


async def profile(request: Request) -> Response:
    require_user(request)
    async with instance_of(request).sessions() as db:
        me = await fetch_me(db, request)
        memberships = await account_settings.memberships_of(db, me)
    return render(request, "accounts/profile.html", {"me": me, "memberships": memberships})


async def edit(request: Request) -> Response:
    me = require_user(request)
    context = {"languages": list(i18n.LANGUAGES.items())}
    if request.method == "GET":
        values = {"display_name": me.display_name, "pseudonym": me.pseudonym, "language": me.language}
        return render(request, "accounts/edit.html", {"form": Form(values), **context})
    form = Form.from_data(await read_form(request))
    async with instance_of(request).sessions() as db:
        try:
            await account_settings.update_profile(
                db,
                await fetch_me(db, request),
                display_name=form.text("display_name"),
                pseudonym=form.text("pseudonym"),
                language=form.text("language"),
            )
        except ValidationError as error:
            return render(request, "accounts/edit.html", {"form": form.fail(error), **context}, 400)
        await db.commit()
    if form.text("language"):
        request.session["language"] = form.text("language")
    flash(request, _("Your profile is saved."))
    return go(request, "profile")


async def password(request: Request) -> Response:
    require_user(request)
    if request.method == "GET":
        return render(request, "accounts/password.html", {"form": Form(), **PASSWORD_CONTEXT})
    data = await read_form(request)
    async with instance_of(request).sessions() as db:
        me = await fetch_me(db, request)
        try:
            await account_settings.change_password(
                db,
                me,
                current=raw(data, "password"),
                password=raw(data, "new_password"),
                confirmation=raw(data, "new_password_confirmation"),
            )
        except ValidationError as error:
            return render(request, "accounts/password.html", {"form": Form().fail(error), **PASSWORD_CONTEXT}, 400)
        await db.commit()
    log_in(request, me)  # this session goes on; the others end with the old password
    flash(request, _("Your password is changed. Your other sessions are closed."))
    return go(request, "profile")


async def email(request: Request) -> Response:
    require_user(request)
    if request.method == "GET":
        return render(request, "accounts/email.html", {"form": Form()})
    data = await read_form(request)
    form = Form.from_data(data)
    instance = instance_of(request)
    async with instance.sessions() as db:
        try:
            address = await account_settings.request_email_change(
                db, instance, await fetch_me(db, request), password=raw(data, "password"), email=form.text("email")
            )
        except ValidationError as error:
            return render(request, "accounts/email.html", {"form": form.fail(error)}, 400)
        await db.commit()
    flash(request, _("We sent a link to %(email)s: follow it to start using this address.", email=address), "info")
    return go(request, "profile")


async def email_confirm(request: Request) -> Response:
    token = request.path_params["token"]
    instance = instance_of(request)
    async with instance.sessions() as db:
        try:
            if request.method == "GET":
                account, address = await account_settings.email_change_target(db, instance, token)
                return render(request, "accounts/email_confirm.html", {"account": account, "address": address})
            await read_form(request)
            await account_settings.confirm_email_change(db, instance, token)
        except ValidationError as error:
            context = {"message": str(error.message), "resend": ""}
            return render(request, "accounts/link_invalid.html", context, 400)
        await db.commit()
    flash(request, _("Your email address is changed."))
    return go(request, "profile" if request.state.user is not None else "login")


async def delete(request: Request) -> Response:
    require_user(request)
    if request.method == "GET":
        return render(request, "accounts/delete.html", {"form": Form({"entries": "keep"})})
    data = await read_form(request)
    async with instance_of(request).sessions() as db:
        try:
            await account_settings.delete_account(
                db, await fetch_me(db, request), raw(data, "password"), raw(data, "entries") or "keep"
            )
        except ValidationError as error:
            form = Form({"entries": raw(data, "entries") or "keep"})
            return render(request, "accounts/delete.html", {"form": form.fail(error)}, 400)
        await db.commit()
    log_out(request)
    flash(request, _("Your account is deleted. Thank you for the time you gave."))
    return go(request, "home")


routes = [
    Route("/me", profile, name="profile"),
    Route("/me/edit", edit, methods=["GET", "POST"], name="profile_edit"),
    Route("/me/password", password, methods=["GET", "POST"], name="password_change"),
    Route("/me/email", email, methods=["GET", "POST"], name="email_change"),
    Route("/me/email/{token}", email_confirm, methods=["GET", "POST"], name="email_confirm"),
    Route("/me/delete", delete, methods=["GET", "POST"], name="account_delete"),
]
