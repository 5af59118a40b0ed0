"""Processes that race in one test, forked from multiprocessing's forkserver: a fresh process
(not the test's, so nothing but the store or the disk is shared) that has imported the code
under test once. Each racer is still its own process, opening its own application and
connections as a spawned one would, without first spending about a second of CPU on imports
(tests start two to eight of them, on two cores)."""

from __future__ import annotations

import multiprocessing as mp
from multiprocessing.context import ForkServerContext

PRELOAD = ["pytest", "domain.application", "adapters.event_store", "tests.support.stores"]


def racer_context(module: str) -> ForkServerContext:
    """The forkserver context; ``module`` (the caller's ``__name__``, where the racers'
    functions live) is preloaded too when this call is the one that starts the server."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload([*PRELOAD, module])
    return ctx
