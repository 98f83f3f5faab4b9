"""Settings: read from the environment and a file, checked, and every one of them documented."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from instance.settings import ENV_PREFIX, FIELDS, Settings, SettingsError

DOC = Path(__file__).parent.parent / "docs" / "configuration.md"


def test_every_setting_is_documented_with_its_default() -> None:
    documented = set(re.findall(r"`(BENEVALIBRE_[A-Z_]+)`", DOC.read_text()))
    expected = {ENV_PREFIX + name.upper() for name in FIELDS}
    assert expected - documented == set(), "settings missing from docs/configuration.md"
    assert documented - expected - {"BENEVALIBRE_CONFIG_FILE"} == set(), "docs name settings that do not exist"


def test_every_setting_has_a_description() -> None:
    for name, spec in FIELDS.items():
        assert spec.metadata["doc"].strip(), name


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    config = tmp_path / "instance.toml"
    config.write_text('instance_name = "From the file"\nsmtp_port = 2525\n')
    settings = Settings.load(
        {
            "BENEVALIBRE_CONFIG_FILE": str(config),
            "BENEVALIBRE_SMTP_PORT": "26",
            "BENEVALIBRE_DEFAULT_HOURLY_RATE": "12.5",
        }
    )
    assert settings.instance_name == "From the file"
    assert settings.smtp_port == 26
    assert settings.default_hourly_rate == Decimal("12.5")


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"BENEVALIBRE_BASE_URL": "http://example.org"}, "BENEVALIBRE_BASE_URL"),
        ({"BENEVALIBRE_BASE_URL": "https://example.org/sub"}, "BENEVALIBRE_BASE_URL"),
        ({"BENEVALIBRE_USER_REGISTRATION": "sometimes"}, "BENEVALIBRE_USER_REGISTRATION"),
        ({"BENEVALIBRE_SMTP_PORT": "many"}, "BENEVALIBRE_SMTP_PORT"),
        ({"BENEVALIBRE_DEV_MODE": "perhaps"}, "BENEVALIBRE_DEV_MODE"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.load(environ)


def test_http_origin_is_allowed_in_dev_mode_only() -> None:
    settings = Settings.load({"BENEVALIBRE_BASE_URL": "http://127.0.0.1:8000", "BENEVALIBRE_DEV_MODE": "true"})
    assert not settings.secure_cookies
    assert Settings.load({}).secure_cookies


def test_unknown_key_in_the_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "instance.toml"
    config.write_text('instance_nmae = "typo"\n')
    with pytest.raises(SettingsError, match="instance_nmae"):
        Settings.load({"BENEVALIBRE_CONFIG_FILE": str(config)})


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path))
    first = settings.with_secret()
    second = settings.with_secret()
    assert first.secret_key and first.secret_key == second.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_database_defaults_to_sqlite_in_the_data_folder(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path))
    assert settings.database == f"sqlite+aiosqlite:///{tmp_path / 'benevalibre.sqlite3'}"
