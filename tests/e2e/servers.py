"""Real instances as separate processes, for end-to-end tests: ``benevalibre serve`` and ``benevalibre worker``.

An :class:`Server` is one instance on its own loopback address (``127.0.0.2``, ``127.0.0.3``, ...) and port, with
its own data folder and SQLite database (or a database URL), in development mode (http base URL, federation with
loopback addresses allowed), the worker in its own process, its mail sent to an SMTP server on loopback when
``smtp_port`` is given (else kept in the mail table). Its web process and its worker can each be started,
stopped politely (SIGTERM, then SIGKILL after a grace period), killed at once (SIGKILL) and started again, so a
test can take an instance down in the middle of a flow or kill it under load::

    server = Server("127.0.0.2", tmp_path / "a")
    server.seed(["create-user", "alice@a.test", "--password", PASSWORD])
    server.start()              # web + worker, waits for /healthz
    server.kill_worker()        # SIGKILL: the worker dies wherever it was
    server.start_worker()
    server.stop()               # SIGTERM both

Seeding runs the ``benevalibre`` commands (``init``, ``create-user``, ``create-association``, ...) in one child
process: ``python -m tests.e2e.servers '["init"]' '["create-user", ...]'``. Logs of each process are kept in the
data folder (``web.log``, ``worker.log``); :meth:`Server.logs` returns their ends for failure messages.

:class:`PrivatePostgres` runs a PostgreSQL server of the test's own (never the machine's shared cluster), that a
test can crash (``pg_ctl stop -m immediate``) and start again under an instance.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

import httpx

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
BENEVALIBRE = [PYTHON, "-c", "from web.cli import main; main()"]
START_TIMEOUT = 30.0
STOP_GRACE = 10.0


def loopback_available(address: str) -> bool:
    """Whether this machine lets a server listen on ``address`` (Linux routes all of 127.0.0.0/8 to loopback)."""
    try:
        with socket.socket() as probe:
            probe.bind((address, 0))
    except OSError:
        return False
    return True


def free_port(address: str) -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        port: int = probe.getsockname()[1]
        return port


class ServerError(Exception):
    """A process of the instance did not start, or exited when it should not have."""


class Server:
    """One instance: its settings (environment), its data folder, its web and worker processes."""

    def __init__(
        self,
        address: str,
        folder: Path,
        *,
        port: int | None = None,
        database_url: str = "",
        smtp_port: int | None = None,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.address = address
        self.port = port or free_port(address)
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.environment = {
            **{key: value for key, value in os.environ.items() if not key.startswith("BENEVALIBRE_")},
            "BENEVALIBRE_BASE_URL": self.base_url,
            "BENEVALIBRE_DATA_DIR": str(folder / "data"),
            "BENEVALIBRE_DATABASE_URL": database_url,
            "BENEVALIBRE_SECRET_KEY": f"e2e-secret-{address}-{self.port}",
            "BENEVALIBRE_DEV_MODE": "true",
            "BENEVALIBRE_WORKER_IN_PROCESS": "false",
            "BENEVALIBRE_WORKER_POLL_INTERVAL": "0.2",
            "BENEVALIBRE_LOG_LEVEL": "info",
            "BENEVALIBRE_INSTANCE_NAME": address,
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
        }
        if smtp_port is not None:  # mail goes to a plain SMTP server on loopback (the test's own)
            self.environment.update(
                {
                    "BENEVALIBRE_SMTP_HOST": "127.0.0.1",
                    "BENEVALIBRE_SMTP_PORT": str(smtp_port),
                    "BENEVALIBRE_SMTP_SECURITY": "none",
                    "BENEVALIBRE_MAIL_FROM": f"benevalibre@{address}",
                }
            )
        self.environment.update(settings or {})
        self.web: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self._logs: list[IO[bytes]] = []

    @property
    def host(self) -> str:
        """The authority of the instance, as it appears in handles: ``127.0.0.2:41234``."""
        return f"{self.address}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}"

    # -- set-up ----------------------------------------------------------------------------------------------

    def seed(self, *commands: list[str]) -> None:
        """Run ``benevalibre init`` then each command (an argv list), in one child process."""
        argv = [PYTHON, "-m", "tests.e2e.servers", json.dumps(["init"]), *(json.dumps(c) for c in commands)]
        done = subprocess.run(  # noqa: S603 (our own command line)
            argv, cwd=ROOT, env=self.environment, capture_output=True, timeout=120, check=False
        )
        if done.returncode != 0:
            raise ServerError(f"seeding {self.host} failed:\n{done.stdout.decode()}\n{done.stderr.decode()}")

    # -- processes -------------------------------------------------------------------------------------------

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.folder / f"{name}.log").open("ab")
        self._logs.append(log)
        return subprocess.Popen(  # noqa: S603 (our own command line)
            [*BENEVALIBRE, *args], cwd=ROOT, env=self.environment, stdout=log, stderr=subprocess.STDOUT
        )

    def start(self) -> None:
        """Start the worker and the web server; return once /healthz answers 200 (worker heartbeat included)."""
        self.start_worker()
        self.start_web()
        self.wait_ready(worker=True)

    def start_web(self, *, wait: bool = True) -> None:
        if self.web is not None and self.web.poll() is None:
            raise ServerError(f"the web process of {self.host} is already running")
        self.web = self._spawn("web", "serve", "--host", self.address, "--port", str(self.port))
        if wait:
            self.wait_ready(worker=False)

    def start_worker(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            raise ServerError(f"the worker of {self.host} is already running")
        self.worker = self._spawn("worker", "worker")

    def wait_ready(self, *, worker: bool, timeout: float = START_TIMEOUT) -> None:
        """Wait until the web process answers /healthz (with 200 when ``worker``: a worker reported too)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for process, name in ((self.web, "web"), (self.worker if worker else None, "worker")):
                if process is not None and process.poll() is not None:
                    raise ServerError(f"the {name} process of {self.host} exited\n{self.logs()}")
            try:
                status = httpx.get(f"{self.base_url}/healthz", timeout=2.0).status_code
            except httpx.HTTPError:
                status = 0
            if status == 200 or (status == 503 and not worker):
                return
            time.sleep(0.1)
        raise ServerError(f"{self.host} was not ready after {timeout} s\n{self.logs()}")

    @staticmethod
    def _end(process: subprocess.Popen[bytes] | None, how: signal.Signals, grace: float) -> int | None:
        if process is None or process.poll() is not None:
            return None if process is None else process.returncode
        process.send_signal(how)
        try:
            return process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait(grace)

    def stop_web(self, grace: float = STOP_GRACE) -> int | None:
        """SIGTERM the web process (SIGKILL after ``grace`` seconds); its exit status."""
        return self._end(self.web, signal.SIGTERM, grace)

    def stop_worker(self, grace: float = STOP_GRACE) -> int | None:
        return self._end(self.worker, signal.SIGTERM, grace)

    def kill_web(self) -> int | None:
        """SIGKILL the web process: it dies wherever it was, as in a crash."""
        return self._end(self.web, signal.SIGKILL, STOP_GRACE)

    def kill_worker(self) -> int | None:
        return self._end(self.worker, signal.SIGKILL, STOP_GRACE)

    def stop(self, grace: float = STOP_GRACE) -> None:
        self.stop_web(grace)
        self.stop_worker(grace)

    def kill(self) -> None:
        self.kill_web()
        self.kill_worker()

    def restart(self) -> None:
        """Stop both processes politely and start them again (same address, port, data)."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Kill whatever still runs and close the log files (for fixtures' tear-down)."""
        self.kill()
        for log in self._logs:
            log.close()
        self._logs.clear()

    def logs(self, lines: int = 40) -> str:
        parts = []
        for name in ("web", "worker"):
            path = self.folder / f"{name}.log"
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {self.host} {name}.log ---\n" + "\n".join(tail))
        return "\n".join(parts)


# -- a private PostgreSQL server ---------------------------------------------------------------------------------

POSTGRES_BINARIES = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"


def private_postgres_missing() -> str:
    """Why a private PostgreSQL server cannot be run here ('' when it can): it needs the server's binaries and
    root (to run them as the ``postgres`` account)."""
    if not POSTGRES_BINARIES or not os.path.exists(os.path.join(POSTGRES_BINARIES[-1], "pg_ctl")):
        return "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin"
    if os.geteuid() != 0:
        return "running a private PostgreSQL server needs root (to run it as the postgres account)"
    if not os.path.exists(RUNUSER):
        return "no runuser command"
    return ""


class PrivatePostgres:
    """A PostgreSQL server of the test's own, on loopback at a free port; never the machine's shared cluster.

    Its files are in a new folder under the system's temporary folder, owned by ``postgres`` (pytest's own
    temporary folders are private to root, which the server account cannot enter); :meth:`close` removes it.
    :meth:`crash` stops it at once (``pg_ctl stop -m immediate``: every backend is killed, nothing is shut down
    cleanly, as in a crash); :meth:`start` brings it back with its data (its recovery replays the WAL).
    """

    def __init__(self, port: int | None = None) -> None:
        self.bin = Path(POSTGRES_BINARIES[-1])
        self.folder = Path(tempfile.mkdtemp(prefix="benevalibre-pg-"))
        self.data = self.folder / "pgdata"
        self.port = port or free_port("127.0.0.1")
        self.log = self.folder / "postgres.log"

    def url(self, database: str = "benevalibre") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *argv: str, timeout: float = 60) -> str:
        done = subprocess.run(  # noqa: S603 (our own command line)
            [RUNUSER, "-u", "postgres", "--", *argv], capture_output=True, timeout=timeout, check=False, cwd="/"
        )
        if done.returncode != 0:
            raise ServerError(f"{' '.join(argv)} failed:\n{done.stdout.decode()}\n{done.stderr.decode()}")
        return done.stdout.decode()

    def init(self, database: str = "benevalibre") -> None:
        """Create the cluster (trust authentication on loopback), start it and create ``database``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.folder, "postgres", "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8")
        self.start()
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), database)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def crash(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def close(self) -> None:
        """Stop it if it runs and remove its files (for tear-down)."""
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)

    def logs(self, lines: int = 30) -> str:
        if not self.log.exists():
            return ""
        tail = self.log.read_text(errors="replace").splitlines()[-lines:]
        return "--- postgres.log ---\n" + "\n".join(tail)


def _seed_main(arguments: list[str]) -> int:
    """Run each JSON-encoded argv with the ``benevalibre`` parser, in this process; stop at the first failure."""
    from instance import cli
    from web.cli import build_parser

    for encoded in arguments:
        status = cli.run(build_parser(), json.loads(encoded))
        if status != 0:
            return status
    return 0


if __name__ == "__main__":
    sys.exit(_seed_main(sys.argv[1:]))
