"""``rewind serve``: API, worker and (with --demo) a sandbox PBX in one process."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from pathlib import Path

from adapters.logging_setup import configure_logging
from adapters.settings import Settings


def add_serve_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the API and a worker (SQLite under ./rewind-data)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--data-dir", default=None, help="default: $REWIND_DATA_DIR or ./rewind-data")
    p.add_argument("--pbx", default=None, metavar="URL", help="register this PBX as host 'default'")
    p.add_argument("--demo", action="store_true", help="also run a sandbox PBX as host 'default'")
    p.add_argument("--no-worker", action="store_true", help="API only (scale-out)")
    p.set_defaults(func=cmd_serve)


def _print_demo_help(base: str, token: str | None) -> None:
    """Print a curl walk; the header is double-quoted so ``$REWIND_ADMIN_TOKEN`` expands."""
    shown = token or "$REWIND_ADMIN_TOKEN"
    print(
        f"admin token (shown once, keep it): {token}"
        if token
        else "admin token: $REWIND_ADMIN_TOKEN, or the one printed on the first start"
    )
    print("try a backup of a demo group:")
    print(
        f'  curl -s -X POST {base}/api/v1/backups -H "Authorization: Bearer {shown}" '
        "-H 'Content-Type: application/json' "
        '-d \'{"tenant_id": "t01", "group_id": "t01-g01", "download_announcement_files": true}\''
    )
    print(f'  curl -s {base}/api/v1/backups/ID -H "Authorization: Bearer {shown}"', flush=True)


async def _serve(args: argparse.Namespace, settings: Settings) -> None:
    # Imported here, not at the top: the client commands share this module's parser and
    # should not pay for loading the whole server.
    from aiohttp import web

    from adapters.secrets import admin_token_hash
    from api.core.admin_bootstrap import NEW_ADMIN_TOKEN
    from api.core.app import DEMO_URL, ServeOptions, create_app
    from api.core.startup_checks import startup_problem

    env_token = settings.admin_token.get_secret_value() if settings.admin_token else None
    options = ServeOptions(
        settings=settings,
        admin_token_hash=admin_token_hash(env_token),
        pbx_url=args.pbx,
        demo=args.demo,
        run_worker=not args.no_worker,
    )
    app = create_app(options)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    try:
        await runner.setup()
    except Exception as error:
        line = startup_problem(error, settings.data_dir)
        if line is None:
            raise
        with contextlib.suppress(Exception):  # what did start is stopped; the line says why
            await runner.cleanup()
        raise SystemExit(f"rewind serve: {line}") from None
    site = web.TCPSite(runner, args.host, args.port)
    try:
        await site.start()
    except OSError as error:
        await runner.cleanup()
        raise SystemExit(
            f"rewind serve: cannot listen on {args.host}:{args.port}: "
            f"{error.strerror} (another server? choose one with --port)"
        ) from None
    base = f"http://{args.host}:{args.port}"
    new_token = app.get(NEW_ADMIN_TOKEN)
    print(f"listening on {base}", flush=True)
    if new_token and not args.demo:
        print(f"admin token (shown once, keep it): {new_token}", flush=True)
    if args.demo:
        print(f"demo sandbox PBX at {app[DEMO_URL]} (host 'default')")
        _print_demo_help(base, new_token)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def cmd_serve(args: argparse.Namespace) -> int:
    settings = Settings()
    if args.data_dir is not None:
        settings = settings.model_copy(update={"data_dir": Path(args.data_dir)})
    configure_logging(settings)
    from api.core.startup_checks import StartupRefused, probe_data_dir

    try:
        probe_data_dir(settings.data_dir)
    except StartupRefused as refused:
        raise SystemExit(f"rewind serve: {refused}") from None
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args, settings))
    return 0
