"""Signing in to the HMI with the project's users (``ctx.auth``), and what each role may do.

The business layer installs a database-backed authenticator with argon2
password hashes and sessions; the HMI never sees or stores a password beyond
the login call. A browser that already holds the ``spms_session`` cookie (from
the REST or manager-view login) is let straight in.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from tagdb.auth import Principal

from .aio import run

log = logging.getLogger(__name__)

VIEW, COMMAND, ACK, SHELVE = "hmi.view", "hmi.command", "alarms.ack", "alarms.shelve"


class LoginFailed(Exception):
    """Wrong user name or password, a locked account, or no HMI permission.

    ``key`` and ``fields`` name the HMI text (:mod:`hmi.i18n`) of the refusals the HMI itself decides, so the
    login page shows them in its language; refusals of the identity service carry only their own message.
    """

    def __init__(self, message: str, key: str | None = None, **fields) -> None:
        super().__init__(message)
        self.key = key
        self.fields = fields


async def login(auth: Any, username: str, password: str) -> tuple[Principal, str | None]:
    """Check the credentials; returns the principal and a session token (when the authenticator has sessions)."""
    if not username or not password:
        raise LoginFailed("enter a user name and a password", "login.empty")
    if hasattr(auth, "login"):
        try:
            result = await run(auth.login(username, password))
        except Exception as exc:  # AuthenticationRequired, AccountLocked: both carry an operator-readable text
            log.info("HMI login refused for %r: %s", username, exc)
            if not str(exc):
                raise LoginFailed("wrong user name or password", "login.wrong") from None
            raise LoginFailed(str(exc)) from None
        principal = auth.authenticate_token(result["token"])
        token = result["token"]
    else:
        loop = asyncio.get_running_loop()
        principal = await loop.run_in_executor(None, auth.authenticate_password, username, password)
        token = None
    if principal is None:
        raise LoginFailed("wrong user name or password", "login.wrong")
    if not principal.can(VIEW):
        raise LoginFailed(f"user {principal.user!r} has no HMI access (permission {VIEW})", "login.no_access",
                          user=repr(principal.user), permission=VIEW)
    return principal, token


def from_cookie(auth: Any, cookies: dict | None) -> Principal | None:
    """The principal of an existing ``spms_session`` cookie, when it is valid and may view the HMI."""
    token = (cookies or {}).get("spms_session")
    if not token:
        return None
    principal = auth.authenticate_token(token)
    return principal if principal is not None and principal.can(VIEW) else None


def can_command(principal: Principal | None) -> bool:
    """Operators and engineers may command; viewers only view."""
    return principal is not None and principal.can(COMMAND)
