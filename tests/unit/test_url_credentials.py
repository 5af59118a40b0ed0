"""A password written into a URL: what is taken out of a host's URL at registration
(adapters.url_credentials) and what the audit trail hides in one an older version recorded
(domain.audit) must be all of it, whatever the password holds."""

from __future__ import annotations

import pytest

from adapters.url_credentials import split_user_info
from domain.audit import redact, without_user_info

CASES = [
    ("http://backup:s3cret@pbx:8080/api", "http://pbx:8080/api", "backup:s3cret"),
    ("https://backup:p@ss@pbx", "https://pbx", "backup:p@ss"),  # an "@" in the password
    ("http://token@pbx", "http://pbx", "token:"),
    ("http://:s3cret@pbx/", "http://pbx/", ":s3cret"),
    ("http://pbx:8080/a@b?c=@d", "http://pbx:8080/a@b?c=@d", None),  # not user info
    ("http://pbx", "http://pbx", None),
]


@pytest.mark.parametrize(("url", "bare", "credentials"), CASES)
def test_user_info_is_taken_out_whole(url: str, bare: str, credentials: str | None) -> None:
    assert split_user_info(url) == (bare, credentials)
    assert without_user_info(url) == bare


def test_the_audit_trail_hides_it_at_any_depth() -> None:
    payload = {"settings": {"base_url": "http://u:pw@pbx", "name": "pbx"}}
    shown = {"settings": {"base_url": "http://pbx", "name": "pbx"}}
    assert redact({"items": [payload], **payload}) == {"items": [shown], **shown}
