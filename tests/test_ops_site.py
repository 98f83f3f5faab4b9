"""Instance settings edited by admins (and what they change), announcements, and reports to the admins."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from federation import policy
from instance.models import Announcement, AssociationStatus, Category, Flag, Level, TimeEntry, User, utcnow
from instance.runtime import Instance
from instance.worker import Worker
from tests.associations_support import association, found, mails_to, person, send, smtp_settings
from tests.conftest import Mailbox, make_client


@pytest.fixture
def settings_overrides(smtp: tuple[Mailbox, int]) -> dict[str, Any]:
    return {**smtp_settings(smtp), "instance_name": "Env Name"}


SETTINGS = {
    "instance_name": "Bénévoles du Nord",
    "description": "Une instance pour le Nord.",
    "charter": "Soyez aimables.\n\nPas de publicité.",
    "contact": "admins@nord.example",
    "user_registration": "",
    "association_registration": "",
    "default_hourly_rate": "",
    "default_levels": "",
}


async def save_settings(browser: Any, **changes: Any) -> Any:
    data: dict[str, Any] = {**SETTINGS, "default_categories": ["events", "reception"], **changes}
    return await send(browser, "/admin/settings", data)


# -- settings ---------------------------------------------------------------------------------------------------


async def test_the_about_page_shows_what_the_admins_wrote(app: Starlette) -> None:
    root = await person(app, "root", admin=True)
    visitor = make_client(app)
    visitor.headers["Accept-Language"] = "en"
    assert "About Env Name" in (await visitor.get("/about")).text

    response = await save_settings(root)

    assert response.status_code == 303
    about = (await visitor.get("/about")).text
    assert "About Bénévoles du Nord" in about and "Une instance pour le Nord." in about
    assert "<p>Soyez aimables.</p>" in about and 'href="mailto:admins@nord.example"' in about
    form = (await root.get("/admin/settings")).text
    assert 'value="Bénévoles du Nord"' in form and "Configuration: Env Name" in form


async def test_bad_settings_are_refused_and_what_was_typed_stays(app: Starlette) -> None:
    root = await person(app, "root", admin=True)

    response = await save_settings(root, default_hourly_rate="abc", user_registration="maybe", instance_name="Nord")

    assert response.status_code == 400
    assert "such as 11.88" in response.text and "Please choose one of the proposed values" in response.text
    assert 'value="Nord"' in response.text
    assert "About Env Name" in (await root.get("/about")).text


async def test_closing_account_registration_in_the_app_refuses_new_accounts(app: Starlette, instance: Instance) -> None:
    root = await person(app, "root", admin=True)
    await save_settings(root, user_registration="closed")
    visitor = make_client(app)
    visitor.headers["Accept-Language"] = "en"

    data = {
        "email": "new@example.org",
        "handle": "newcomer",
        "display_name": "New",
        "password": "a long enough password",
        "password_confirmation": "a long enough password",
    }
    response = await send(visitor, "/register", data)

    assert response.status_code == 403 and "does not accept new accounts" in response.text
    assert "does not accept new accounts" in (await visitor.get("/register")).text
    async with instance.sessions() as db:
        assert await db.scalar(select(User).where(User.handle == "newcomer")) is None
    assert "does not accept new accounts" in (await visitor.get("/about")).text


async def test_moderating_associations_in_the_app_makes_new_ones_wait(app: Starlette, instance: Instance) -> None:
    root = await person(app, "root", admin=True)
    alice = await person(app, "alice")
    await save_settings(root, association_registration="moderated")

    await found(alice, handle="amis", name="Les Amis")

    created = await association(instance, "amis")
    assert created is not None and created.status == AssociationStatus.PENDING
    assert "Les Amis" in (await root.get("/admin")).text


async def test_the_allow_list_mode_set_in_the_app_refuses_unlisted_domains(app: Starlette, instance: Instance) -> None:
    root = await person(app, "root", admin=True)
    async with instance.sessions() as db:
        await policy.check_domain(db, instance.settings, "social.example")  # heard: not blocked

    saved = await save_settings(root, federation_allowlist_only="True")

    assert saved.status_code == 303
    assert 'value="True" selected' in (await root.get("/admin/settings")).text
    async with instance.sessions() as db:
        with pytest.raises(policy.DomainRefused):
            await policy.check_domain(db, instance.settings, "social.example")
    refused = await save_settings(root, federation_allowlist_only="maybe")
    assert refused.status_code == 400 and "Please choose one of the proposed values" in refused.text


async def test_new_associations_start_with_the_chosen_categories_and_levels(app: Starlette, instance: Instance) -> None:
    root = await person(app, "root", admin=True)
    alice = await person(app, "alice")
    await save_settings(root, default_hourly_rate="13,50", default_levels="Expertise: 25\nAccueil\n")

    await found(alice, handle="amis", name="Les Amis")

    created = await association(instance, "amis")
    assert created is not None
    async with instance.sessions() as db:
        codes = set(await db.scalars(select(Category.common_category).where(Category.association_id == created.id)))
        levels = {(lv.name, lv.hourly_rate) for lv in await db.scalars(select(Level))}
    assert codes == {"events", "reception"}
    assert levels == {("Expertise", Decimal("25.00")), ("Accueil", Decimal("13.50"))}


# -- announcements ----------------------------------------------------------------------------------------------


async def announce(root: Any, **fields: Any) -> Any:
    data = {"title": "Maintenance samedi", "body": "Coupure de 9 h à 10 h.", "audience": "users", "banner": "1"}
    return await send(root, "/admin/announcements", {**data, **fields})


async def test_a_banner_shows_to_its_audience_until_dismissed(app: Starlette) -> None:
    root = await person(app, "root", admin=True)
    alice = await person(app, "alice")
    visitor = make_client(app)

    assert (await announce(root)).status_code == 303

    page = (await alice.get("/associations")).text
    assert "Maintenance samedi" in page and "Coupure de 9 h à 10 h." in page
    assert "Maintenance samedi" not in (await visitor.get("/associations")).text
    banner_id = page.split("/announcements/", 1)[1].split("/dismiss", 1)[0]
    response = await send(alice, f"/announcements/{banner_id}/dismiss", {"next": "/entries"})
    assert response.status_code == 303 and response.headers["location"] == "/entries"
    assert "Maintenance samedi" not in (await alice.get("/associations")).text
    assert "Maintenance samedi" in (await root.get("/associations")).text


async def test_an_announcement_to_everyone_and_its_end(app: Starlette, instance: Instance) -> None:
    root = await person(app, "root", admin=True)
    visitor = make_client(app)
    await announce(root, audience="everyone")
    assert "Maintenance samedi" in (await visitor.get("/associations")).text
    async with instance.sessions() as db:
        announcement_id = await db.scalar(select(Announcement.id))

    await send(root, f"/admin/announcements/{announcement_id}/end")

    assert "Maintenance samedi" not in (await visitor.get("/associations")).text
    assert "no longer shown" in (await root.get("/admin/announcements")).text


async def test_an_expired_announcement_is_not_shown(app: Starlette, instance: Instance) -> None:
    root = await person(app, "root", admin=True)
    await announce(root, audience="everyone", expires_on=dt.date.today().isoformat())
    async with instance.sessions() as db:
        row = await db.scalar(select(Announcement))
        assert row is not None
        row.expires_at = utcnow() - dt.timedelta(minutes=1)
        await db.commit()
    app.state.banner_cache.clear()

    assert "Maintenance samedi" not in (await make_client(app).get("/associations")).text


async def test_an_announcement_to_managers_is_notified_to_them_only(
    app: Starlette, worker: Worker, smtp: tuple[Mailbox, int]
) -> None:
    root = await person(app, "root", admin=True)
    alice = await person(app, "alice")
    bob = await person(app, "bob")
    await found(alice, handle="amis", name="Les Amis")

    await announce(root, audience="managers", notify="1", title="Nouvelle version")

    assert "Nouvelle version" in (await alice.get("/associations")).text
    assert "Nouvelle version" not in (await bob.get("/associations")).text
    assert "Announcement: Nouvelle version" in (await alice.get("/notifications")).text
    assert "Nouvelle version" not in (await bob.get("/notifications")).text
    mails = await mails_to(worker, smtp[0], "alice@example.org")
    assert any("Nouvelle version" in subject and "Coupure" in body for subject, body in mails)
    assert not await mails_to(worker, smtp[0], "bob@example.org")


async def test_a_bad_announcement_is_refused(app: Starlette, instance: Instance) -> None:
    root = await person(app, "root", admin=True)

    response = await announce(root, title="", banner="", expires_on="2001-01-01")

    assert response.status_code == 400
    assert "Please give a title" in response.text and "not past" in response.text
    async with instance.sessions() as db:
        assert await db.scalar(select(Announcement.id)) is None


# -- reports ----------------------------------------------------------------------------------------------------


async def test_a_report_reaches_the_admins_who_resolve_it(
    app: Starlette, instance: Instance, worker: Worker, smtp: tuple[Mailbox, int]
) -> None:
    root = await person(app, "root", admin=True)
    alice = await person(app, "alice")
    bob = await person(app, "bob")
    await found(alice, handle="amis", name="Les Amis")

    form = await bob.get("/report?kind=association&target=amis")
    assert form.status_code == 200 and "Les Amis (@amis)" in form.text
    response = await send(bob, "/report", {"kind": "association", "target": "amis", "reason": "Contenu douteux"})

    assert response.status_code == 303 and response.headers["location"] == "/associations/amis"
    reports = (await root.get("/admin/reports")).text
    assert "Les Amis (@amis)" in reports and "Contenu douteux" in reports and "bob@example.org" in reports
    mails = await mails_to(worker, smtp[0], "root@example.org")
    assert any("Les Amis" in subject and "/admin/reports" in body for subject, body in mails)
    again = await send(bob, "/report", {"kind": "association", "target": "amis", "reason": "Encore"})
    assert again.status_code == 400 and "already reported" in again.text

    async with instance.sessions() as db:
        flag_id = await db.scalar(select(Flag.id))
    await send(root, f"/admin/reports/{flag_id}/resolve", {"resolution": "Nous avons parlé avec eux."})

    assert "No open report" in (await root.get("/admin/reports")).text
    assert "Nous avons parlé avec eux." in (await root.get("/admin/reports?state=resolved")).text
    assert "Nous avons parlé avec eux." in (await bob.get("/notifications")).text


async def test_reports_about_people_and_entries_and_their_refusals(app: Starlette, instance: Instance) -> None:
    alice = await person(app, "alice")
    bob = await person(app, "bob")
    await found(alice, handle="amis", name="Les Amis")
    created = await association(instance, "amis")
    assert created is not None
    async with instance.sessions() as db:
        alice_row = await db.scalar(select(User).where(User.handle == "alice"))
        category = await db.scalar(select(Category).where(Category.association_id == created.id))
        assert alice_row is not None and category is not None
        entry = TimeEntry(
            association_id=created.id,
            user_id=alice_row.id,
            category_id=category.id,
            start_date=dt.date(2024, 5, 1),
            duration_minutes=60,
            title="Tri",
        )
        db.add(entry)
        await db.commit()

    person_report = await send(bob, "/report", {"kind": "user", "target": "alice", "reason": "Propos blessants"})
    assert person_report.status_code == 303 and person_report.headers["location"] == "/users/alice"
    assert (await send(bob, "/report", {"kind": "entry", "target": str(entry.id), "reason": "x"})).status_code == 403
    assert (await send(alice, "/report", {"kind": "user", "target": "alice", "reason": "x"})).status_code == 400
    own_entry = await send(alice, "/report", {"kind": "entry", "target": str(entry.id), "reason": "Erreur"})
    assert own_entry.status_code == 303
    assert (await bob.get("/report?kind=planet&target=mars")).status_code == 404
    visitor = await make_client(app).get("/report?kind=user&target=alice")
    assert visitor.status_code == 303 and visitor.headers["location"].startswith("/login")
    async with instance.sessions() as db:
        kinds = sorted(flag.target_kind for flag in await db.scalars(select(Flag)))
    assert kinds == ["entry", "user"]
