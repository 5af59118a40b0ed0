"""Credentials written into a URL (``http://user:password@pbx``). A URL is printed, logged,
echoed and recorded as it is, so a password in it would go wherever the URL goes: the user
info is taken out before the URL goes anywhere, and handled as the credentials it is (sealed
with a host's, or sent in the PBX client's Authorization header)."""

from __future__ import annotations

from yarl import URL


def split_user_info(url: str) -> tuple[str, str | None]:
    """``url`` without its user info, and that user info as credentials (``"user:password"``;
    None when there is none). ValueError when ``url`` cannot be parsed."""
    parsed = URL(url)
    if "@" not in parsed.raw_authority:
        return url, None
    bare = str(parsed.with_user(None))
    if parsed.user is None and parsed.password is None:
        return bare, None
    return bare, f"{parsed.user or ''}:{parsed.password or ''}"
