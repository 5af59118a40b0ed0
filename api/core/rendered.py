"""Answers rendered from view rows, kept while the row is the very same object.

The poll view's row cache (projections.row_cache) hands out the same row object until an
event of its backup changes it; a client polling a backup asks for the same JSON again and
again meanwhile. Rendering it (a pydantic view, then its JSON) was the largest part of
answering ``GET /api/v1/backups/{id}`` (measured under polling load), so the bytes are kept beside
the row they came from and reused only when the row handed out is that same object: a changed row
is a new object (rows are never mutated), so a stale answer cannot be served."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

Row = TypeVar("Row")

MAX_ANSWERS = 2_000


class RenderedAnswers(Generic[Row]):
    """key -> (row, rendered bytes); the oldest entry goes first when full."""

    def __init__(self, render: Callable[[Row], bytes], max_answers: int = MAX_ANSWERS) -> None:
        self._render = render
        self.max_answers = max_answers
        self._answers: dict[str, tuple[Row, bytes]] = {}

    def of(self, key: str, row: Row) -> bytes:
        kept = self._answers.get(key)
        if kept is not None and kept[0] is row:
            return kept[1]
        body = self._render(row)
        self._answers.pop(key, None)
        self._answers[key] = (row, body)
        if len(self._answers) > self.max_answers:
            del self._answers[next(iter(self._answers))]
        return body
