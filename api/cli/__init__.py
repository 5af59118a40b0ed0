"""The ``rewind`` command line: serve, worker, sandbox and the client commands."""

from api.cli.main import main

__all__ = ["main"]
