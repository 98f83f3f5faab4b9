"""Who calls the API: the owner of the personal access token in ``Authorization: Bearer <token>``.

The session cookie is never read here, so a page of another site cannot make a browser act on the API
(no CSRF question arises); and the HTML pages never read the header, so a token cannot post their forms.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from instance.errors import PermissionDenied, RateLimited
from instance.i18n import lazy_gettext
from instance.models import ApiToken, Association, TokenScope, User
from instance.ratelimit import RateLimiter
from instance.runtime import Instance
from instance.services import tokens
from web.api.errors import Unauthorized

WINDOW = 60  # seconds: ``api_rate_limit`` is per minute
FAILED_KEY = "api-failed:"  # refused tokens, counted per client address


def bearer(request: Request) -> str:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def limiter(request: Request) -> RateLimiter:
    """The app's limiter of API requests, made on first use (one per application)."""
    state = request.app.state
    found: RateLimiter | None = getattr(state, "api_limiter", None)
    if found is None:
        instance: Instance = state.instance
        found = RateLimiter(instance.settings.api_rate_limit, WINDOW)
        state.api_limiter = found
    return found


@dataclass(frozen=True)
class Caller:
    token: ApiToken
    user: User

    def require_scope(self, scope: TokenScope) -> None:
        if scope == TokenScope.WRITE and self.token.scope != TokenScope.WRITE:
            raise PermissionDenied(lazy_gettext("This token may only read: make a token that may write."))

    def require_account(self) -> None:
        """Refuse tokens limited to one association on what concerns the whole account."""
        if self.token.association_id is not None:
            raise PermissionDenied(lazy_gettext("This token is limited to one association."))

    def require_association(self, association: Association) -> None:
        if self.token.association_id is not None and self.token.association_id != association.id:
            raise PermissionDenied(lazy_gettext("This token is limited to another association."))


async def authenticate(request: Request, db: AsyncSession) -> Caller:
    """The caller, once the token is checked and the rate limit allows the request."""
    rate = limiter(request)
    address = FAILED_KEY + (request.client.host if request.client else "")
    wait = rate.retry_after(address)
    if wait:
        raise RateLimited(wait)
    secret = bearer(request)
    found = await tokens.authenticate(db, secret) if secret else None
    if found is None:
        rate.hit(address)
        raise Unauthorized(lazy_gettext("Give a valid access token: Authorization: Bearer <token>."))
    token, user = found
    key = f"api:{token.id}"
    wait = rate.retry_after(key)
    if wait:
        raise RateLimited(wait)
    rate.hit(key)
    return Caller(token, user)
