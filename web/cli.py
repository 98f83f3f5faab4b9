"""The ``benevalibre`` command: the instance's commands plus those that run the web server and the worker."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from federation import record
from federation.runtime import Federation
from instance import cli
from instance.db import check_migrations
from instance.logs import configure_logging
from instance.runtime import Instance, freeze_startup_heap
from instance.services.health import heartbeat_writer
from instance.settings import Settings
from instance.worker import Worker
from web import demo
from web.app import create_app


def build_parser() -> argparse.ArgumentParser:
    parser, commands = cli.build_parser()
    serve = commands.add_parser("serve", help="run the web server (and, by default, the worker in the same process)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    serve.set_defaults(handler=cmd_serve)

    worker = commands.add_parser("worker", help="run the background worker alone (mail, federation)")
    worker.set_defaults(handler=cmd_worker)

    verify = commands.add_parser("verify", help="check a volunteer's verifiable record (JSON file)")
    verify.add_argument("file", help="the record, as downloaded by the volunteer")
    verify.add_argument(
        "--online", action="store_true", help="check against the keys the associations publish now (fetched)"
    )
    verify.set_defaults(handler=cmd_verify)

    demo = commands.add_parser("demo", help="set up two federated demo instances with sample data and serve them")
    demo.add_argument("--host", default="127.0.0.1", help="address of the first instance (default 127.0.0.1)")
    demo.add_argument("--port", type=int, default=8000, help="its port; the second one uses the next (default 8000)")
    demo.add_argument("--second-host", default="127.0.0.2", help="address of the second instance (default 127.0.0.2)")
    demo.add_argument("--data-dir", default="demo-data", help="folder for the demo's database (default demo-data)")
    demo.set_defaults(handler=cmd_demo)
    return parser


async def _ensure_migrated(settings: Settings) -> None:
    instance = Instance.create(settings)
    try:
        await check_migrations(instance.engine)
    finally:
        await instance.close()


async def serve(settings: Settings, host: str, port: int) -> None:
    configure_logging(settings)
    app = create_app(settings, run_worker=settings.worker_in_process)
    freeze_startup_heap()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=settings.log_level,
        proxy_headers=True,
        log_config=None,  # configure_logging's format; access lines come from web.ops_middleware
        access_log=False,
    )
    await uvicorn.Server(config).serve()


async def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    await _ensure_migrated(settings)
    await serve(settings, args.host, args.port)
    return 0


async def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    await _ensure_migrated(settings)
    instance = Instance.create(settings)
    federation = Federation(instance)
    configure_logging(settings)
    worker = Worker(
        [*instance.tasks, *federation.tasks()],
        settings.worker_poll_interval,
        heartbeat=heartbeat_writer(instance.sessions),
    )
    freeze_startup_heap()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, worker.stop)
    try:
        await worker.run_forever()
    finally:
        await federation.aclose()
        await instance.close()
    return 0


async def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    """Print one line per entry of the record, and exit with 1 unless every entry verifies."""
    try:
        document = json.loads(await asyncio.to_thread(Path(args.file).read_text, encoding="utf-8"))
        keys = None
        if args.online:
            instance = Instance.create(settings)
            federation = Federation(instance)
            try:
                async with instance.sessions() as db:
                    keys = await record.published_keys(db, settings, federation.client, document)
                    await db.commit()
            finally:
                await federation.aclose()
                await instance.close()
        results = record.verify_record(document, keys)
    except (OSError, ValueError) as error:
        print(f"cannot read the record: {error}", file=sys.stderr)
        return 2
    for checked in results:
        state = "ok  " if checked.ok else "FAIL"
        line = f"{state} {checked.start} {checked.duration:>9} {checked.title} — {checked.association}"
        print(line + ("" if checked.ok else f" ({checked.reason})"))
    good = sum(1 for checked in results if checked.ok)
    print(f"{good} of {len(results)} entries verify" + (" against the published keys" if args.online else ""))
    return 0 if good == len(results) else 1


async def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    await demo.run_demo(Path(args.data_dir), args.host, args.port, args.second_host)
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(cli.run(build_parser(), argv))
