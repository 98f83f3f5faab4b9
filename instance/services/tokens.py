"""Personal access tokens: made, listed and revoked by their owner, and checked on every API request.

A token is ``bvl_`` followed by 43 random URL-safe characters (256 bits). Only its SHA-256 digest is kept:
with that much entropy a slow hash adds nothing, and the lookup stays one indexed query.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from instance.errors import NotFound, ValidationError
from instance.i18n import lazy_gettext
from instance.models import ApiToken, Association, MembershipStatus, TokenScope, User, utcnow
from instance.services.membership import memberships_of_user

TOKEN_PREFIX = "bvl_"  # noqa: S105 (not a secret: the start of every token)
PREFIX_LENGTH = 12  # characters shown in the list, "bvl_" included
MAX_NAME = 100
MAX_TOKENS = 50  # live tokens per person
LAST_USED_PRECISION = dt.timedelta(minutes=1)  # ``last_used_at`` is written at most once a minute


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewToken:
    """A token just made: ``secret`` is shown to its owner once and never stored."""

    token: ApiToken
    secret: str


async def association_choices(db: AsyncSession, user: User) -> list[Association]:
    """The associations a token may be limited to: those the person is an active member of."""
    memberships = await memberships_of_user(db, user)
    return [m.association for m in memberships if m.status == MembershipStatus.ACTIVE]


async def create_token(db: AsyncSession, user: User, *, name: str, scope: str, association: str = "") -> NewToken:
    """Make a token for ``user``; ``association`` is the handle of the one association it is limited to."""
    errors: dict[str, object] = {}
    name = " ".join(name.split())
    if not name:
        errors["name"] = lazy_gettext("Please give the token a name, such as “Phone shortcut”.")
    elif len(name) > MAX_NAME:
        errors["name"] = lazy_gettext("The name can have at most 100 characters.")
    if scope not in set(TokenScope):
        errors["scope"] = lazy_gettext("Please choose what the token may do.")
    limited_to: Association | None = None
    if association.strip():
        choices = {a.handle: a for a in await association_choices(db, user)}
        limited_to = choices.get(association.strip().lower())
        if limited_to is None:
            errors["association"] = lazy_gettext("Please choose one of your associations, or none.")
    live = await live_tokens(db, user)
    if len(live) >= MAX_TOKENS:
        errors["name"] = lazy_gettext("You have too many tokens: revoke one you no longer use first.")
    if errors:
        raise ValidationError(errors)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name,
        scope=TokenScope(scope),
        association_id=limited_to.id if limited_to is not None else None,
        secret_hash=digest(secret),
        prefix=secret[:PREFIX_LENGTH],
    )
    db.add(token)
    await db.flush()
    return NewToken(token, secret)


async def live_tokens(db: AsyncSession, user: User) -> list[ApiToken]:
    """The person's tokens that still work, newest first."""
    rows = await db.scalars(
        select(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    )
    return list(rows)


async def revoke_token(db: AsyncSession, user: User, token_id: int) -> ApiToken:
    token = await db.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound(lazy_gettext("This token does not exist."))
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        await db.flush()
    return token


async def authenticate(db: AsyncSession, secret: str) -> tuple[ApiToken, User] | None:
    """The live token and its active owner for ``secret``, or None; records the use (once a minute at most)."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = await db.scalar(select(ApiToken).where(ApiToken.secret_hash == digest(secret)))
    if token is None or token.revoked_at is not None:
        return None
    user = await db.get(User, token.user_id)
    if user is None or not user.is_active or user.is_suspended:
        return None
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
        token.last_used_at = now
        await db.flush()
    return token, user
