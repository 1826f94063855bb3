"""The database-backed :class:`tagdb.auth.Authenticator` installed as ``ctx.auth``.

``authenticate_token`` is called synchronously by the tag REST API and the HMI
on the reactor thread, so it never touches the database: valid sessions and
API tokens are kept in memory (keyed by their SHA-256 digest) and the cache is
refreshed from the database after every change made through this process and
periodically (for changes made by the CLI in another process). Logins run the
argon2 check and the lockout bookkeeping on the database worker pool.
Static tokens from ``server.api.tokens`` keep working through ``fallback``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import func, select

from tagdb.auth import Principal

from .database import Database
from .errors import AuthenticationRequired
from .identity import LockoutPolicy, digest, new_session, principal_of, revoke_session, verify_password
from .models import ApiToken, RoleGrant, User, WebSession

log = logging.getLogger(__name__)


class DbAuthenticator:
    """Users, sessions and API tokens from the business database."""

    def __init__(self, db: Database, clock: Callable[[], datetime], hasher, policy: LockoutPolicy,
                 session_lifetime_s: float = 8 * 3600, fallback: Any = None) -> None:
        self.db = db
        self.clock = clock
        self.hasher = hasher
        self.policy = policy
        self.session_lifetime_s = session_lifetime_s
        self.fallback = fallback
        self._cache: dict[str, tuple[datetime | None, Principal]] = {}
        # logins and logouts that happen while a refresh is loading must survive its result
        self._added: dict[str, tuple[datetime | None, Principal]] = {}
        self._removed: set[str] = set()
        self._signature: tuple | None = None

    # -- the shared Authenticator protocol --------------------------------------
    def authenticate_token(self, token: str) -> Principal | None:
        """The principal for a valid session or API token (memory only; never blocks)."""
        if not isinstance(token, str) or not token:
            return None
        entry = self._cache.get(digest(token))
        if entry is not None:
            expires, principal = entry
            if expires is None or expires > self.clock():
                return principal
            self._cache.pop(digest(token), None)
            return None
        return self.fallback.authenticate_token(token) if self.fallback is not None else None

    def authenticate_password(self, user: str, password: str) -> Principal | None:
        """Check a password in the calling thread (blocking: for CLI and worker threads).

        Lockout applies: a locked account gets None even with the right password.
        """
        from .errors import AccountLocked

        def work(s):
            try:
                u = verify_password(s, self.hasher, self.policy, user, password, self.clock())
            except AccountLocked:
                return None
            return principal_of(s, u) if u is not None else None
        return self.db.call(work)

    # -- asynchronous operations used by the REST API and the web views ---------
    async def login(self, username: str, password: str) -> dict:
        """Verify the password on the worker pool and open a session.

        Raises AuthenticationRequired (wrong credentials) or AccountLocked.
        """
        def work(s):
            now = self.clock()
            user = verify_password(s, self.hasher, self.policy, username, password, now)
            if user is None:
                return None
            token, row = new_session(s, user, now, self.session_lifetime_s)
            return token, row.expires_at, principal_of(s, user)

        # failures must be committed (the failure counter), so the verdict is raised outside the transaction
        result = await self.db.run(work)
        if result is None:
            log.info("failed login for %r", username)
            raise AuthenticationRequired("wrong user name or password")
        token, expires, principal = result
        self._cache[digest(token)] = self._added[digest(token)] = (expires, principal)
        return {"token": token, "expires_at": expires.isoformat(), "user": principal.user,
                "roles": sorted(principal.roles), "grants": [list(g) for g in principal.attributes["grants"]]}

    async def logout(self, token: str) -> None:
        """Revoke a session."""
        d = digest(token)
        self._cache.pop(d, None)
        self._added.pop(d, None)
        self._removed.add(d)
        await self.db.run(revoke_session, token)

    async def refresh(self) -> int:
        """Reload every valid session and token from the database; returns how many."""
        self._added, self._removed = {}, set()
        signature, cache = await self.db.run(lambda s: (self.signature(s), self.load_cache(s)))
        cache.update(self._added)
        for d in self._removed:
            cache.pop(d, None)
        self._cache, self._signature = cache, signature
        return len(cache)

    async def refresh_if_changed(self) -> bool:
        """The periodic check: reload only when users, grants, tokens or sessions changed (cheap query)."""
        if await self.db.run(self.signature) == self._signature:
            return False
        await self.refresh()
        return True

    @staticmethod
    def signature(s) -> tuple:
        """Counts and newest ids of the identity tables (changes made by any process show up here)."""
        out = []
        for model, live in ((User, User.active.is_(True)), (RoleGrant, None),
                            (ApiToken, ApiToken.revoked.is_(False)), (WebSession, WebSession.revoked.is_(False))):
            stmt = select(func.count(model.id), func.max(model.id))
            out.append(tuple(s.execute(stmt.where(live) if live is not None else stmt).one()))
        return tuple(out)

    def load_cache(self, s) -> dict[str, tuple[datetime | None, Principal]]:
        """Build the cache in a transaction (worker thread)."""
        now = self.clock()
        principals: dict[int, Principal] = {}
        cache: dict[str, tuple[datetime | None, Principal]] = {}
        rows = list(s.execute(select(WebSession.digest, WebSession.expires_at, WebSession.user_id)
                              .where(WebSession.revoked.is_(False), WebSession.expires_at > now)))
        rows += list(s.execute(select(ApiToken.digest, ApiToken.expires_at, ApiToken.user_id)
                               .where(ApiToken.revoked.is_(False))))
        for d, expires, user_id in rows:
            if expires is not None and expires <= now:
                continue
            if user_id not in principals:
                user = s.get(User, user_id)
                if user is None or not user.active:
                    continue
                principals[user_id] = principal_of(s, user)
            cache[d] = (expires, principals[user_id])
        return cache
