"""Who is calling: the principal contract shared by the REST API, the HMI and business.

Until the business layer provides database-backed users, the tag server
authenticates machine clients by the API tokens configured in the site
(``server.api.tokens``). The business package installs its own
:class:`Authenticator` at start-up; everything else only sees this contract.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: user name, roles, permissions and the scopes they apply to.

    ``scopes`` holds scope strings such as ``"property:demo"`` or ``"building:tower-a"``;
    ``"*"`` means everywhere.
    """

    user: str
    roles: frozenset[str] = frozenset()
    permissions: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset({"*"})
    attributes: dict = field(default_factory=dict, compare=False, hash=False)

    def can(self, permission: str, scope: str | None = None) -> bool:
        """True when the principal holds ``permission`` in ``scope`` (or everywhere)."""
        if permission not in self.permissions and "*" not in self.permissions:
            return False
        return scope is None or "*" in self.scopes or scope in self.scopes


@runtime_checkable
class Authenticator(Protocol):
    """Turns request credentials into a principal."""

    def authenticate_token(self, token: str) -> Principal | None:
        """The principal for a bearer token, or None."""

    def authenticate_password(self, user: str, password: str) -> Principal | None:
        """The principal for a user name and password, or None (lockout applies)."""


class TokenAuthenticator:
    """Static API tokens from the site config: ``{token: {user, permissions}}``."""

    def __init__(self, tokens: dict[str, dict] | None = None) -> None:
        self._tokens = dict(tokens or {})

    def authenticate_token(self, token: str) -> Principal | None:
        """Constant-time comparison against every configured token."""
        found = None
        for known, info in self._tokens.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                found = info
        if found is None:
            return None
        return Principal(user=found.get("user", "api"), roles=frozenset(found.get("roles", ["api"])),
                         permissions=frozenset(found.get("permissions", ["tags.read", "tags.write"])))

    def authenticate_password(self, user: str, password: str) -> Principal | None:
        """Static tokens have no passwords."""
        return None
