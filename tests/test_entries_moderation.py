"""Managers decide on entries: the queue and its filters, bulk decisions, reasons, revocation, notices."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from instance.models import (
    Association,
    Handle,
    Membership,
    MembershipStatus,
    Notification,
    OutgoingMail,
    Role,
    TimeEntry,
    User,
)
from instance.runtime import Instance
from instance.services.entry_notices import DigestTask
from tests.conftest import log_in, make_client
from tests.test_entries_support import (
    association,
    category_ids,
    days_ago,
    entries_of,
    entry_form,
    join,
    person,
    post,
)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"default_language": "en"}


async def mails_to(instance: Instance, address: str) -> list[OutgoingMail]:
    async with instance.sessions() as db:
        rows = await db.scalars(select(OutgoingMail).where(OutgoingMail.recipient == address).order_by(OutgoingMail.id))
        return list(rows.all())


async def log_three(app: Starlette, instance: Instance, restos_category: int) -> list[TimeEntry]:
    """Alice and Bob log time (three entries, all pending)."""
    for handle, titles in (("alice", ["Tri", "Collecte"]), ("bob", ["Accueil"])):
        async with make_client(app) as browser:
            await person(instance, handle, browser)
            restos = await _restos(instance)
            await join(instance, restos, await _user(instance, handle))
            for title in titles:
                response = await post(
                    browser, "/entries/new", {"association": "restos", **entry_form(restos_category, title=title)}
                )
                assert response.status_code == 303
    return await entries_of(instance, await _restos(instance))


async def _restos(instance: Instance) -> Association:
    async with instance.sessions() as db:
        found = await db.scalar(select(Association).where(Association.handle == "restos"))
        assert found is not None
        return found


async def _user(instance: Instance, handle: str) -> User:
    async with instance.sessions() as db:
        found = await db.scalar(select(User).where(User.handle == handle))
        assert found is not None
        return found


async def test_manager_approves_and_rejects_in_bulk_and_volunteers_are_told(
    client: httpx.AsyncClient, app: Starlette, instance: Instance
) -> None:
    # Given a manager (the founder) and three pending entries
    owner = await person(instance, "owner", client)
    restos = await association(instance, owner)
    category = (await category_ids(instance, restos))[0]
    tri, collecte, accueil = await log_three(app, instance, category)
    assert len(await mails_to(instance, "owner@example.org")) == 3  # one mail per pending entry

    # The queue shows them, with the authors' names
    queue = await client.get("/associations/restos/moderation")
    assert queue.status_code == 200
    assert "Tri" in queue.text and "Accueil" in queue.text and "Alice" in queue.text

    # Rejecting without a reason is refused and changes nothing
    response = await post(client, "/associations/restos/moderation/decide", {"ids": [str(tri.id)], "action": "reject"})
    assert response.status_code == 303
    assert "Please say why" in (await client.get(response.headers["location"])).text
    assert {e.status for e in await entries_of(instance, restos)} == {"pending"}

    # Approve two at once, reject the third with a reason
    ids = [str(tri.id), str(accueil.id)]
    response = await post(client, "/associations/restos/moderation/decide", {"ids": ids, "action": "approve"})
    assert "2 entries approved" in (await client.get(response.headers["location"])).text
    await post(
        client,
        "/associations/restos/moderation/decide",
        {"ids": [str(collecte.id)], "action": "reject", "reason": "Already counted"},
    )
    by_title = {e.title: e for e in await entries_of(instance, restos)}
    assert by_title["Tri"].status == "approved" and by_title["Tri"].decided_by_id == owner.id
    assert by_title["Accueil"].status == "approved"
    assert (by_title["Collecte"].status, by_title["Collecte"].rejection_reason) == ("rejected", "Already counted")

    # The volunteers got a notice and a mail, with the reason
    alice_mails = await mails_to(instance, "alice@example.org")
    assert [m.subject for m in alice_mails] == [
        "Your time was approved by Restos",
        "Your time was not approved by Restos",
    ]
    assert "Already counted" in alice_mails[1].body
    async with make_client(app) as alice_browser:
        await person_login(alice_browser, "alice")
        listing = await alice_browser.get("/entries")
        assert "Already counted" in listing.text and "badge-rejected" in listing.text

    # Revoking an approval later, and approving the rejected one after all (one-row buttons)
    await post(client, "/associations/restos/moderation/decide", {"reject_only": str(tri.id), "reason": "Wrong day"})
    await post(client, "/associations/restos/moderation/decide", {"approve_only": str(collecte.id)})
    by_title = {e.title: e for e in await entries_of(instance, restos)}
    assert (by_title["Tri"].status, by_title["Tri"].rejection_reason) == ("rejected", "Wrong day")
    assert (by_title["Collecte"].status, by_title["Collecte"].rejection_reason) == ("approved", "")


async def person_login(browser: httpx.AsyncClient, handle: str) -> None:
    browser.headers["Accept-Language"] = "en"
    await log_in(browser, f"{handle}@example.org")


async def test_queue_filters(client: httpx.AsyncClient, app: Starlette, instance: Instance) -> None:
    owner = await person(instance, "owner", client)
    restos = await association(instance, owner)
    categories = await category_ids(instance, restos)
    await log_three(app, instance, categories[0])
    alice = await _user(instance, "alice")
    async with instance.sessions() as db:
        entry = await db.scalar(select(TimeEntry).where(TimeEntry.title == "Accueil"))
        assert entry is not None
        entry.category_id = categories[1]
        entry.start_date = entry.start_date.fromisoformat(days_ago(10))
        await db.commit()

    def titles(page: httpx.Response) -> set[str]:
        return {t for t in ("Tri", "Collecte", "Accueil") if f"<strong>{t}</strong>" in page.text}

    base = "/associations/restos/moderation"
    assert titles(await client.get(base)) == {"Tri", "Collecte", "Accueil"}
    assert titles(await client.get(f"{base}?member={alice.id}")) == {"Tri", "Collecte"}
    assert titles(await client.get(f"{base}?category={categories[1]}")) == {"Accueil"}
    assert titles(await client.get(f"{base}?from={days_ago(11)}&to={days_ago(9)}")) == {"Accueil"}
    assert titles(await client.get(f"{base}?status=approved")) == set()
    assert titles(await client.get(f"{base}?status=all")) == {"Tri", "Collecte", "Accueil"}


async def test_member_without_the_permission_cannot_moderate(
    client: httpx.AsyncClient, app: Starlette, instance: Instance
) -> None:
    owner = await person(instance, "owner")
    restos = await association(instance, owner)
    category = (await category_ids(instance, restos))[0]
    tri, *_others = await log_three(app, instance, category)
    await person_login(client, "bob")  # a plain volunteer

    assert (await client.get("/associations/restos/moderation")).status_code == 403
    response = await post(client, "/associations/restos/moderation/decide", {"ids": [str(tri.id)], "action": "approve"})
    assert response.status_code == 403
    assert {e.status for e in await entries_of(instance, restos)} == {"pending"}
    assert (await client.get("/associations/restos/moderation/new")).status_code == 403


async def test_manager_enters_time_for_a_member_and_for_someone_without_account(
    client: httpx.AsyncClient, instance: Instance
) -> None:
    owner = await person(instance, "owner")
    restos = await association(instance, owner)
    manager = await person(instance, "carla", client)
    await join(instance, restos, manager, manager=True)
    alice = await person(instance, "alice")
    await join(instance, restos, alice)
    category = (await category_ids(instance, restos))[0]

    page = await client.get("/associations/restos/moderation/new")
    assert page.status_code == 200 and "Alice" in page.text
    form = {"member": str(alice.id), **entry_form(category, title="Pour Alice")}
    assert (await post(client, "/associations/restos/moderation/new", form)).status_code == 303
    form = {"participant_name": "Jean Dupont", **entry_form(category, title="Pour Jean")}
    assert (await post(client, "/associations/restos/moderation/new", form)).status_code == 303
    response = await post(client, "/associations/restos/moderation/new", entry_form(category, title="Personne"))
    assert response.status_code == 400 and 'id="e-member"' in response.text

    for_alice, for_jean = await entries_of(instance, restos)
    assert (for_alice.user_id, for_alice.entered_by_id, for_alice.status) == (alice.id, manager.id, "approved")
    assert (for_jean.user_id, for_jean.participant_name, for_jean.status) == (None, "Jean Dupont", "approved")


async def test_daily_digest_replaces_the_mail_per_entry(
    client: httpx.AsyncClient, app: Starlette, instance: Instance
) -> None:
    owner = await person(instance, "owner", client)
    restos = await association(instance, owner)
    category = (await category_ids(instance, restos))[0]
    response = await post(client, "/associations/restos/moderation/digest", {"digest": "1"})
    assert response.status_code == 303
    assert "one daily digest instead" not in (await client.get("/associations/restos/moderation")).text

    await log_three(app, instance, category)
    assert await mails_to(instance, "owner@example.org") == []
    async with instance.sessions() as db:
        notices = (await db.scalars(select(Notification).where(Notification.user_id == owner.id))).all()
        assert len(notices) == 3  # still in the in-app list

    task = DigestTask(instance.sessions, instance.settings.base_url)
    assert await task.run_once() == 1
    assert await task.run_once() == 0  # once a day
    [digest] = await mails_to(instance, "owner@example.org")
    assert digest.subject == "3 entries wait for approval in Restos"
    assert "https://a.test/associations/restos/moderation" in digest.body


async def test_a_large_association_filters_its_queue_by_part_of_a_name(
    client: httpx.AsyncClient, app: Starlette, instance: Instance
) -> None:
    owner = await person(instance, "owner", client)
    restos = await association(instance, owner)
    category = (await category_ids(instance, restos))[0]
    await log_three(app, instance, category)
    base = "/associations/restos/moderation"
    small = await client.get(base)
    assert 'name="member"' in small.text and 'name="who"' not in small.text  # a few members: a list

    # Past MEMBER_CHOICES members, the list would weigh more than the page: a name to search instead
    async with instance.sessions() as db:
        role = await db.scalar(select(Role).where(Role.association_id == restos.id, Role.is_default.is_(True)))
        assert role is not None
        db.add_all(Handle(handle=f"m{n}", kind="user") for n in range(200))
        await db.flush()
        crowd = [User(email=f"m{n}@example.org", handle=f"m{n}", display_name=f"Membre {n}") for n in range(200)]
        db.add_all(crowd)
        await db.flush()
        db.add_all(
            Membership(association_id=restos.id, user_id=u.id, role_id=role.id, status=MembershipStatus.ACTIVE)
            for u in crowd
        )
        await db.commit()
    form = {"participant_name": "Zoé 100% bénévole", **entry_form(category, title="Sans compte")}
    assert (await post(client, "/associations/restos/moderation/new", form)).status_code == 303  # approved at once
    large = await client.get(base)
    assert 'name="who"' in large.text and "Membre 17" not in large.text

    def titles(page: httpx.Response) -> set[str]:
        return {t for t in ("Tri", "Collecte", "Accueil", "Sans compte") if f"<strong>{t}</strong>" in page.text}

    assert titles(await client.get(f"{base}?who=ALI&status=all")) == {"Tri", "Collecte"}  # Alice Martin, any case
    assert titles(await client.get(f"{base}?who=bob&status=all")) == {"Accueil"}  # by handle too
    assert titles(await client.get(f"{base}?who=zo%C3%A9&status=all")) == {"Sans compte"}  # without an account
    assert titles(await client.get(f"{base}?who=%25&status=all")) == {"Sans compte"}  # % is no wildcard
    assert titles(await client.get(f"{base}?who=nobody&status=all")) == set()
    page = await client.get(f"{base}?who=ali&status=all")
    assert 'value="ali"' in page.text and "who=ali" in page.text  # kept in the form and the links
