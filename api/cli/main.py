"""The ``rewind`` command line: run the service, the sandbox PBX and a worker, and read
the audit trail. Each subcommand lives in its own function; ``main`` only dispatches."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from uuid import UUID

import orjson

from adapters.logging_setup import configure_logging
from adapters.settings import Settings
from api.cli.client_commands import add_client_parsers, remote_history
from api.cli.serve import add_serve_parser


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings()
    if getattr(args, "data_dir", None) is not None:
        settings = settings.model_copy(update={"data_dir": Path(args.data_dir)})
    return settings


def wants_remote_history(args: argparse.Namespace) -> bool:
    """Through a server when a URL is given (flag or $REWIND_URL) and no --data-dir."""
    import os

    return args.data_dir is None and bool(args.url or os.environ.get("REWIND_URL"))


def cmd_history(args: argparse.Namespace) -> int:
    """Print every event of one backup, restore, host or plan, oldest first."""
    from adapters.event_store import open_application
    from domain.errors import NotFound

    if wants_remote_history(args):
        return remote_history(args)
    try:
        job_id = UUID(args.id)
    except ValueError:
        print(f"rewind history: not an id: {args.id!r} (expected a UUID)", file=sys.stderr)
        return 2
    app = open_application(_settings(args))
    try:
        entries = app.history(job_id)
    except NotFound as error:
        print(f"rewind history: {error.message}", file=sys.stderr)
        return 1
    finally:
        app.close()
    for entry in entries:
        if args.json:
            sys.stdout.write(orjson.dumps(entry.model_dump(mode="json")).decode() + "\n")
        else:
            payload = orjson.dumps(entry.payload, option=orjson.OPT_SORT_KEYS).decode()
            print(
                f"v{entry.version:<4} {entry.time.isoformat()}  {entry.type:<28} "
                f"by {entry.principal or '-':<16} {payload}"
            )
    return 0


def _damaged_stores(settings: Settings, views_too: bool) -> str | None:
    """SQLite's check of the stores replay reads, as the line to print; None when sound."""
    from adapters.event_store import EVENTS_FILE, VIEWS_FILE
    from adapters.store_health import event_store_damaged, quick_check

    if settings.database_url is not None:
        return None
    events = settings.data_dir / EVENTS_FILE
    problem = quick_check(events)
    if problem is not None:
        return event_store_damaged(events, problem, "recover it before replaying")
    views = settings.data_dir / VIEWS_FILE
    problem = quick_check(views) if views_too else None
    if problem is not None:
        return (
            f"the views store {views} is damaged ({problem}); it is derived data: "
            "`rewind serve` sets it aside and rebuilds it from the log when it starts"
        )
    return None


def cmd_replay(args: argparse.Namespace) -> int:
    """Rebuild every view from the log into fresh storage; --check compares with live. A
    damaged store is reported in one line (exit 1), not by a traceback."""
    from adapters.store_health import RECOVERY, damage_of
    from projections.replay import replay

    settings = _settings(args)
    problem = _damaged_stores(settings, views_too=args.check)
    if problem is not None:
        print(f"rewind replay: {problem}", file=sys.stderr)
        return 1
    try:
        result = replay(settings, check=args.check)
    except Exception as error:
        damage = damage_of(error)
        if damage is None:
            raise
        print(f"rewind replay: a store is damaged ({damage}): see {RECOVERY}", file=sys.stderr)
        return 1
    rate = result.events / result.seconds if result.seconds else 0.0
    print(
        f"replayed {result.events} events up to position {result.position} "
        f"in {result.seconds:.2f}s ({rate:,.0f} events/s)"
    )
    if not args.check:
        return 0
    for line in result.differences:
        print(line)
    if result.differences:
        print(f"check failed: {len(result.differences)} differences")
        return 1
    print("check passed: the live views equal a rebuild from the log")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Run the background work alone (scale-out: several share one PostgreSQL database and
    one artifact directory): the worker claims, runs and resumes backups until interrupted,
    and the periodic verifier and the plan scheduler run beside it, exactly as under
    ``rewind serve`` (api.composition; each scheduler tick fires once however many run)."""
    import signal
    import uuid

    from api.composition import WORKER, runtime, start_background, stop

    settings = _settings(args)
    worker_id = args.worker_id or f"worker-{uuid.uuid4().hex[:12]}"
    configure_logging(settings)
    if args.metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(args.metrics_port, addr=args.metrics_host)

    async def run() -> None:
        async with runtime(settings) as services:
            tasks = start_background(services, worker_id)
            worker = next(task for task in tasks if task.get_name() == WORKER)
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, worker.cancel)
            print(f"worker {worker_id} running on {settings.data_dir}", flush=True)
            try:
                await worker
            except asyncio.CancelledError:
                pass
            finally:
                await stop(tasks)

    asyncio.run(run())
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    """Run a sandbox PBX until interrupted."""
    from adapters.sandbox import SandboxConfig, start_sandbox

    config = SandboxConfig(
        host=args.host,
        port=args.port,
        tenants=args.tenants,
        groups=args.groups,
        users=args.users,
        seed=args.seed,
        latency_ms=args.latency_ms,
        error_rate=args.error_rate,
        timeout_rate=args.timeout_rate,
        media_kb=args.media_kb,
        credentials=os.environ.get("REWIND_SANDBOX_CREDENTIALS") or None,
    )

    async def run() -> None:
        runner, url = await start_sandbox(config)
        print(f"sandbox PBX listening on {url}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


def _add_sandbox_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("sandbox", help="run a sandbox PBX speaking the XiVO 1.0 conventions")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8090)
    p.add_argument("--tenants", type=int, default=2)
    p.add_argument("--groups", type=int, default=2, help="groups per tenant")
    p.add_argument("--users", type=int, default=10, help="users per group")
    p.add_argument("--seed", type=int, default=1, help="changes content, never ids")
    p.add_argument("--latency-ms", type=float, default=0)
    p.add_argument("--error-rate", type=float, default=0.0, help="share of HTTP 500 answers")
    p.add_argument("--timeout-rate", type=float, default=0.0, help="share of hung requests")
    p.add_argument("--media-kb", type=int, default=64, help="size of each audio file")
    p.set_defaults(func=cmd_sandbox)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rewind",
        description="Event-sourced backup and restore for multi-tenant PBX configuration.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    add_serve_parser(sub)
    _add_sandbox_parser(sub)
    p = sub.add_parser("worker", help="run a worker alone (no API), for scale-out")
    p.add_argument("--data-dir", default=None, help="default: $REWIND_DATA_DIR or ./rewind-data")
    p.add_argument("--worker-id", default=None, help="stable id (resumes its own jobs at once)")
    p.add_argument("--metrics-port", type=int, default=None, help="serve /metrics on this port")
    p.add_argument("--metrics-host", default="127.0.0.1", help="address of --metrics-port")
    p.set_defaults(func=cmd_worker)
    p = sub.add_parser("replay", help="rebuild every view from the event log")
    p.add_argument("--check", action="store_true", help="compare with the live views; exit 1")
    p.add_argument("--data-dir", default=None, help="default: $REWIND_DATA_DIR or ./rewind-data")
    p.set_defaults(func=cmd_replay)
    p = sub.add_parser("history", help="print the audit trail of one backup, restore or host")
    p.add_argument("id", help="the backup's (or restore's) id")
    p.add_argument("--data-dir", default=None, help="default: $REWIND_DATA_DIR or ./rewind-data")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--url", default=None, help="ask a running server instead (or $REWIND_URL)")
    p.add_argument("--token", default=None, help="with --url (default: $REWIND_TOKEN)")
    p.set_defaults(func=cmd_history)
    add_client_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


if __name__ == "__main__":
    raise SystemExit(main())
