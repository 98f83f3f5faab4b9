"""The mail log: without SMTP, mails are kept for the admins to read; no one else may read them."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from instance.models import MailState, OutgoingMail
from instance.runtime import Instance
from instance.worker import Worker
from tests.conftest import create_user, log_in, make_client, post_form


async def test_without_smtp_mail_is_logged_and_readable_by_admins_only(
    app: Starlette, instance: Instance, worker: Worker, client: httpx.AsyncClient
) -> None:
    await create_user(instance, "root@example.org", "root", admin=True)
    await create_user(instance, "bob@example.org", "bob")
    # a password reset request makes a mail; no SMTP server is configured in this test
    response = await post_form(client, "/password/reset", {"email": "bob@example.org"}, page="/password/reset")
    assert response.status_code in (200, 303)
    await worker.run_until_idle()
    async with instance.sessions() as db:
        mail = await db.get(OutgoingMail, 1)
    assert mail is not None and mail.state == MailState.LOGGED

    await log_in(client, "root@example.org")
    page = await client.get("/admin/mail", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "bob@example.org" in page.text and mail.subject in page.text

    async with make_client(app) as other:
        await log_in(other, "bob@example.org")
        assert (await other.get("/admin/mail")).status_code == 403
    async with make_client(app) as anonymous:
        assert (await anonymous.get("/admin/mail")).status_code == 303
