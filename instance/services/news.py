"""News notes: a manager publishes a short note; members and followers (here and on other servers) see it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from instance.errors import ValidationError
from instance.events import NewsPublished, publish
from instance.i18n import N_, lazy_gettext
from instance.models import Association, Membership, MembershipStatus, News, User
from instance.services.access import require_permission
from instance.services.notifications import notify

MAX_TEXT = 2000
SHOWN = 5


def clean_text(value: str) -> str:
    text = "\n".join(line.rstrip() for line in value.strip().splitlines())
    if not text:
        raise ValidationError({"text": lazy_gettext("Please write the news.")})
    if len(text) > MAX_TEXT:
        raise ValidationError({"text": lazy_gettext("The news can have at most 2000 characters.")})
    return text


async def publish_news(db: AsyncSession, user: User | None, association: Association, text: str) -> News:
    """A manager of the association publishes a note; its members here are told, and its followers elsewhere
    receive it through federation."""
    await require_permission(db, user, association, "manage_association")
    news = News(association_id=association.id, author_id=user.id if user else None, text=clean_text(text))
    db.add(news)
    await db.flush()
    await _tell_members(db, association, news, exclude=user.id if user else None)
    await publish(db, NewsPublished(news.id))
    return news


async def receive_news(
    db: AsyncSession, association: Association, ap_id: str, text: str, published: dt.datetime | None
) -> News | None:
    """A note of a remote association that volunteers here joined: kept once, and shown to them."""
    if await db.scalar(select(News.id).where(News.ap_id == ap_id)) is not None:
        return None
    news = News(association_id=association.id, text=text[:MAX_TEXT], ap_id=ap_id)
    if published is not None:
        news.created_at = published
    db.add(news)
    await db.flush()
    await _tell_members(db, association, news)
    return news


async def _tell_members(db: AsyncSession, association: Association, news: News, exclude: int | None = None) -> None:
    members = await db.scalars(
        select(Membership).where(
            Membership.association_id == association.id, Membership.status == MembershipStatus.ACTIVE
        )
    )
    for membership in members.unique().all():
        if membership.user_id == exclude:
            continue
        notify(
            db,
            membership.user,
            "news",
            N_("News from %(name)s: %(text)s"),
            f"/associations/{association.handle}",
            data={"name": association.name, "text": news.text[:200]},
        )


async def latest(db: AsyncSession, association: Association, limit: int = SHOWN) -> Sequence[News]:
    rows = await db.scalars(
        select(News)
        .where(News.association_id == association.id)
        .order_by(News.created_at.desc(), News.id.desc())
        .limit(limit)
    )
    return rows.all()
