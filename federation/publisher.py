"""The domain's events turned into activities, queued in the transaction that changed the domain.

:class:`Publisher` is installed on the instance's session factory by ``Federation`` (``instance.events``):
the services stay unaware of ActivityPub, and an activity is queued if and only if the change commits.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from federation import departures, entry_exchange, follows
from federation import news as federation_news
from federation.remote import known_actor
from instance.events import (
    AccountDeleted,
    AssociationChanged,
    EntryChanged,
    EntryDecided,
    Event,
    MembershipDecided,
    MembershipLeft,
    MembershipRequested,
    NewsPublished,
)
from instance.models import Association, Membership, News, TimeEntry, User
from instance.settings import Settings


class Publisher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def __call__(self, db: AsyncSession, event: Event) -> None:
        settings = self.settings
        match event:
            case AssociationChanged(association_id=association_id):
                association = await db.get(Association, association_id)
                if association is not None:
                    await follows.announce_profile(db, settings, association)
            case AccountDeleted(user_id=user_id, withdraw=withdraw):
                user = await db.get(User, user_id)
                if user is not None:
                    await departures.announce_deletion(db, settings, user, withdraw)
            case MembershipRequested(membership_id=membership_id):
                membership = await db.get(Membership, membership_id)
                if membership is None:
                    return
                association = await db.get(Association, membership.association_id)
                user = await db.get(User, membership.user_id)
                target = await known_actor(db, association.actor_uri or "") if association else None
                if user is not None and target is not None:
                    await follows.follow_remote(db, settings, user, target)
            case MembershipLeft(association_id=association_id, user_id=user_id):
                association, user = await db.get(Association, association_id), await db.get(User, user_id)
                if association is not None and user is not None and association.actor_uri:
                    await follows.unfollow_remote(db, settings, user, association.actor_uri)
            case MembershipDecided(association_id=association_id, user_id=user_id, accepted=accepted):
                association, user = await db.get(Association, association_id), await db.get(User, user_id)
                if association is not None and user is not None:
                    await follows.answer_member(db, settings, association, user, accepted)
            case EntryChanged(entry_id=entry_id, kind=kind):
                entry = await db.get(TimeEntry, entry_id)
                if entry is not None:
                    await entry_exchange.send_entry(db, settings, entry, kind)
            case NewsPublished(news_id=news_id):
                news = await db.get(News, news_id)
                if news is not None:
                    await federation_news.send_news(db, settings, news)
            case EntryDecided(entry_id=entry_id):
                entry = await db.get(TimeEntry, entry_id)
                if entry is not None:
                    await entry_exchange.send_decision(db, settings, entry)
