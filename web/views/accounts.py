"""Accounts: log in and out, register, confirm by mail, reset a forgotten password.

The pages of a logged-in person about their own account live in ``accounts_profile``; their routes are
added to this module's ``routes``.
"""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from instance import i18n
from instance.errors import PermissionDenied, RateLimited, ValidationError
from instance.i18n import gettext as _
from instance.i18n import lazy_gettext
from instance.runtime import Instance
from instance.security import MIN_PASSWORD_LENGTH
from instance.services import accounts
from web.auth import end_session, log_in, log_out
from web.csrf import read_form
from web.forms import Form
from web.templating import flash, render, site_settings
from web.views.accounts_profile import routes as profile_routes
from web.views.home import safe_next

PASSWORD_CONTEXT = {"min_password_length": MIN_PASSWORD_LENGTH}


def instance_of(request: Request) -> Instance:
    instance: Instance = request.app.state.instance
    return instance


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def raw(data: FormData, name: str) -> str:
    """A field exactly as typed (passwords are not stripped)."""
    value = data.get(name)
    return value if isinstance(value, str) else ""


def check_rate(request: Request, *keys: str) -> None:
    wait = instance_of(request).login_limiter.retry_after(*keys)
    if wait:
        raise RateLimited(wait, lazy_gettext("Too many attempts. Please wait a few minutes and try again."))


def language_options() -> list[tuple[str, str]]:
    return list(i18n.LANGUAGES.items())


def redirect(request: Request, name: str, **params: str) -> RedirectResponse:
    return RedirectResponse(str(request.app.url_path_for(name, **params)), status_code=303)


# -- login and logout --------------------------------------------------------------------------------------


async def login(request: Request) -> Response:
    if request.method == "GET":
        target = safe_next(request.query_params.get("next"), "")
        if request.state.user is not None:
            return RedirectResponse(target or "/", status_code=303)
        return render(request, "accounts/login.html", {"form": Form({"next": target}), "unconfirmed": False})
    data = await read_form(request)
    form = Form.from_data(data)
    email = accounts.normalise_email(form.text("email"))
    keys = (f"login-ip:{client_ip(request)}", f"login-email:{email}")
    check_rate(request, *keys)
    limiter = instance_of(request).login_limiter
    async with instance_of(request).sessions() as db:
        try:
            user = await accounts.authenticate(db, email, raw(data, "password"))
        except accounts.AccountNotConfirmed as error:
            context = {"form": form.fail(error), "unconfirmed": True}
            return render(request, "accounts/login.html", context, 400)
        except ValidationError as error:
            limiter.hit(*keys)
            return render(request, "accounts/login.html", {"form": form.fail(error), "unconfirmed": False}, 400)
        await db.commit()
    limiter.reset(keys[1])
    log_in(request, user)
    return RedirectResponse(safe_next(form.text("next")), status_code=303)


async def logout(request: Request) -> Response:
    await read_form(request)
    await end_session(request)
    flash(request, _("You are logged out."), "info")
    return redirect(request, "home")


# -- registration and confirmation -------------------------------------------------------------------------


def registration_closed(request: Request) -> bool:
    return site_settings(request).user_registration == "closed"


def render_register(request: Request, form: Form, status_code: int = 200) -> Response:
    context = {
        "form": form,
        "languages": language_options(),
        "closed": registration_closed(request),
        "min_password_length": MIN_PASSWORD_LENGTH,
    }
    return render(request, "accounts/register.html", context, status_code)


async def register(request: Request) -> Response:
    if request.method == "GET":
        return render_register(request, Form({"language": i18n.get_language()}))
    if registration_closed(request):
        raise PermissionDenied(lazy_gettext("This instance does not accept new accounts."))
    data = await read_form(request)
    form = Form.from_data(data)
    instance = instance_of(request)
    async with instance.sessions() as db:
        try:
            user = await accounts.register(
                db,
                instance,
                email=form.text("email"),
                password=raw(data, "password"),
                password_confirmation=raw(data, "password_confirmation"),
                handle=form.text("handle"),
                display_name=form.text("display_name"),
                pseudonym=form.text("pseudonym"),
                language=form.text("language"),
            )
        except ValidationError as error:
            return render_register(request, form.fail(error), 400)
        await db.commit()
    flash(request, _("Welcome! We sent a link to %(email)s: follow it to confirm your account.", email=user.email))
    return redirect(request, "login")


def link_invalid(request: Request, error: ValidationError, resend: str) -> Response:
    context = {"message": str(error.message), "resend": resend}
    return render(request, "accounts/link_invalid.html", context, 400)


async def confirm(request: Request) -> Response:
    token = request.path_params["token"]
    instance = instance_of(request)
    async with instance.sessions() as db:
        try:
            if request.method == "GET":
                user = await accounts.confirmation_target(db, instance, token)
                return render(request, "accounts/confirm.html", {"account": user})
            await read_form(request)
            user = await accounts.confirm_account(db, instance, token)
        except ValidationError as error:
            return link_invalid(request, error, "confirm_resend")
        await db.commit()
    log_in(request, user)
    flash(request, _("Your account is confirmed. Welcome!"))
    return redirect(request, "profile")


async def rate_limited_email(request: Request) -> str:
    """The address of a request that sends a mail (resend, reset), counted against the mail rate limit."""
    form = Form.from_data(await read_form(request))
    email = accounts.normalise_email(form.text("email"))
    keys = (f"mail-ip:{client_ip(request)}", f"mail-email:{email}")
    check_rate(request, *keys)
    instance_of(request).login_limiter.hit(*keys)
    return email


async def confirm_resend(request: Request) -> Response:
    if request.method == "GET":
        form = Form({"email": request.query_params.get("email", "")})
        return render(request, "accounts/resend.html", {"form": form})
    email = await rate_limited_email(request)
    instance = instance_of(request)
    async with instance.sessions() as db:
        await accounts.resend_confirmation(db, instance, email)
        await db.commit()
    flash(request, _("If an account waits for confirmation with this address, we sent it a new link."), "info")
    return redirect(request, "login")


# -- password reset ----------------------------------------------------------------------------------------


async def reset_request(request: Request) -> Response:
    if request.method == "GET":
        return render(request, "accounts/reset_request.html", {"form": Form()})
    email = await rate_limited_email(request)
    instance = instance_of(request)
    async with instance.sessions() as db:
        await accounts.request_password_reset(db, instance, email)
        await db.commit()
    flash(request, _("If an account uses this address, we sent it a link to choose a new password."), "info")
    return redirect(request, "login")


async def reset_password(request: Request) -> Response:
    token = request.path_params["token"]
    instance = instance_of(request)
    async with instance.sessions() as db:
        try:
            if request.method == "GET":
                user = await accounts.reset_target(db, instance, token)
                return render(
                    request, "accounts/reset_password.html", {"form": Form(), "account": user, **PASSWORD_CONTEXT}
                )
            data = await read_form(request)
            user = await accounts.reset_target(db, instance, token)
            try:
                await accounts.reset_password(
                    db, instance, token, raw(data, "password"), raw(data, "password_confirmation")
                )
            except ValidationError as error:
                if not error.fields:
                    raise
                context = {"form": Form().fail(error), "account": user, **PASSWORD_CONTEXT}
                return render(request, "accounts/reset_password.html", context, 400)
        except ValidationError as error:
            return link_invalid(request, error, "password_reset")
        await db.commit()
    if request.state.user is not None:
        log_out(request)
    flash(request, _("Your password is changed. You can log in with it now."))
    return redirect(request, "login")


routes = [
    Route("/login", login, methods=["GET", "POST"], name="login"),
    Route("/logout", logout, methods=["POST"], name="logout"),
    Route("/register", register, methods=["GET", "POST"], name="register"),
    Route("/confirm/resend", confirm_resend, methods=["GET", "POST"], name="confirm_resend"),
    Route("/confirm/{token}", confirm, methods=["GET", "POST"], name="confirm"),
    Route("/password/reset", reset_request, methods=["GET", "POST"], name="password_reset"),
    Route("/password/reset/{token}", reset_password, methods=["GET", "POST"], name="password_reset_confirm"),
    *profile_routes,
]
