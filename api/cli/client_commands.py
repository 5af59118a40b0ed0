"""``rewind backup|restore|events`` (and ``rewind history ID --url``): a client of a running
server, for people (tables, colours, a live progress bar) and for scripts (``--json`` on
every command, and exit codes they can rely on, see api.cli.client_http: 0 ok, 1 the job did not
succeed, 2 usage, 3 refused by the server, 4 server unreachable or failing, 130 interrupted).

Everything goes through the native HTTP API; nothing here touches the data directory. What
the commands print, and the live progress of a watched job, is in api.cli.client_output.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

from api.cli.client_http import (
    EXIT_OK,
    EXIT_REFUSED,
    ClientError,
    RewindClient,
    resolve_connection,
)
from api.cli.client_output import (
    emit_json,
    err,
    event_line,
    finish,
    out,
    print_diff,
    status_text,
    watch_job,
)

Command = Callable[[argparse.Namespace, RewindClient], int]


# --------------------------------------------------------------------------- plumbing
def run_command(command: Command) -> Callable[[argparse.Namespace], int]:
    """Resolve the connection, run ``command``, and turn failures into exit codes with one
    line on stderr (never a traceback, never the token)."""

    def run(args: argparse.Namespace) -> int:
        try:
            client = RewindClient(resolve_connection(args.url, args.token))
            return command(args, client)
        except ClientError as error:
            name = " ".join(filter(None, (args.command, getattr(args, "verb", None))))
            err.print(f"rewind {name}: {error.message}", markup=False)
            return error.exit_code
        except KeyboardInterrupt:
            err.print("interrupted")
            return 130

    return run


def add_connection_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", default=None, help="server URL (default: $REWIND_URL, config file)")
    p.add_argument("--token", default=None, help="API token (default: $REWIND_TOKEN, config)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


# --------------------------------------------------------------------------- backups
def backup_body(args: argparse.Namespace) -> dict[str, Any]:
    """The POST /api/v1/backups body, with only what the user set (server defaults apply)."""
    body: dict[str, Any] = {
        "tenant_id": args.tenant,
        "group_id": args.group,
        "host_id": args.host,
        "group": args.group_entity,
        "user": args.user_entity,
        "formats": args.format,
        "name": args.name,
        "description": args.description,
        "type": args.type,
        "kind": args.kind,
    }
    body = {k: v for k, v in body.items() if v is not None}
    if args.download_files:
        body["download_announcement_files"] = True
    if args.force:
        body["force_backup"] = True
    return body


def cmd_backup_start(args: argparse.Namespace, client: RewindClient) -> int:
    accepted: dict[str, Any] = client.post("/api/v1/backups", backup_body(args))
    if not args.watch:
        if args.json:
            emit_json(accepted)
        else:
            out.print(f"backup {accepted['id']} accepted ({accepted['reference_id']})")
        return EXIT_OK
    if not args.json:
        err.print(f"backup {accepted['id']} accepted; watching (Ctrl-C stops watching only)")
    view = watch_job(client, "backup", f"/api/v1/backups/{accepted['id']}", quiet=args.json)
    return finish(args, "backup", view)


def cmd_backup_watch(args: argparse.Namespace, client: RewindClient) -> int:
    view = watch_job(client, "backup", f"/api/v1/backups/{args.id}", quiet=args.json)
    return finish(args, "backup", view)


def cmd_backup_list(args: argparse.Namespace, client: RewindClient) -> int:
    page = client.get(
        "/api/v1/backups",
        tenant_id=args.tenant,
        group_id=args.group,
        host_id=args.host,
        status=args.status,
        kind=args.kind,
        _page=args.page,
        _pagesize=args.pagesize,
    )
    if args.json:
        emit_json(page)
        return EXIT_OK
    table = Table(title=f"{len(page['items'])} of {page['total']} backups", title_justify="left")
    for column in ("id", "name", "status", "scope", "progress", "calls ok/err", "started"):
        table.add_column(column, no_wrap=column in ("id", "status"))
    for b in page["items"]:
        progress = b["progress"]
        total = "?" if progress["total"] is None else progress["total"]
        table.add_row(
            b["id"],
            b["name"],
            status_text(b["status"]),
            "/".join(x for x in (b["host_id"], b["tenant_id"], b["group_id"]) if x),
            f"{progress['done']}/{total}",
            f"{b['successful_calls']}/{b['error_calls']}",
            (b["start_datetime"] or "")[:19].replace("T", " "),
        )
    out.print(table)
    return EXIT_OK


def _show(view: dict[str, Any]) -> None:
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    for key, value in view.items():
        shown: Any = status_text(value) if key == "status" else Text(json.dumps(value))
        if isinstance(value, str) and key != "status":
            shown = Text(value)
        table.add_row(key, shown)
    out.print(table)


def cmd_backup_show(args: argparse.Namespace, client: RewindClient) -> int:
    view = client.get(f"/api/v1/backups/{args.id}")
    emit_json(view) if args.json else _show(view)
    return EXIT_OK


def cmd_backup_report(args: argparse.Namespace, client: RewindClient) -> int:
    report = client.get(f"/api/v1/backups/{args.id}/report", type=args.type)
    if args.format == "xml" and not args.json:
        from adapters.renderers import render_xml

        sys.stdout.write(render_xml(report, root="report").decode() + "\n")
    else:
        sys.stdout.write(json.dumps(report, indent=None if args.json else 2) + "\n")
    return EXIT_OK


def cmd_backup_download(args: argparse.Namespace, client: RewindClient) -> int:
    target = Path(args.output or f"rewind-{args.id}.tar")
    partial = target.with_name(target.name + ".part")
    try:
        with partial.open("wb") as fh:
            size = client.download(f"/api/v1/backups/{args.id}/archive", fh)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    if args.json:
        emit_json({"id": args.id, "path": str(target), "bytes": size})
    else:
        out.print(f"wrote {size:,} bytes to {target}")
    return EXIT_OK


def cmd_backup_diff(args: argparse.Namespace, client: RewindClient) -> int:
    answer = client.get(f"/api/v1/backups/{args.a}/diff/{args.b}")
    emit_json(answer) if args.json else print_diff(answer["diff"], answer.get("skipped"))
    return EXIT_OK


def cmd_backup_cancel(args: argparse.Namespace, client: RewindClient) -> int:
    accepted = client.post(f"/api/v1/backups/{args.id}/cancel", {})
    if args.json:
        emit_json(accepted)
    else:
        out.print(f"backup {accepted['id']} {accepted['status']}")
    return EXIT_OK


# --------------------------------------------------------------------------- restores
def cmd_restore_start(args: argparse.Namespace, client: RewindClient) -> int:
    body: dict[str, Any] = {
        "backup_id": args.backup_id,
        "dry_run": args.dry_run,
        "safety_backup": not args.no_safety_backup,
        "existing": args.existing,
        "allow_partial": args.allow_partial,
    }
    optional = {
        "target_host_id": args.target_host,
        "group": args.group_entity,
        "user": args.user_entity,
        "users": args.users,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    answer: dict[str, Any] = client.post("/api/v1/restores", body)
    if args.dry_run:
        emit_json(answer) if args.json else print_diff(answer["diff"], answer.get("skipped"))
        return EXIT_OK
    if not args.watch:
        if args.json:
            emit_json(answer)
        else:
            safety = answer.get("safety_backup_id")
            extra = f" (safety backup {safety} first)" if safety else ""
            out.print(f"restore {answer['id']} accepted{extra}")
        return EXIT_OK
    view = watch_job(client, "restore", f"/api/v1/restores/{answer['id']}", quiet=args.json)
    return finish(args, "restore", view)


# --------------------------------------------------------------------------- events
def cmd_events(args: argparse.Namespace, client: RewindClient) -> int:
    query = {
        "kind": args.kind,
        "type": args.type,
        "status": args.status,
        "tenant_id": args.tenant,
        "group_id": args.group,
        "job_id": args.job,
        "after": args.after,
        "follow": "1" if args.follow else None,
    }
    path = "/api/v1/events" if args.backup is None else f"/api/v1/backups/{args.backup}/events"
    for event in client.events(path, {k: v for k, v in query.items() if v is not None}):
        if args.json:
            emit_json(event)
        else:
            print(event_line(event), flush=True)
    return EXIT_OK


def remote_history(args: argparse.Namespace) -> int:
    """``rewind history ID --url ...``: the audit trail through the server."""

    def command(args: argparse.Namespace, client: RewindClient) -> int:
        page = client.get("/api/v1/events", job_id=args.id)
        if not page["items"]:
            raise ClientError(EXIT_REFUSED, f"no history for {args.id}")
        for event in page["items"]:
            emit_json(event) if args.json else print(event_line(event))
        return EXIT_OK

    return run_command(command)(args)


# --------------------------------------------------------------------------- parsers
def _backup_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = sub.add_parser("backup", help="backups on a running server (client)")
    verbs = backup.add_subparsers(dest="verb", required=True)

    p = verbs.add_parser("start", help="POST /api/v1/backups")
    p.add_argument("--tenant", help="tenant_id")
    p.add_argument("--group", help="group_id (needs --tenant)")
    p.add_argument("--host", help="host_id (default: the server's 'default')")
    p.add_argument("--group-entity", action="append", help="a group entity (repeat)")
    p.add_argument("--user-entity", action="append", help="a user entity (repeat)")
    p.add_argument("--format", action="append", help="json, xml, ... (repeat)")
    p.add_argument("--download-files", action="store_true", help="announcement files too")
    p.add_argument("--force", action="store_true", help="force_backup: supersede a running one")
    p.add_argument("--name")
    p.add_argument("--description")
    p.add_argument("--type", choices=["full", "incremental", "differential"])
    p.add_argument("--kind", choices=["CONFIG", "DATA"])
    p.add_argument("--watch", action="store_true", help="show progress until it ends")
    p.set_defaults(client_command=cmd_backup_start)

    p = verbs.add_parser("watch", help="show a backup's progress until it ends")
    p.add_argument("id")
    p.set_defaults(client_command=cmd_backup_watch)

    p = verbs.add_parser("list", help="GET /api/v1/backups (newest first)")
    p.add_argument("--tenant")
    p.add_argument("--group")
    p.add_argument("--host")
    p.add_argument("--status", action="append", help="repeat for several")
    p.add_argument("--kind", choices=["CONFIG", "DATA"])
    p.add_argument("--page", type=int, default=None)
    p.add_argument("--pagesize", type=int, default=None)
    p.set_defaults(client_command=cmd_backup_list)

    for verb, func, helptext in (
        ("show", cmd_backup_show, "GET /api/v1/backups/{id}"),
        ("cancel", cmd_backup_cancel, "POST /api/v1/backups/{id}/cancel"),
    ):
        p = verbs.add_parser(verb, help=helptext)
        p.add_argument("id")
        p.set_defaults(client_command=func)

    p = verbs.add_parser("report", help="GET /api/v1/backups/{id}/report")
    p.add_argument("id")
    p.add_argument("--format", choices=["json", "xml"], default="json")
    p.add_argument("--type", choices=["report", "full"], default="report")
    p.set_defaults(client_command=cmd_backup_report)

    p = verbs.add_parser("download", help="the backup's builds and media as a tar")
    p.add_argument("id")
    p.add_argument("-o", "--output", help="default: rewind-ID.tar")
    p.set_defaults(client_command=cmd_backup_download)

    p = verbs.add_parser("diff", help="what changed from backup A to backup B")
    p.add_argument("a")
    p.add_argument("b")
    p.set_defaults(client_command=cmd_backup_diff)

    for verb_parser in verbs.choices.values():
        add_connection_flags(verb_parser)
        verb_parser.set_defaults(func=run_command(verb_parser.get_default("client_command")))


def _restore_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    restore = sub.add_parser("restore", help="restores on a running server (client)")
    verbs = restore.add_subparsers(dest="verb", required=True)
    p = verbs.add_parser("start", help="POST /api/v1/restores")
    p.add_argument("backup_id")
    p.add_argument("--target-host", help="target_host_id (default: the backup's host)")
    p.add_argument("--dry-run", action="store_true", help="show what would change; no restore")
    p.add_argument("--no-safety-backup", action="store_true", help="skip the safety backup")
    p.add_argument("--existing", choices=["update", "skip"], default="update")
    p.add_argument(
        "--allow-partial",
        action="store_true",
        help="restore a backup with read errors, skipping what it could not read",
    )
    p.add_argument("--group-entity", action="append", help="restrict to these (repeat)")
    p.add_argument("--user-entity", action="append", help="restrict to these (repeat)")
    p.add_argument("--users", action="append", help="restrict to these users (repeat)")
    p.add_argument("--watch", action="store_true", help="show progress until it ends")
    add_connection_flags(p)
    p.set_defaults(func=run_command(cmd_restore_start))


def _events_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("events", help="the event feed of a running server (client)")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new events")
    p.add_argument("--backup", help="one backup's events (its followed stream ends with it)")
    p.add_argument("--kind", choices=["backup", "restore", "other"])
    p.add_argument("--type", help="event type or prefix, e.g. Job. or Backup.Requested")
    p.add_argument("--status", help="jobs now in this status")
    p.add_argument("--tenant")
    p.add_argument("--group")
    p.add_argument("--job", help="one aggregate's events")
    p.add_argument("--after", type=int, help="start after this log position")
    add_connection_flags(p)
    p.set_defaults(func=run_command(cmd_events))


def add_client_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _backup_parsers(sub)
    _restore_parsers(sub)
    _events_parser(sub)
