"""Sample data for the demo: people, associations with their catalog, memberships and a year of entries."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from instance.models import (
    Association,
    Category,
    EntryStatus,
    Level,
    Membership,
    MembershipStatus,
    Project,
    Role,
    TimeEntry,
    User,
)
from instance.services.accounts import create_user
from instance.services.associations import create_association
from instance.settings import Settings

DEMO_PASSWORD = "demo-benevalibre"  # noqa: S105 (published on purpose: these are demo accounts)


@dataclass(frozen=True)
class DemoSet:
    """The people and associations of one demo instance."""

    people: tuple[tuple[str, str, str, bool, str], ...]  # email, handle, name, admin, what they are
    # handle, name, owner handle, moderate membership, moderate entries, description
    associations: tuple[tuple[str, str, str, bool, bool, str], ...]
    projects: dict[str, list[str]]
    levels: dict[str, list[tuple[str, str]]]
    member: str  # a volunteer in every association
    applicant: str | None = None  # asks to join the associations that moderate membership


NORD = DemoSet(
    people=(
        ("alix@demo.test", "alix", "Alix Admin", True, "instance admin"),
        ("camille@demo.test", "camille", "Camille Durand", False, "manager of Les Jardins partagés"),
        ("karim@demo.test", "karim", "Karim Haddad", False, "manager of La Boussole (moderated)"),
        ("lea@demo.test", "lea", "Léa Martin", False, "volunteer in both associations"),
        ("tom@demo.test", "tom", "Tom Bernard", False, "volunteer, with a pending membership"),
    ),
    associations=(
        (
            "jardins",
            "Les Jardins partagés",
            "camille",
            False,
            False,
            "Jardin partagé de quartier : potager, compost et ateliers pour les écoles.",
        ),
        (
            "boussole",
            "La Boussole",
            "karim",
            True,
            True,
            "Accueil et accompagnement de personnes exilées : permanences, cours de français, sorties.",
        ),
    ),
    projects={"jardins": ["Potager pédagogique", "Fête des récoltes"], "boussole": ["Cours de français"]},
    levels={"jardins": [("Bénévole", "11.88"), ("Encadrant·e", "16.00")], "boussole": [("Intervenant·e", "14.50")]},
    member="lea",
    applicant="tom",
)

SUD = DemoSet(
    people=(
        ("sofia@sud.demo.test", "sofia", "Sofia Moreau", True, "instance admin, manager of Entraide Sud"),
        ("nina@sud.demo.test", "nina", "Nina Petit", False, "volunteer in Entraide Sud"),
    ),
    associations=(
        (
            "entraide",
            "Entraide Sud",
            "sofia",
            False,
            True,
            "Épicerie solidaire : collectes, distributions du samedi et aide aux démarches.",
        ),
    ),
    projects={"entraide": ["Distribution du samedi", "Collecte de printemps"]},
    levels={"entraide": [("Bénévole", "11.88")]},
    member="nina",
)

TITLES = ["Désherbage", "Permanence d'accueil", "Réunion du bureau", "Atelier compost", "Cours du mardi", "Tri"]


async def seed_demo(db: AsyncSession, settings: Settings, demo: DemoSet = NORD) -> list[tuple[str, str]]:
    """Fill an empty demo database (does nothing when the demo people exist); return (email, role) pairs."""
    logins = [(email, what) for email, _h, _n, _a, what in demo.people]
    if await db.scalar(select(User.id).where(User.email == demo.people[0][0])) is not None:
        return logins
    users: dict[str, User] = {}
    for email, handle, name, admin, _what in demo.people:
        users[handle] = await create_user(
            db, email=email, password=DEMO_PASSWORD, handle=handle, display_name=name, active=True, admin=admin
        )
    rng = random.Random(2026)  # noqa: S311 (sample data, not secrets)
    today = dt.date.today()
    for handle, name, owner, moderate_membership, moderate_entries, description in demo.associations:
        association = await create_association(
            db,
            settings,
            users[owner],
            handle=handle,
            name=name,
            description=description,
            moderate_membership=moderate_membership,
            moderate_entries=moderate_entries,
            approved=True,
        )
        await _seed_catalog(db, association, demo)
        volunteer_role = await db.scalar(
            select(Role).where(Role.association_id == association.id, Role.is_default.is_(True))
        )
        assert volunteer_role is not None
        db.add(
            Membership(
                association_id=association.id,
                user_id=users[demo.member].id,
                role_id=volunteer_role.id,
                status=MembershipStatus.ACTIVE,
            )
        )
        if moderate_membership and demo.applicant:
            db.add(
                Membership(
                    association_id=association.id,
                    user_id=users[demo.applicant].id,
                    role_id=volunteer_role.id,
                    status=MembershipStatus.PENDING,
                    message="Je peux aider le samedi.",
                )
            )
        await db.flush()
        await _seed_entries(db, association, [users[owner], users[demo.member]], rng, today)
    return logins


async def _seed_catalog(db: AsyncSession, association: Association, demo: DemoSet) -> None:
    for project in demo.projects[association.handle]:
        db.add(Project(association_id=association.id, name=project))
    for level, rate in demo.levels[association.handle]:
        db.add(Level(association_id=association.id, name=level, hourly_rate=Decimal(rate)))
    await db.flush()


async def _seed_entries(
    db: AsyncSession, association: Association, people: list[User], rng: random.Random, today: dt.date
) -> None:
    categories = list(await db.scalars(select(Category).where(Category.association_id == association.id)))
    levels = list(await db.scalars(select(Level).where(Level.association_id == association.id)))
    projects = list(await db.scalars(select(Project).where(Project.association_id == association.id)))
    statuses = [EntryStatus.APPROVED] * 6 + [EntryStatus.PENDING, EntryStatus.REJECTED]
    for person in people:
        for _index in range(24):
            status = rng.choice(statuses) if association.moderate_entries else EntryStatus.APPROVED
            db.add(
                TimeEntry(
                    association_id=association.id,
                    user_id=person.id,
                    category_id=rng.choice(categories[:6]).id,
                    level_id=rng.choice(levels).id if levels and rng.random() < 0.8 else None,
                    project_id=rng.choice(projects).id if projects and rng.random() < 0.6 else None,
                    start_date=today - dt.timedelta(days=rng.randint(0, 330)),
                    duration_minutes=rng.choice([30, 60, 90, 120, 150, 180, 210, 240]),
                    distance_km=Decimal(rng.choice([0, 0, 0, 3, 12, 25])),
                    title=rng.choice(TITLES),
                    status=status,
                    rejection_reason="Doublon avec une autre saisie." if status == EntryStatus.REJECTED else "",
                )
            )
    await db.flush()
