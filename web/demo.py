"""The demo: two federated instances on loopback, seeded, serving in one process.

Nord (``http://127.0.0.1:8000``) has Les Jardins partagés and La Boussole; Sud (``http://127.0.0.2:8001``) has
Entraide Sud. Their hosts differ, so a browser keeps one session per instance. Once both answer, volunteers join
across them and log time there, through the same services and activities as anyone would: Léa (Nord) joins
Entraide Sud, Nina (Sud) joins Les Jardins partagés; Sud's manager approves some of Léa's time.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from sqlalchemy import select
from starlette.applications import Starlette

from federation.lookup import find_association
from federation.runtime import Federation
from instance import cli
from instance.demo import DEMO_PASSWORD, NORD, SUD, DemoSet, seed_demo
from instance.models import Association, Category, Membership, MembershipStatus, TimeEntry, User
from instance.runtime import Instance
from instance.services import entries, membership, moderation
from instance.settings import Settings
from web.app import create_app

WAIT_SECONDS = 30.0


@dataclass
class DemoInstance:
    name: str
    host: str
    port: int
    demo: DemoSet
    app: Starlette | None = None

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def instance(self) -> Instance:
        assert self.app is not None
        found: Instance = self.app.state.instance
        return found

    @property
    def federation(self) -> Federation:
        assert self.app is not None
        found: Federation = self.app.state.federation
        return found


def demo_instances(host: str, port: int, second_host: str) -> tuple[DemoInstance, DemoInstance]:
    return DemoInstance("Nord", host, port, NORD), DemoInstance("Sud", second_host, port + 1, SUD)


async def _prepare(side: DemoInstance, data_dir: Path) -> Settings:
    settings = Settings.load(
        data_dir=str(data_dir / side.name.lower()),
        base_url=side.origin,
        dev_mode=True,
        database_url="",
        instance_name=f"Bénévalibre {side.name}",
        worker_poll_interval=0.3,
    )
    await cli.cmd_init(argparse.Namespace(), settings)
    instance = Instance.create(settings)
    try:
        async with instance.sessions() as db:
            await seed_demo(db, instance.settings, side.demo)
            await db.commit()
    finally:
        await instance.close()
    return settings


async def _user(side: DemoInstance, handle: str) -> User:
    async with side.instance.sessions() as db:
        user = await db.scalar(select(User).where(User.handle == handle))
        assert user is not None
        return user


async def _join(side: DemoInstance, handle: str, address: str) -> Association:
    """``handle`` (on ``side``) finds the association at ``address`` on the other instance and joins it."""
    async with side.instance.sessions() as db:
        association = await find_association(db, side.federation.client, address)
        user = await db.scalar(select(User).where(User.handle == handle))
        assert user is not None
        if (
            await db.scalar(
                select(Membership.id).where(Membership.user_id == user.id, Membership.association_id == association.id)
            )
            is None
        ):
            await membership.join(db, side.instance.settings, user, association)
        await db.commit()
        return association


async def _wait(check: object, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        if await check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.3)
    print(f"  (still waiting: {what}; it will complete in the background)")


async def _active(side: DemoInstance, handle: str, association_id: int) -> bool:
    async with side.instance.sessions() as db:
        status = await db.scalar(
            select(Membership.status)
            .join(User, User.id == Membership.user_id)
            .where(User.handle == handle, Membership.association_id == association_id)
        )
        return status == MembershipStatus.ACTIVE


async def _log(side: DemoInstance, handle: str, association: Association, titles: list[str]) -> None:
    async with side.instance.sessions() as db:
        user = await db.scalar(select(User).where(User.handle == handle))
        category = await db.scalar(
            select(Category.id).where(Category.association_id == association.id, Category.archived.is_(False)).limit(1)
        )
        assert user is not None and category is not None
        for days, title in enumerate(titles, start=1):
            values = {
                "start_date": (dt.date.today() - dt.timedelta(days=3 * days)).isoformat(),
                "duration": "120" if days % 2 else "210",
                "title": title,
                "category": str(category),
            }
            await entries.create_entry(db, side.instance.settings.base_url, user, association, values)
        await db.commit()


async def _received(side: DemoInstance, count: int) -> bool:
    async with side.instance.sessions() as db:
        rows = await db.scalars(select(TimeEntry.id).where(TimeEntry.ap_id.is_not(None)))
        return len(rows.all()) >= count


async def _approve_some(side: DemoInstance, manager: str, handle: str) -> None:
    async with side.instance.sessions() as db:
        user = await db.scalar(select(User).where(User.handle == manager))
        association = await db.scalar(select(Association).where(Association.handle == handle))
        assert user is not None and association is not None
        received = await db.scalars(
            select(TimeEntry.id).where(TimeEntry.association_id == association.id, TimeEntry.ap_id.is_not(None))
        )
        ids = list(received.all())[:2]
        if ids:
            await moderation.decide(db, user, association, ids, approve=True)
        await db.commit()


async def federate(nord: DemoInstance, sud: DemoInstance) -> None:
    """Léa (Nord) joins Entraide Sud and logs time there; Nina (Sud) joins Les Jardins partagés; done once."""
    entraide = await _join(nord, "lea", f"{sud.instance.settings.base_url}/associations/entraide")
    jardins = await _join(sud, "nina", f"{nord.instance.settings.base_url}/associations/jardins")
    await _wait(lambda: _active(nord, "lea", entraide.id), "Léa's membership in Entraide Sud")
    await _wait(lambda: _active(sud, "nina", jardins.id), "Nina's membership in Les Jardins partagés")
    async with nord.instance.sessions() as db:
        already = await db.scalar(select(TimeEntry.id).where(TimeEntry.association_id == entraide.id).limit(1))
    if already is None:
        await _log(nord, "lea", entraide, ["Distribution du samedi", "Tri des dons", "Accueil"])
        await _log(sud, "nina", jardins, ["Arrosage", "Atelier compost"])
        await _wait(lambda: _received(sud, 3), "Léa's entries reaching Entraide Sud")
        await _approve_some(sud, "sofia", "entraide")


def _print_logins(sides: tuple[DemoInstance, DemoInstance]) -> None:
    print("\nbenevalibre-fed demo: two federated instances")
    for side in sides:
        print(f"\n  {side.name}: open {side.origin}/")
        for email, _handle, _name, _admin, what in side.demo.people:
            print(f"    {email:28} {what}")
    print(f"\nPassword for every demo login: {DEMO_PASSWORD}")
    print("Léa (Nord) is a member of Entraide Sud; Nina (Sud) of Les Jardins partagés. Stop with Ctrl+C.\n", flush=True)


async def run_demo(data_dir: Path, host: str, port: int, second_host: str) -> None:
    sides = demo_instances(host, port, second_host)
    servers = []
    for side in sides:
        settings = await _prepare(side, data_dir)
        side.app = create_app(settings, run_worker=True)
        config = uvicorn.Config(side.app, host=side.host, port=side.port, log_level="warning", access_log=False)
        servers.append(uvicorn.Server(config))
    tasks = [asyncio.create_task(server.serve()) for server in servers]
    while not all(server.started for server in servers):
        if any(task.done() for task in tasks):
            await asyncio.gather(*tasks)  # a server could not start: show why
            return
        await asyncio.sleep(0.1)
    await federate(*sides)
    _print_logins(sides)
    await asyncio.gather(*tasks)
