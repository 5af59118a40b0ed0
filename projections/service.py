"""Keeping the views up to date in a running server: the library's ProjectionRunner,
supervised. A runner whose projection raises stops for good; the supervisor
records the error (``/readyz`` shows it), waits with exponential backoff and starts a new
runner, which resumes from the view's tracking position.

A views store found damaged (SQLite's header or schema unreadable when the service starts,
or ``request_rebuild`` after a full check) is set aside and the views are rebuilt from the
log by a fresh runner: they are derived data, the log has everything."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import structlog
from eventsourcing.projection import ProjectionRunner

from adapters.event_store import VIEWS_NAME, application_env
from adapters.settings import Settings
from adapters.store_health import quick_check, set_aside
from domain.application import RewindApplication
from projections.batch_runner import BatchingProjectionRunner
from projections.projection import RewindProjection
from projections.views import PostgresViews, SQLiteViews, ViewsMixin
from projections.waiter import PositionWaiter

log = structlog.get_logger("rewind.views")

BACKOFF_START = 0.1
BACKOFF_MAX = 10.0


def view_class_for(settings: Settings) -> type[Any]:
    return PostgresViews if settings.database_url is not None else SQLiteViews


class ViewsService:
    """Runs the projection for this process and answers "is my write visible yet?"."""

    def __init__(self, settings: Settings) -> None:
        self.env = application_env(settings)
        self.view_class = view_class_for(settings)
        self.waiter = PositionWaiter()
        self.runner: ProjectionRunner[Any, Any] | None = None
        self.last_error: str | None = None
        self.restarts = 0
        self._rebuild: str | None = None

    @property
    def view(self) -> ViewsMixin:
        if self.runner is None:
            raise RuntimeError("the views are not running yet")
        view: ViewsMixin = self.runner.view
        return view

    @property
    def running(self) -> bool:
        return self.runner is not None and not self.runner.is_interrupted.is_set()

    @property
    def sqlite_path(self) -> Path | None:
        """The views' SQLite file; None on PostgreSQL."""
        name = self.env.get(f"{VIEWS_NAME.upper()}_SQLITE_DBNAME")
        if self.env.get("PERSISTENCE_MODULE") != "eventsourcing.sqlite" or not name:
            return None
        return Path(name)

    def request_rebuild(self, problem: str) -> None:
        """Set the views store aside and rebuild it from the log: done by the run loop,
        between two of its slices (the runner must have let go of the file first)."""
        self._rebuild = problem

    def _set_aside(self, problem: str) -> None:
        path = self.sqlite_path
        if path is None:
            return
        aside = set_aside(path)
        self.waiter.reset()
        log.warning(
            "views store damaged: set aside, rebuilding the views from the event log",
            file=str(path),
            set_aside_as=aside.name,
            problem=problem,
        )

    def _set_aside_if_unreadable(self) -> None:
        path = self.sqlite_path
        try:
            problem = None if path is None else quick_check(path, full=False)
        except sqlite3.Error as error:  # not damage (locked, unopenable): the runner will say
            log.warning("views store not checked", file=str(path), error=str(error))
            return
        if problem is not None:
            self._set_aside(problem)

    def _start_runner(self) -> ProjectionRunner[Any, Any]:
        runner: ProjectionRunner[Any, Any] = BatchingProjectionRunner(
            application_class=RewindApplication,
            projection_class=RewindProjection,
            view_class=self.view_class,
            env=self.env,
        )
        view: ViewsMixin = runner.view
        view.on_applied = self.waiter.advance
        self.waiter.advance(runner.view.max_tracking_id(runner.app_name) or 0)
        return runner

    @staticmethod
    def _stop_runner(runner: ProjectionRunner[Any, Any]) -> None:
        with contextlib.suppress(Exception):
            runner.__exit__(None, None, None)

    async def run(self) -> None:
        """Until cancelled: keep a runner going, restarting it with backoff on errors."""
        backoff = BACKOFF_START
        try:
            await asyncio.to_thread(self._set_aside_if_unreadable)
            while True:
                runner = await asyncio.to_thread(self._start_runner)
                self.runner = runner
                try:
                    while self._rebuild is None:
                        await asyncio.to_thread(runner.run_forever, 0.5)
                        if runner.is_interrupted.is_set():
                            raise RuntimeError("the projection stopped")
                        if self.last_error is not None:
                            self.last_error = None
                            backoff = BACKOFF_START
                    problem, self._rebuild = self._rebuild, None
                    await asyncio.to_thread(self._stop_runner, runner)
                    await asyncio.to_thread(self._set_aside, problem)
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    self.last_error = f"{type(error).__name__}: {error}"
                    self.restarts += 1
                    log.error(
                        "projection failed; restarting", error=self.last_error, backoff_s=backoff
                    )
                    await asyncio.to_thread(self._stop_runner, runner)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, BACKOFF_MAX)
        finally:
            if self.runner is not None:
                await asyncio.to_thread(self._stop_runner, self.runner)

    def lag(self, head: int) -> int:
        return max(0, head - self.waiter.position)
