"""The business database: engine, migrations, short transactions off the reactor thread.

SQLite in the data folder is the embedded default; PostgreSQL (``postgresql+psycopg://``)
is the production backend. All database work from the reactor goes through
:meth:`Database.run`, which runs a function in a dedicated thread pool inside one
explicit transaction and returns a Deferred, so the reactor never blocks on I/O.
SQLite gets a single worker thread (one writer at a time anyway); PostgreSQL a few.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool
from twisted.application.service import Service
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from .errors import DatabaseConfigError

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")


def default_url(data_dir: str | Path) -> str:
    """The embedded SQLite database in the data folder."""
    return f"sqlite:///{Path(data_dir) / 'business.db'}"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys on and thread-safe connections."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a terse message
        raise DatabaseConfigError(f"invalid database URL {url!r}: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
        if parsed.database in (None, "", ":memory:"):
            kwargs["poolclass"] = StaticPool
        else:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config(engine: Engine | None = None) -> Config:
    """An Alembic config for the business migrations (no ini file needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    if engine is not None:
        cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def head_revisions() -> tuple[str, ...]:
    """Every head of the revision graph (one, unless two packages branched from the same revision)."""
    return tuple(sorted(ScriptDirectory.from_config(alembic_config()).get_heads()))


def head_revision() -> str:
    """The heads joined with '+' (a single revision id when the chain is linear)."""
    return "+".join(head_revisions())


class Database:
    """An engine plus a session factory plus the worker pool for off-reactor work."""

    def __init__(self, url: str, reactor: Any = None, threads: int | None = None) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.reactor = reactor
        is_sqlite = self.engine.dialect.name == "sqlite"
        self._pool = ThreadPool(minthreads=1, maxthreads=threads or (1 if is_sqlite else 4), name="business-db")

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def migrate(self, revision: str = "heads") -> None:
        """Upgrade the schema to ``revision``, by default every branch head (blocking: call at start-up or from a thread)."""
        with self.engine.begin() as conn:
            cfg = alembic_config(self.engine)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)

    def downgrade(self, revision: str) -> None:
        """Downgrade the schema to ``revision`` (e.g. ``-1`` or ``base``)."""
        with self.engine.begin() as conn:
            cfg = alembic_config(self.engine)
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, revision)

    def current_revision(self) -> str | None:
        """The revision(s) the database is at, joined with '+' (None when empty)."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            heads = MigrationContext.configure(conn).get_current_heads()
        return "+".join(sorted(heads)) or None

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One short explicit transaction: commit on success, roll back on any error."""
        with self.sessions() as session, session.begin():
            yield session

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(session, *args)`` in a transaction in the calling thread."""
        with self.transaction() as session:
            return fn(session, *args, **kwargs)

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any):
        """Run ``fn(session, *args)`` in a transaction on the worker pool; returns a Deferred."""
        if self.reactor is None:
            raise RuntimeError("Database.run needs a reactor; use call() outside the server")
        if not self._pool.started:
            self.start()
        return deferToThreadPool(self.reactor, self._pool, self.call, fn, *args, **kwargs)

    def run_raw(self, fn: Callable[..., Any], *args: Any, **kwargs: Any):
        """Run ``fn(*args)`` (which manages its own transactions) on the worker pool; a Deferred."""
        if not self._pool.started:
            self.start()
        return deferToThreadPool(self.reactor, self._pool, fn, *args, **kwargs)

    async def arun(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``await``-able form of :meth:`run`."""
        return await self.run(fn, *args, **kwargs)

    def start(self) -> None:
        """Start the worker threads."""
        if not self._pool.started:
            self._pool.start()

    def stop(self) -> None:
        """Stop the workers (waits for running jobs) and close every connection."""
        if self._pool.started:
            self._pool.stop()
        self.engine.dispose()


class DatabaseService(Service):
    """The ``database`` component: owns the Database's thread pool lifetime."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.setName("database")

    def startService(self) -> None:
        """Start the worker pool."""
        super().startService()
        self.db.start()

    def stopService(self):
        """Stop the worker pool and dispose of the engine."""
        super().stopService()
        self.db.stop()


def database_url(ctx: Any) -> str:
    """The configured URL, or SQLite in the data folder."""
    section = ctx.site.section("business") or {}
    db = section.get("database") or {}
    return db.get("url") or default_url(ctx.data_dir)


def from_config(ctx: Any) -> DatabaseService | None:
    """Create the engine, migrate to head and publish ``ctx.provides["database"]``.

    The database is always on (the embedded default needs no configuration),
    unless the site says ``business: {enabled: false}``.
    """
    section = ctx.site.section("business") or {}
    if section.get("enabled") is False:
        return None
    url = database_url(ctx)
    db = Database(url, reactor=ctx.reactor, threads=(section.get("database") or {}).get("threads"))
    try:
        db.migrate()
    except Exception as exc:
        raise DatabaseConfigError(f"cannot migrate business database {make_url(url)!r}: {exc}") from exc
    log.info("business database %s at revision %s", make_url(url).render_as_string(hide_password=True),
             db.current_revision())
    ctx.provides["database"] = db
    return DatabaseService(db)
