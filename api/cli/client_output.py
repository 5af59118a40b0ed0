"""What the ``rewind`` client prints: JSON lines for scripts (``--json``), and for people the
coloured statuses, a watched job's live progress bar and outcome line, a diff, and event
lines. The commands that call these are in api.cli.client_commands.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from api.cli.client_http import EXIT_JOB_FAILED, EXIT_OK, RewindClient
from domain.lifecycle import FINISHED_STATUSES

FINISHED = FINISHED_STATUSES
"""A watched job stops here (DELETING: someone deleted it meanwhile)."""

STATUS_STYLE = {
    "SUCCESS": "bold green",
    "FAILED": "bold red",
    "MISSING": "bold red",
    "IN_PROGRESS": "cyan",
    "INITIALIZING": "yellow",
    "CANCELLING": "magenta",
    "DELETING": "dim",
}
PIPE_WIDTH = 200
"""Width of tables written to a pipe or file (a terminal's own width otherwise)."""
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else PIPE_WIDTH)
err = Console(stderr=True, highlight=False, soft_wrap=True)


# --------------------------------------------------------------------------- JSON and statuses
def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=None, sort_keys=True) + "\n")
    sys.stdout.flush()


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLE.get(status, ""))


# --------------------------------------------------------------------------- watching
def _job_line(kind: str, view: dict[str, Any]) -> str:
    progress = view.get("progress") or {}
    done, total = progress.get("done", 0), progress.get("total")
    parts = [
        f"{kind} {view['id']} {view['status']}",
        f"{done}/{total if total is not None else '?'} entities",
        f"{view.get('successful_calls', 0)} calls ok, {view.get('error_calls', 0)} errors",
    ]
    if view.get("skipped"):
        parts.append(f"{len(view['skipped'])} skipped (the backup could not read them)")
    if view.get("failure_reason"):
        parts.append(f"reason: {view['failure_reason']}")
    return ", ".join(parts)


def watch_job(
    client: RewindClient, kind: str, path: str, quiet: bool, interval: float = 0.25
) -> dict[str, Any]:
    """Poll the job until it ends, with a live bar on stderr (none when ``quiet``)."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("calls [green]{task.fields[ok]} ok[/] / [red]{task.fields[errors]} err[/]"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, disable=quiet, transient=False) as progress:
        task = progress.add_task(kind, total=None, ok=0, errors=0)
        while True:
            view: dict[str, Any] = client.get(path)
            counts = view.get("progress") or {}
            progress.update(
                task,
                description=f"{kind} {view['id'][:8]} {view['status']}",
                total=counts.get("total"),
                completed=counts.get("done", 0),
                ok=view.get("successful_calls", 0),
                errors=view.get("error_calls", 0),
            )
            if view["status"] in FINISHED:
                return view
            time.sleep(interval)


def finish(args: argparse.Namespace, kind: str, view: dict[str, Any]) -> int:
    """Print the outcome; 0 only for SUCCESS."""
    if args.json:
        emit_json(view)
    else:
        style = STATUS_STYLE.get(view["status"], "")
        out.print(Text(_job_line(kind, view), style=style))
    return EXIT_OK if view["status"] == "SUCCESS" else EXIT_JOB_FAILED


# --------------------------------------------------------------------------- diffs
DIFF_PARTS = (
    ("added", "+ ", "green"),
    ("removed", "- ", "red"),
    ("changed", "~ ", "yellow"),
    ("media_added", "+ media ", "green"),
    ("media_removed", "- media ", "red"),
    ("media_changed", "~ media ", "yellow"),
)
"""The diff's lists (adapters.restore_diff.StateDiff), in order, with a sign and a colour."""


def print_diff(diff: dict[str, Any], skipped: list[dict[str, Any]] | None = None) -> None:
    for part, sign, style in DIFF_PARTS:
        for item in diff.get(part, []):
            key = item if isinstance(item, str) else item["key"]
            out.print(Text(f"{sign}{key}", style=style))
            for f in item.get("fields", []) if isinstance(item, dict) else []:
                old, new = json.dumps(f.get("old")), json.dumps(f.get("new"))
                out.print(f"    {f['op']:<7} {f['path']}: {old[:60]} -> {new[:60]}", markup=False)
    if not any(diff.values()):
        out.print("no differences")
    for item in skipped or []:
        out.print(f"? {item['key']} skipped: {item['reason']}", markup=False, style="magenta")


# --------------------------------------------------------------------------- events
def event_line(event: dict[str, Any]) -> str:
    payload = event.get("payload") or {}
    detail = payload.get("key") or payload.get("reason") or payload.get("worker_id") or ""
    return (
        f"{event['position']:>7} {event['time'][:23]} {event['type']:<26} "
        f"{event['aggregate_id']} by {event.get('principal') or '-'} {detail}".rstrip()
    )
