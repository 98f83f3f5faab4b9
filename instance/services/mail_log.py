"""The mail log: what the instance sent or kept, for its admins (the only place to read mail without SMTP)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from instance.errors import PermissionDenied
from instance.i18n import lazy_gettext
from instance.models import OutgoingMail, User

PAGE_SIZE = 50


async def recent_mail(db: AsyncSession, viewer: User, page: int = 1) -> tuple[Sequence[OutgoingMail], int]:
    """The newest mails first, one page of them, and the number of pages."""
    if not viewer.is_admin:
        raise PermissionDenied(lazy_gettext("This page is for the instance's administrators."))
    total = await db.scalar(select(func.count()).select_from(OutgoingMail)) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    rows = await db.scalars(
        select(OutgoingMail).order_by(OutgoingMail.id.desc()).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    )
    return list(rows), pages
