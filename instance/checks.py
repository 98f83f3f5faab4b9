"""``benevalibre check``: is this configuration fit to run a real instance? Errors must be fixed; warnings are
worth a look. Nothing is created or changed (no secret key generated, no SQLite file created)."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from instance.db import check_migrations, create_engine
from instance.errors import NotMigrated
from instance.settings import ENV_PREFIX, Settings

MIN_SECRET_LENGTH = 32
MIN_METRICS_TOKEN_LENGTH = 24
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})


@dataclass(frozen=True)
class Problem:
    level: str  # "error" or "warning"
    message: str


def _error(message: str) -> Problem:
    return Problem("error", message)


def _warning(message: str) -> Problem:
    return Problem("warning", message)


def check_base_url(settings: Settings) -> list[Problem]:
    parts = urlsplit(settings.base_url)
    hostname = (parts.hostname or "").lower()
    local = hostname in LOCAL_HOSTS or f"[{hostname}]" in LOCAL_HOSTS
    problems = []
    if parts.scheme != "https":
        problems.append(_error(f"{ENV_PREFIX}BASE_URL uses {parts.scheme}: a real instance needs https."))
    if settings.dev_mode:
        text = f"{ENV_PREFIX}DEV_MODE is on: it allows http and federation with private addresses."
        problems.append(_warning(text) if local else _error(text + " Turn it off in production."))
    elif local:
        problems.append(_warning(f"{ENV_PREFIX}BASE_URL is {settings.base_url}: other servers cannot reach it."))
    return problems


def check_secret(settings: Settings) -> list[Problem]:
    if settings.secret_key:
        if len(settings.secret_key) < MIN_SECRET_LENGTH:
            return [
                _error(
                    f"{ENV_PREFIX}SECRET_KEY has {len(settings.secret_key)} characters; use at least "
                    f"{MIN_SECRET_LENGTH} random ones (or leave it empty to have one generated)."
                )
            ]
        return []
    path = Path(settings.data_dir) / "secret_key"
    if not path.exists():
        return [_warning(f"No secret key yet: {path} is generated at the first start. Back it up.")]
    problems = []
    if len(path.read_text().strip()) < MIN_SECRET_LENGTH:
        problems.append(_error(f"The secret key in {path} is shorter than {MIN_SECRET_LENGTH} characters."))
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        problems.append(_warning(f"{path} can be read by other accounts of the server; chmod 600 it."))
    return problems


def check_mail(settings: Settings) -> list[Problem]:
    if not settings.smtp_host:
        return [_warning(f"{ENV_PREFIX}SMTP_HOST is empty: mails are not sent, only kept in the admin's mail log.")]
    if settings.mail_from.endswith("@localhost"):
        return [_error(f"{ENV_PREFIX}MAIL_FROM is {settings.mail_from}: use an address of your domain.")]
    if settings.smtp_security == "none":
        return [_warning(f"{ENV_PREFIX}SMTP_SECURITY is none: passwords and mails travel unencrypted.")]
    return []


def check_data_dir(settings: Settings) -> list[Problem]:
    path = Path(settings.data_dir)
    if path.exists():
        if not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
            return [_error(f"The data folder {path.resolve()} is not a writable folder.")]
        return []
    parent = path.resolve().parent
    if not os.access(parent, os.W_OK):
        return [_error(f"The data folder {path.resolve()} does not exist and cannot be created.")]
    return [_warning(f"The data folder {path.resolve()} does not exist yet; it is created at the first start.")]


async def check_database(settings: Settings) -> list[Problem]:
    if settings.is_sqlite:
        path = Path(settings.database.split("///", 1)[-1])
        if not path.exists():  # noqa: ASYNC240 (one stat, in a command line tool)
            return [_error(f"No database at {path}: run `benevalibre init`.")]
        options = {}
    else:
        options = {"connect_args": {"timeout": 10}}
    engine = create_engine(settings, **options)
    try:
        await check_migrations(engine)
    except NotMigrated as error:
        return [_error(str(error))]
    except Exception as error:  # any driver error: report it, do not crash
        return [_error(f"Cannot reach the database: {type(error).__name__}: {error}")]
    finally:
        await engine.dispose()
    return []


def check_metrics(settings: Settings) -> list[Problem]:
    if settings.metrics_token and len(settings.metrics_token) < MIN_METRICS_TOKEN_LENGTH:
        return [_warning(f"{ENV_PREFIX}METRICS_TOKEN is short; use at least {MIN_METRICS_TOKEN_LENGTH} characters.")]
    return []


async def check_configuration(settings: Settings) -> list[Problem]:
    problems = [
        *check_base_url(settings),
        *check_secret(settings),
        *check_mail(settings),
        *check_data_dir(settings),
        *check_metrics(settings),
    ]
    problems.extend(await check_database(settings))
    return sorted(problems, key=lambda problem: problem.level != "error")
