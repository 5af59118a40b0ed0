"""SQLite views insert a batch's rows a few statements at a time; every statement size is
one SQLite compiles and keeps per connection, so the sizes must be few whatever the
batches are (a server catching up on varied batches must not keep hundreds of MiB)."""

from __future__ import annotations

from projections.views import statement_sizes


def test_every_row_is_inserted_once_by_statements_of_few_sizes() -> None:
    seen: set[int] = set()
    for rows in range(1, 5_000):
        sizes = list(statement_sizes(rows, 1024))
        assert sum(sizes) == rows
        assert all(0 < size <= 1024 for size in sizes)
        seen.update(sizes)
    assert seen == {1 << n for n in range(11)}  # 1, 2, 4, ..., 1024: eleven statements


def test_a_full_batch_takes_few_statements() -> None:
    assert list(statement_sizes(10_000, 1024)) == [1024] * 9 + [512, 256, 16]
    assert list(statement_sizes(0, 1024)) == []
    assert list(statement_sizes(111, 64)) == [64, 32, 8, 4, 2, 1]
