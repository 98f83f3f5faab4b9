"""The world of the authorization matrix (``test_authorization_matrix``): the people of every role, logged in in
their own browser and holding an API token, and the objects every route of the app can be pointed at.

Objects that an allowed person's request changes or removes (a membership to approve, an entry to withdraw, an
account to delete...) each get their own copy here, so that the matrix can run every route once for every role
without one case changing what a later one sees.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette

from federation.mirrors import association_for
from instance.models import (
    Announcement,
    AnonymousLink,
    Association,
    AssociationLogo,
    AssociationMove,
    Audience,
    Base,
    Category,
    Flag,
    Handle,
    Level,
    Membership,
    MembershipStatus,
    News,
    Project,
    RemoteActor,
    Role,
    TimeEntry,
    User,
    utcnow,
)
from instance.runtime import Instance
from instance.security import hash_password
from instance.services import tokens
from instance.services.associations import create_association
from instance.services.entries import today
from instance.services.health import heartbeat_writer
from tests.conftest import PASSWORD, log_in, make_client

ANONYMOUS = "anonymous"
VOLUNTEER = "volunteer"  # an account, member of nothing
MEMBER = "member"  # a plain member of association A (default role), author of its entries
MANAGER = "manager"  # the manager of A (the role that manages the association)
OTHER_MANAGER = "other_manager"  # the manager of another association, B
ADMIN = "admin"  # an instance administrator, member of nothing
SUSPENDED = "suspended"  # a manager of A, logged in and with a token, then suspended by the admin
ROLES = (ANONYMOUS, VOLUNTEER, MEMBER, MANAGER, OTHER_MANAGER, ADMIN, SUSPENDED)

A_HANDLE = "alpha"
B_HANDLE = "beta"
JOIN_WEB, JOIN_API = "joinweb", "joinapi"  # associations nobody of the roles belongs to
LEAVE_WEB, LEAVE_API = "leaveweb", "leaveapi"  # associations the member and the manager of A also belong to
PENDING_HANDLE = "waiting"  # an association waiting for the admin's approval
HIDDEN_HANDLE = "hushed"  # a hidden association the member belongs to
REMOTE_ACTOR = "https://b.test/associations/remote"
MANAGER_ROLE = "Dirigeant"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
# a 1x1 transparent PNG, the logo of A and of the hidden association
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)


@cache
def password_hash() -> str:
    """One hash for every account of the world (hashing is slow on purpose; the salt does not matter here)."""
    return hash_password(PASSWORD)


@dataclass
class Person:
    """One role: a browser (its cookies as they were right after logging in, and the session's CSRF token) and
    a write token for the API. The anonymous visitor has a browser session but no account and no token."""

    name: str
    cookies: dict[str, str] = field(default_factory=dict)
    csrf: str = ""
    token: str = ""


@dataclass
class World:
    users: dict[str, int] = field(default_factory=dict)  # role or victim name -> user id
    handles: dict[str, str] = field(default_factory=dict)  # user name -> handle
    associations: dict[str, int] = field(default_factory=dict)  # handle -> id
    category: int = 0
    b_category: int = 0  # a category of B
    hidden: dict[str, int] = field(default_factory=dict)  # the catalog and news of the hidden association
    level: int = 0
    project: int = 0
    entries: dict[str, int] = field(default_factory=dict)
    memberships: dict[str, int] = field(default_factory=dict)
    spare_role: int = 0
    news: int = 0
    link_token: str = ""
    links: dict[str, int] = field(default_factory=dict)
    announcement: int = 0
    flag: int = 0
    remote_person: int = 0  # a person of another server, for the admins' suspensions
    spare_token: int = 0  # a token of the member's, to revoke
    manager_tokens: dict[str, str] = field(default_factory=dict)
    move: int = 0
    people: dict[str, Person] = field(default_factory=dict)


async def _user(db: AsyncSession, world: World, name: str, *, admin: bool = False) -> User:
    handle = name.replace("_", "-")
    db.add(Handle(handle=handle, kind="user"))
    user = User(
        email=f"{handle}@example.org",
        handle=handle,
        display_name=name.replace("_", " ").title(),
        password_hash=password_hash(),
        language="en",
        is_active=True,
        is_admin=admin,
        confirmed_at=utcnow(),
    )
    db.add(user)
    await db.flush()
    world.users[name] = user.id
    world.handles[name] = handle
    return user


async def _role(db: AsyncSession, association: Association, name: str | None = None) -> Role:
    query = select(Role).where(Role.association_id == association.id)
    query = query.where(Role.name == name) if name else query.where(Role.is_default.is_(True))
    role = await db.scalar(query)
    assert role is not None, (association.handle, name)
    return role


async def _join(
    db: AsyncSession,
    association: Association,
    user: User,
    role: str | None = None,
    status: MembershipStatus = MembershipStatus.ACTIVE,
) -> int:
    membership = Membership(
        association_id=association.id,
        user_id=user.id,
        role_id=(await _role(db, association, role)).id,
        status=status,
    )
    db.add(membership)
    await db.flush()
    return membership.id


async def _association(
    db: AsyncSession, instance: Instance, world: World, owner: User, handle: str, **options: Any
) -> Association:
    options.setdefault("approved", True)
    created = await create_association(db, instance.settings, owner, handle=handle, name=handle.title(), **options)
    world.associations[handle] = created.id
    return created


async def _seed_rows(instance: Instance) -> World:
    world = World()
    async with instance.sessions() as db:
        people = {name: await _user(db, world, name, admin=name == ADMIN) for name in ROLES if name != ANONYMOUS}
        victims = {
            name: await _user(db, world, name)
            for name in ("applicant", "applicant2", "leaver", "doomed", "target", "founder")
        }
        alpha = await _association(db, instance, world, people[MANAGER], A_HANDLE)
        beta = await _association(db, instance, world, people[OTHER_MANAGER], B_HANDLE)
        b_category = await db.scalar(select(Category.id).where(Category.association_id == beta.id).limit(1))
        assert b_category is not None
        world.b_category = b_category
        for handle in (JOIN_WEB, JOIN_API, LEAVE_WEB, LEAVE_API):
            # moderated: joining leaves a request, so those who join remain members of nothing
            club = await _association(db, instance, world, victims["founder"], handle, moderate_membership=True)
            if handle in (LEAVE_WEB, LEAVE_API):
                for name in (MEMBER, MANAGER, SUSPENDED):
                    await _join(db, club, people[name])
        await _association(db, instance, world, victims["founder"], PENDING_HANDLE, approved=False)
        hushed = await _association(db, instance, world, victims["founder"], HIDDEN_HANDLE, hidden=True)
        await _join(db, hushed, people[MEMBER])
        hidden_category = await db.scalar(select(Category.id).where(Category.association_id == hushed.id).limit(1))
        assert hidden_category is not None
        hidden_rows: dict[str, Level | Project | News] = {
            "level": Level(association_id=hushed.id, name="Hidden level", hourly_rate=Decimal("12")),
            "project": Project(association_id=hushed.id, name="Hidden project"),
            "news": News(association_id=hushed.id, text="Only for us."),
        }
        db.add_all(hidden_rows.values())
        db.add(AssociationLogo(association_id=hushed.id, content_type="image/png", data=PNG))
        hushed.has_logo = True
        await db.flush()
        world.hidden = {"category": hidden_category, **{name: row.id for name, row in hidden_rows.items()}}

        world.memberships[MEMBER] = await _join(db, alpha, people[MEMBER])
        await _join(db, alpha, people[SUSPENDED], MANAGER_ROLE)
        for name, status in (("applicant", "pending"), ("applicant2", "pending"), ("leaver", "active")):
            world.memberships[name] = await _join(db, alpha, victims[name], status=MembershipStatus(status))

        category = await db.scalar(
            select(Category).where(Category.association_id == alpha.id).order_by(Category.id).limit(1)
        )
        assert category is not None
        level = Level(association_id=alpha.id, name="Skilled", hourly_rate=Decimal("20"))
        project = Project(association_id=alpha.id, name="Winter campaign")
        spare = Role(association_id=alpha.id, name="Spare")
        db.add_all([level, project, spare])
        await db.flush()
        world.category, world.level, world.project, world.spare_role = category.id, level.id, project.id, spare.id

        def entry(status: str = "pending", **fields: Any) -> TimeEntry:
            values: dict[str, Any] = {
                "association_id": alpha.id,
                "user_id": people[MEMBER].id,
                "category_id": category.id,
                "start_date": today() - dt.timedelta(days=3),
                "duration_minutes": 90,
                "title": "Sorting donations",
                "status": status,
            }
            values.update(fields)
            return TimeEntry(**values)

        made = {
            "pending_entry": entry(),
            "approved_entry": entry("approved", level_id=level.id, project_id=project.id, decided_at=utcnow()),
            "web_withdraw": entry(),
            "web_decide": entry(),
            "api_withdraw": entry(),
            "api_approve": entry(),
            "api_reject": entry(),
        }
        db.add_all(made.values())

        # an association of another instance the member joined, and an entry the member sent it
        actor = RemoteActor(
            uri=REMOTE_ACTOR,
            domain="b.test",
            actor_type="Group",
            inbox=REMOTE_ACTOR + "/inbox",
            preferred_username="remote",
            name="Remote",
        )
        db.add(actor)
        await db.flush()
        spammer = RemoteActor(
            uri="https://b.test/users/spammer", domain="b.test", inbox="https://b.test/users/spammer/inbox"
        )
        db.add(spammer)
        await db.flush()
        world.remote_person = spammer.id
        remote = await association_for(db, actor)
        remote_category = Category(association_id=remote.id, name="Remote work", common_category="other")
        db.add(remote_category)
        await db.flush()
        await _join(db, remote, people[MEMBER])
        made["remote_entry"] = entry(association_id=remote.id, category_id=remote_category.id)
        db.add(made["remote_entry"])

        news = News(association_id=alpha.id, author_id=people[MANAGER].id, text="Our winter campaign starts.")
        links = {
            name: AnonymousLink(association_id=alpha.id, token=f"matrix-link-{name}", name=f"Link {name}")
            for name in ("open", "to_disable")
        }
        announcement = Announcement(title="Maintenance", audience=Audience.EVERYONE, created_by_id=people[ADMIN].id)
        flag = Flag(
            reporter_id=people[VOLUNTEER].id,
            target_kind="association",
            target_ref=A_HANDLE,
            target_label="Alpha",
            reason="Spam",
        )
        move = AssociationMove(
            association_id=alpha.id,
            origin_endpoint="https://old.example/api/move",
            origin_token="matrix",
            origin_name="Alpha",
            app_version="2.0.1",
            imported_by_id=people[ADMIN].id,
        )
        db.add_all([news, *links.values(), announcement, flag, move])
        db.add(AssociationLogo(association_id=alpha.id, content_type="image/png", data=PNG))
        alpha.has_logo = True
        await db.flush()
        world.entries = {name: row.id for name, row in made.items()}
        world.news, world.announcement, world.flag, world.move = news.id, announcement.id, flag.id, move.id
        world.links = {name: link.id for name, link in links.items()}
        world.link_token = links["open"].token
        await db.commit()

        for name, user in people.items():
            world.people[name] = Person(
                name, token=(await tokens.create_token(db, user, name="matrix", scope="write")).secret
            )
        spare_token = await tokens.create_token(db, people[MEMBER], name="spare", scope="read")
        world.spare_token = spare_token.token.id
        # the manager's other tokens: one that may only read, one limited to another association
        read_only = await tokens.create_token(db, people[MANAGER], name="read", scope="read")
        limited = await tokens.create_token(db, people[MANAGER], name="club", scope="write", association=LEAVE_API)
        world.manager_tokens = {"read": read_only.secret, "limited": limited.secret}
        await db.commit()
    await heartbeat_writer(instance.sessions)()  # /healthz answers 200 when a worker reported
    return world


async def _browser_of(app: Starlette, email: str | None) -> tuple[dict[str, str], str]:
    """Log in (unless anonymous) and read the session's CSRF token: the cookies and token of that browser."""
    async with make_client(app) as browser:
        browser.headers["Accept-Language"] = "en"
        if email is not None:
            await log_in(browser, email)
        page = await browser.get("/associations")
        match = CSRF_RE.search(page.text)
        assert match, page.text
        return dict(browser.cookies), match.group(1)


async def seed(app: Starlette) -> World:
    """The whole world; the suspended person logs in and gets a token before the admin suspends them."""
    instance: Instance = app.state.instance
    world = await _seed_rows(instance)
    world.people[ANONYMOUS] = Person(ANONYMOUS)
    for name, person in world.people.items():
        email = None if name == ANONYMOUS else f"{world.handles[name]}@example.org"
        person.cookies, person.csrf = await _browser_of(app, email)

    admin = world.people[ADMIN]
    async with make_client(app) as browser:
        browser.cookies.update(admin.cookies)
        response = await browser.post(f"/admin/users/{world.users[SUSPENDED]}/suspend", data={"csrf_token": admin.csrf})
        assert response.status_code == 303, response.text
    async with instance.sessions() as db:
        suspended = await db.get(User, world.users[SUSPENDED])
        assert suspended is not None and suspended.is_suspended
    return world


async def log_in_again(app: Starlette, world: World) -> None:
    """New sessions for the people who can log in: a logout ends the session on the server, the copies of its
    cookie that ``reset`` puts back included."""
    for name, person in world.people.items():
        if name not in (ANONYMOUS, SUSPENDED):
            person.cookies, person.csrf = await _browser_of(app, f"{world.handles[name]}@example.org")


def client(app: Starlette, person: Person) -> httpx.AsyncClient:
    """A browser with the person's cookies; ``reset`` puts them back before each request."""
    browser = make_client(app)
    browser.headers["Accept-Language"] = "en"
    reset(browser, person)
    return browser


def reset(browser: httpx.AsyncClient, person: Person) -> None:
    """Back to the cookies of right after login: what a request did to the session (a flash message, a
    logout) does not carry over to the next case."""
    browser.cookies.clear()
    for name, value in person.cookies.items():
        browser.cookies.set(name, value, domain=browser.base_url.host)


# -- the database as a whole, to check that a refused request changed nothing --------------------------------------

# written on every authenticated API call, refused or not (the last use of a token, at most once a minute)
VOLATILE = {("api_tokens", "last_used_at")}


async def database_state(instance: Instance) -> dict[str, list[str]]:
    """Every row of every table (but the volatile columns), as sorted text lines."""
    state: dict[str, list[str]] = {}
    async with instance.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if (table.name, c.name) not in VOLATILE]
            rows = (await connection.execute(select(*columns))).all()
            state[table.name] = sorted(repr(tuple(row)) for row in rows)
    return state


def changed_tables(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
    return sorted(name for name in before if before[name] != after.get(name))
