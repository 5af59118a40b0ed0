"""Where the client commands find their server and token: flags, then the environment, then
the config file, then the default URL; a bad URL or config file is a usage error (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.cli.client_http import DEFAULT_URL, EXIT_USAGE, ClientError, resolve_connection


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("REWIND_URL", "REWIND_TOKEN", "REWIND_ADMIN_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "client.toml"
    monkeypatch.setenv("REWIND_CLIENT_CONFIG", str(path))
    return path


def test_flags_win_over_environment_and_file(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config.write_text('url = "http://file:1"\ntoken = "file-token"\n')
    monkeypatch.setenv("REWIND_URL", "http://env:2")
    monkeypatch.setenv("REWIND_TOKEN", "env-token")
    connection = resolve_connection("http://flag:3/", "flag-token")
    assert (connection.url, connection.token) == ("http://flag:3", "flag-token")
    connection = resolve_connection(None, None)
    assert (connection.url, connection.token) == ("http://env:2", "env-token")


def test_the_file_fills_what_the_environment_lacks(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config.write_text('url = "http://file:1"\ntoken = "file-token"\n')
    monkeypatch.setenv("REWIND_URL", "http://env:2")
    connection = resolve_connection(None, None)
    assert (connection.url, connection.token) == ("http://env:2", "file-token")
    assert "file-token" not in repr(connection)


def test_nothing_configured_means_the_default_url_and_no_token(config: Path) -> None:
    connection = resolve_connection(None, None)
    assert (connection.url, connection.token) == (DEFAULT_URL, None)


@pytest.mark.parametrize("content", ["url = [unclosed", None])
def test_bad_config_or_url_is_a_usage_error(config: Path, content: str | None) -> None:
    if content is not None:
        config.write_text(content)
        with pytest.raises(ClientError) as caught:
            resolve_connection(None, None)
    else:
        with pytest.raises(ClientError) as caught:
            resolve_connection("ftp://somewhere", "t")
    assert caught.value.exit_code == EXIT_USAGE
