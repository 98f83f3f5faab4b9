"""The delivery queue as the instance's admins see it: counts by state, the pending and failed deliveries, the
unavailable domains, and "retry now" for one delivery or for every delivery of a domain.

Retrying puts a delivery back in the queue, due now, with a fresh count of attempts; retrying a domain also lifts
its "unavailable" mark, so the next attempt is made at once (a failure marks it unavailable again, since it has
been failing for over a week). A delivery to a domain that is refused (blocked, not allowed) fails again at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from federation.admin import PAGE_SIZE, clean_domain
from instance.errors import NotFound, ValidationError
from instance.i18n import lazy_gettext
from instance.models import Delivery, DeliveryState, FederatedDomain, User, utcnow
from instance.services.admin_users import require_admin
from instance.settings import Settings


@dataclass(frozen=True)
class QueueCounts:
    pending: int
    sent: int
    failed: int
    domains: int  # known domains
    unavailable: int  # domains marked unavailable


@dataclass(frozen=True)
class DeliveriesPage:
    deliveries: list[Delivery]
    page: int
    pages: int
    total: int


async def queue_counts(db: AsyncSession, admin: User) -> QueueCounts:
    """Deliveries by state and known domains (the dashboard and the queue page show them)."""
    require_admin(admin)
    grouped = await db.execute(select(Delivery.state, func.count(Delivery.id)).group_by(Delivery.state))
    by_state = {state: count for state, count in grouped.all()}
    domains = int(await db.scalar(select(func.count(FederatedDomain.id))) or 0)
    unavailable = int(
        await db.scalar(select(func.count(FederatedDomain.id)).where(FederatedDomain.unavailable_since.is_not(None)))
        or 0
    )
    return QueueCounts(
        pending=by_state.get(DeliveryState.PENDING, 0),
        sent=by_state.get(DeliveryState.SENT, 0),
        failed=by_state.get(DeliveryState.FAILED, 0),
        domains=domains,
        unavailable=unavailable,
    )


async def deliveries(
    db: AsyncSession, admin: User, state: DeliveryState, domain: str = "", page: int = 1
) -> DeliveriesPage:
    """Pending deliveries by next attempt, or failed ones newest first; of one domain when ``domain`` is given."""
    require_admin(admin)
    condition = Delivery.state == state
    if domain:
        condition &= Delivery.domain == domain.strip().lower()
    total = int(await db.scalar(select(func.count(Delivery.id)).where(condition)) or 0)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    order = (Delivery.next_attempt_at, Delivery.id) if state == DeliveryState.PENDING else (Delivery.id.desc(),)
    query = select(Delivery).where(condition).order_by(*order).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    return DeliveriesPage(list(await db.scalars(query)), page, pages, total)


async def unavailable_domains(db: AsyncSession, admin: User) -> list[FederatedDomain]:
    """The domains marked unavailable (failing for a week), the longest-dead first."""
    require_admin(admin)
    query = (
        select(FederatedDomain)
        .where(FederatedDomain.unavailable_since.is_not(None))
        .order_by(FederatedDomain.unavailable_since, FederatedDomain.domain)
    )
    return list(await db.scalars(query))


async def retry_delivery(db: AsyncSession, admin: User, delivery_id: int) -> Delivery:
    """Put one pending or failed delivery back in the queue, due now."""
    require_admin(admin)
    row = await db.get(Delivery, delivery_id)
    if row is None:
        raise NotFound(lazy_gettext("This delivery does not exist."))
    if row.state == DeliveryState.SENT:
        raise ValidationError(message=lazy_gettext("This delivery was already sent."))
    row.state, row.attempts, row.next_attempt_at, row.locked_until = DeliveryState.PENDING, 0, utcnow(), None
    await db.flush()
    return row


async def retry_domain(db: AsyncSession, settings: Settings, admin: User, domain: str) -> int:
    """Put every pending and failed delivery of ``domain`` back in the queue, due now, and lift its unavailable
    mark; return how many deliveries wait."""
    require_admin(admin)
    domain = clean_domain(settings, domain)
    row = await db.scalar(select(FederatedDomain).where(FederatedDomain.domain == domain))
    if row is not None:
        row.unavailable_since = None
    result = await db.execute(
        update(Delivery)
        .where(Delivery.domain == domain, Delivery.state != DeliveryState.SENT)
        .values(state=DeliveryState.PENDING, attempts=0, next_attempt_at=utcnow(), locked_until=None)
        .execution_options(synchronize_session=False)
    )
    await db.flush()
    return int(getattr(result, "rowcount", 0) or 0)
