"""The instance's settings: one typed object read from the environment and an optional TOML file.

Every field has a default and a one-line description (``doc``); ``docs/configuration.md`` lists them all
and a test keeps the two in step. Environment variables are named ``BENEVALIBRE_<FIELD>`` in upper case;
the file named by ``BENEVALIBRE_CONFIG_FILE`` holds the same names in lower case. The environment wins.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENV_PREFIX = "BENEVALIBRE_"
CONFIG_FILE_VARIABLE = "BENEVALIBRE_CONFIG_FILE"


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


def _setting(default: Any, doc: str, choices: tuple[str, ...] = ()) -> Any:
    return field(default=default, metadata={"doc": doc, "choices": choices})


@dataclass(frozen=True)
class Settings:
    data_dir: str = _setting("data", "Folder for the SQLite database, the generated secret key and backups.")
    database_url: str = _setting(
        "",
        "SQLAlchemy async URL of the database; empty means a SQLite file in the data folder.",
    )
    base_url: str = _setting(
        "https://localhost",
        "Public origin of the instance (https), used in links, mails and ActivityPub ids.",
    )
    secret_key: str = _setting(
        "", "Secret for sessions, tokens and keys at rest; generated and stored in the data folder if empty."
    )
    dev_mode: bool = _setting(
        False,
        "Development mode: allows an http base URL and federation with loopback and private addresses.",
    )
    instance_name: str = _setting("Bénévalibre", "Name of the instance shown in pages and mails.")
    default_language: str = _setting(
        "fr", "Language used when neither the user nor the browser chooses one.", ("fr", "en")
    )
    user_registration: str = _setting("open", "Who may create an account: open to all, or closed.", ("open", "closed"))
    association_registration: str = _setting(
        "open",
        "Who may create an association: anyone, anyone with the admin's approval, or admins only.",
        ("open", "moderated", "closed"),
    )
    default_hourly_rate: Decimal = _setting(
        Decimal("11.88"),
        "Default hourly value of volunteer time in euros (gross SMIC), for associations that set none.",
    )
    smtp_host: str = _setting("", "SMTP server for outgoing mail; empty keeps mail in the log and the mail table.")
    smtp_port: int = _setting(587, "Port of the SMTP server.")
    smtp_username: str = _setting("", "User name for SMTP authentication; empty sends without authentication.")
    smtp_password: str = _setting("", "Password for SMTP authentication.")
    smtp_security: str = _setting(
        "starttls",
        "How to secure the SMTP connection: starttls, tls (implicit) or none.",
        ("starttls", "tls", "none"),
    )
    mail_from: str = _setting("benevalibre@localhost", "Sender address of the mails the instance sends.")
    session_max_age: int = _setting(1_209_600, "Lifetime of a login session in seconds (two weeks).")
    login_rate_limit: int = _setting(
        10, "Failed logins or reset requests allowed per address and per account in the rate-limit window."
    )
    rate_limit_window: int = _setting(900, "Length of the rate-limit window, in seconds.")
    api_rate_limit: int = _setting(120, "Requests per minute allowed to each API token (then 429 with Retry-After).")
    inbox_rate_limit: int = _setting(
        600, "Inbox requests accepted per client address, and per sending domain, in each inbox rate window."
    )
    inbox_rate_window: float = _setting(60.0, "Length of the inbox rate window, in seconds.")
    max_logo_bytes: int = _setting(1_048_576, "Largest logo upload accepted, in bytes.")
    worker_in_process: bool = _setting(
        True, "Whether `benevalibre serve` runs the background worker inside the web process."
    )
    worker_poll_interval: float = _setting(1.0, "Seconds the worker sleeps when it finds nothing to do.")
    worker_lock_seconds: float = _setting(
        120.0,
        "Seconds a worker holds the activities and deliveries it took; if it dies, others take them after that.",
    )
    federation_allowlist_only: bool = _setting(
        False, "Federate only with the domains an admin has allowed (the block list applies in any case)."
    )
    log_level: str = _setting("info", "Lowest level of log lines written.", ("debug", "info", "warning", "error"))
    log_format: str = _setting(
        "text",
        "Format of log lines: text for people, or json (one object per line, with request ids).",
        ("text", "json"),
    )
    metrics_token: str = _setting(
        "", "Bearer token that protects /metrics (Prometheus format); empty disables /metrics (404)."
    )

    # -- derived values -------------------------------------------------------------------------------

    @property
    def database(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{Path(self.data_dir).resolve() / 'benevalibre.sqlite3'}"

    @property
    def is_sqlite(self) -> bool:
        return self.database.startswith("sqlite")

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc.lower()

    @property
    def secure_cookies(self) -> bool:
        return urlsplit(self.base_url).scheme == "https"

    def with_secret(self) -> Settings:
        """Return these settings with a secret key, generating and storing one on first run."""
        if self.secret_key:
            return self
        path = Path(self.data_dir) / "secret_key"
        if path.exists():
            key = path.read_text().strip()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            key = secrets.token_urlsafe(48)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(key + "\n")
        return dataclasses.replace(self, secret_key=key)

    def validate(self) -> None:
        """Refuse values that would make the instance unsafe or unusable."""
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SettingsError(f"{ENV_PREFIX}BASE_URL must be an absolute URL, got {self.base_url!r}.")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise SettingsError(f"{ENV_PREFIX}BASE_URL must be an origin without a path, got {self.base_url!r}.")
        if parts.scheme == "http" and not self.dev_mode:
            raise SettingsError(
                f"{ENV_PREFIX}BASE_URL must use https; set {ENV_PREFIX}DEV_MODE=true to use http locally."
            )
        if self.default_hourly_rate < 0:
            raise SettingsError(f"{ENV_PREFIX}DEFAULT_HOURLY_RATE must not be negative.")

    # -- loading --------------------------------------------------------------------------------------

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read the settings from a TOML file (if named), then the environment, then ``overrides``."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        config_file = environ.get(CONFIG_FILE_VARIABLE)
        if config_file:
            try:
                with open(config_file, "rb") as handle:
                    data = tomllib.load(handle)
            except (OSError, tomllib.TOMLDecodeError) as error:
                raise SettingsError(f"Cannot read {CONFIG_FILE_VARIABLE}={config_file}: {error}") from error
            for key, value in data.items():
                if key not in FIELDS:
                    raise SettingsError(f"Unknown setting {key!r} in {config_file}.")
                values[key] = _convert(key, value)
        for key in FIELDS:
            name = ENV_PREFIX + key.upper()
            if name in environ:
                values[key] = _convert(key, environ[name])
        for key, value in overrides.items():
            if key not in FIELDS:
                raise SettingsError(f"Unknown setting {key!r}.")
            values[key] = _convert(key, value)
        settings = cls(**values)
        settings.validate()
        return settings


FIELDS: dict[str, dataclasses.Field[Any]] = {f.name: f for f in dataclasses.fields(Settings)}


def _convert(key: str, value: Any) -> Any:
    spec = FIELDS[key]
    name = ENV_PREFIX + key.upper()
    kind: type[Any] = type(spec.default)
    try:
        if kind is bool:
            if isinstance(value, bool):
                result: Any = value
            elif str(value).strip().lower() in ("1", "true", "yes", "on"):
                result = True
            elif str(value).strip().lower() in ("0", "false", "no", "off", ""):
                result = False
            else:
                raise ValueError(value)
        elif kind is int:
            result = int(value)
        elif kind is float:
            result = float(value)
        elif kind is Decimal:
            result = Decimal(str(value))
        else:
            result = str(value)
    except (ValueError, InvalidOperation) as error:
        raise SettingsError(f"{name} must be a {kind.__name__}, got {value!r}.") from error
    choices = spec.metadata["choices"]
    if choices and result not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {result!r}.")
    return result
