"""API tokens: issued for a secret's hash (never the secret), revoked, and the bootstrap
admin token a first start or REWIND_ADMIN_TOKEN pins."""

from __future__ import annotations

from uuid import UUID

from domain.application.base import ApplicationBase
from domain.errors import NotFound
from domain.model import Aggregate
from domain.token import BOOTSTRAP_NAME, Role, Token, TokenDirectory, TokenSpec, token_uuid


class TokenCommands(ApplicationBase):
    """Issue, revoke, find and list tokens."""

    def _token_directory(self) -> TokenDirectory:
        return self._get_or_open(TokenDirectory, TokenDirectory.create_id())

    def issue_token(
        self, token_hash: str, spec: TokenSpec, principal: str, bootstrap: bool = False
    ) -> Token:
        """Issue a token for a secret's hash; its name must be free among active tokens."""

        def command() -> Token:
            token = Token(token_hash=token_hash, spec=spec, principal=principal)
            directory = self._token_directory()
            directory.add(token.id, spec.name, bootstrap)
            self.save(token, directory)
            return token

        return self._retrying(command)

    def revoke_token(self, token_id: UUID, principal: str) -> Token:
        """Revoke a token (idempotent) and free its name."""

        def command() -> Token:
            token = self.get_token(token_id)
            token.revoke(principal)
            directory = self._token_directory()
            directory.release(token.id, token.spec.name)
            self.save(token, directory)
            return token

        return self._retrying(command)

    def find_token(self, token_hash: str) -> Token | None:
        """The token whose secret hashes to ``token_hash`` (one keyed read), if any."""
        try:
            return self.get_token(token_uuid(token_hash))
        except NotFound:
            return None

    def list_tokens(self) -> list[Token]:
        return [self.get_token(i) for i in self._token_directory().token_ids]

    def bootstrap_admin(self, token_hash: str, pinned: bool) -> bool:
        """Make ``token_hash`` the bootstrap admin token. ``pinned`` (REWIND_ADMIN_TOKEN)
        replaces a previous bootstrap token (revoking it); otherwise the hash is used only
        when there has never been one (a first start). True when the token was issued."""

        def command() -> bool:
            directory = self._token_directory()
            current = directory.bootstrap_id
            wanted = token_uuid(token_hash)
            if current == wanted or (current is not None and not pinned):
                return False
            if wanted in self.repository:
                return False  # this secret was issued before and may be revoked: keep it so
            changed: list[Aggregate] = [directory]
            if current is not None:
                old = self.get_token(current)
                old.revoke("system")
                directory.release(old.id, old.spec.name)
                changed.append(old)
            token = Token(
                token_hash=token_hash,
                spec=TokenSpec(name=BOOTSTRAP_NAME, role=Role.ADMIN),
                principal="system",
            )
            directory.add(token.id, BOOTSTRAP_NAME, bootstrap=True)
            self.save(token, *changed)
            return True

        return self._retrying(command)
