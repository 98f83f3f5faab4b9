"""Mail: queued as rows, sent by the worker over SMTP, or kept for the admin when no SMTP is set."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from instance.models import MailState, OutgoingMail, utcnow
from instance.settings import Settings
from instance.worker import claim

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8


def queue_mail(db: AsyncSession, recipient: str, subject: str, body: str) -> OutgoingMail:
    """Add a mail to the queue in the caller's transaction: it is sent only if that transaction commits."""
    mail = OutgoingMail(recipient=recipient, subject=subject, body=body)
    db.add(mail)
    return mail


class MailTask:
    name = "mail"

    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.sessions = sessions

    async def run_once(self) -> int:
        async with self.sessions() as db:
            now = utcnow()
            mails = await claim(
                db,
                OutgoingMail,
                (OutgoingMail.state == MailState.QUEUED) & (OutgoingMail.next_attempt_at <= now),
                OutgoingMail.id,
                limit=20,
            )
            for mail in mails:
                await self._handle(db, mail)
            return len(mails)

    async def _handle(self, db: AsyncSession, mail: OutgoingMail) -> None:
        mail.attempts += 1
        mail.locked_until = None
        if not self.settings.smtp_host:
            log.info("mail to %s (no SMTP configured): %s\n%s", mail.recipient, mail.subject, mail.body)
            mail.state = MailState.LOGGED
            await db.commit()
            return
        try:
            await asyncio.to_thread(self._send, mail.recipient, mail.subject, mail.body)
        except (OSError, smtplib.SMTPException) as error:
            mail.last_error = f"{type(error).__name__}: {error}"[:2000]
            if mail.attempts >= MAX_ATTEMPTS:
                mail.state = MailState.FAILED
            else:
                mail.next_attempt_at = utcnow() + dt.timedelta(seconds=30 * 2**mail.attempts)
            log.warning("mail to %s failed (attempt %d): %s", mail.recipient, mail.attempts, mail.last_error)
        else:
            mail.state = MailState.SENT
            mail.sent_at = utcnow()
            mail.last_error = ""
        await db.commit()

    def _send(self, recipient: str, subject: str, body: str) -> None:
        settings = self.settings
        message = EmailMessage()
        message["From"] = settings.mail_from
        message["To"] = recipient
        message["Subject"] = " ".join(subject.split())  # one line: names from other servers may hold line breaks
        message["Message-ID"] = make_msgid(domain=settings.host.split(":")[0] or None)
        message.set_content(body)
        smtp_class = smtplib.SMTP_SSL if settings.smtp_security == "tls" else smtplib.SMTP
        with smtp_class(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
            if settings.smtp_security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password)
            smtp.send_message(message)
