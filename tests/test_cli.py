"""The admin command line, run as a hosting collective would run it: a real process on a real database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENEVALIBRE = str(Path(sys.executable).parent / "benevalibre")


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BENEVALIBRE_")},
        "BENEVALIBRE_DATA_DIR": str(tmp_path / "data"),
        "BENEVALIBRE_BASE_URL": "https://cli.test",
    }
    return subprocess.run(  # noqa: S603 (our own command)
        [BENEVALIBRE, *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


@pytest.fixture
def initialised(tmp_path: Path) -> Path:
    result = run(tmp_path, "init")
    assert result.returncode == 0, result.stderr
    assert "latest migration" in result.stdout
    return tmp_path


def test_init_is_idempotent(initialised: Path) -> None:
    again = run(initialised, "init")
    assert again.returncode == 0, again.stderr


def test_create_user_then_association(initialised: Path) -> None:
    user = run(
        initialised, "create-user", "Lea@Example.org", "--password", "a long password", "--name", "Léa", "--admin"
    )
    assert user.returncode == 0, user.stderr
    assert "@lea@cli.test" in user.stdout
    association = run(
        initialised,
        "create-association",
        "jardins",
        "--name",
        "Les Jardins",
        "--owner",
        "lea@example.org",
        "--moderate-entries",
    )
    assert association.returncode == 0, association.stderr
    assert "@jardins@cli.test" in association.stdout


def test_refusals_say_what_is_wrong_and_exit_non_zero(initialised: Path) -> None:
    assert run(initialised, "create-user", "lea@example.org", "--password", "a long password").returncode == 0
    duplicate = run(initialised, "create-user", "lea@example.org", "--password", "a long password", "--handle", "x2")
    assert duplicate.returncode == 2
    assert "email" in duplicate.stderr
    short = run(initialised, "create-user", "bob@example.org", "--password", "short")
    assert short.returncode == 2 and "password" in short.stderr
    no_owner = run(initialised, "create-association", "asso", "--name", "Asso", "--owner", "nobody@example.org")
    assert no_owner.returncode == 2 and "nobody@example.org" in no_owner.stderr
    taken = run(initialised, "create-association", "lea", "--name", "Asso", "--owner", "lea@example.org")
    assert taken.returncode == 2 and "handle" in taken.stderr


def test_bad_arguments_and_bad_settings_exit_non_zero(tmp_path: Path) -> None:
    assert run(tmp_path, "create-association", "x").returncode == 2  # --name and --owner missing
    assert run(tmp_path, "no-such-command").returncode == 2
    env_bad = subprocess.run(  # noqa: S603
        [BENEVALIBRE, "init"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "BENEVALIBRE_BASE_URL": "http://plain.example", "BENEVALIBRE_DATA_DIR": str(tmp_path)},
    )
    assert env_bad.returncode == 2
    assert "BENEVALIBRE_BASE_URL must use https" in env_bad.stderr


def test_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    result = run(tmp_path, "serve", "--port", "0")
    assert result.returncode == 2
    assert "benevalibre init" in result.stderr
