"""Benchmarks (not tests): each measures what a user feels as a ratio against a limit
measured in the same run, prints its figures and ends with one ``RATIO`` line.

Run one with ``python -m bench P1`` (P1..P8), all with ``python -m bench all``; ``--quick``
runs each at a tiny size (what tests/integration/test_bench_smoke.py does). See
bench/README.md for the figures and what bounds each one.
"""
