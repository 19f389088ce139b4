"""Connections and migrations. The database is chosen by URL: ``sqlite:///path`` (default,
WAL mode) or ``postgresql://...`` (psycopg 3)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from launchpoint.errors import InvalidInput


def normalise_url(url: str) -> str:
    """Accept the URL forms people paste (``postgres://``, ``postgresql://``) and point them
    at the psycopg 3 driver; make the folder of a SQLite file."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise InvalidInput(
            f"database URL {url!r} is not valid: use sqlite:///path/to/file.db "
            "or postgresql://user@host:5432/db"
        ) from exc
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise InvalidInput(
            f"database {parsed.get_backend_name()!r} is not supported: use sqlite or postgresql"
        )
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    return url


def dumps_json(value: Any) -> str:
    # Most events carry empty context and properties; skipping the encoder for them is a
    # large share of bulk-import time.
    if not value and isinstance(value, dict | list):
        return "{}" if isinstance(value, dict) else "[]"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # NORMAL is durable across application crashes in WAL mode; only a power loss can roll
    # back the last transactions.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class Database:
    """One engine per database URL. SQLite allows one writer at a time, so writes from this
    process queue on a lock instead of failing with 'database is locked'."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.dialect = make_url(self.url).get_backend_name()
        kwargs: dict[str, Any] = {"json_serializer": dumps_json}
        if self.dialect == "sqlite":
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 10}
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._write_lock = threading.Lock() if self.dialect == "sqlite" else None
        self._snapshot = threading.local()  # the connection of this thread's snapshot()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction for writes, committed when the block ends without error."""
        if self._write_lock is None:
            with self.engine.begin() as conn:
                yield conn
            return
        with self._write_lock, self.engine.begin() as conn:
            yield conn

    @contextmanager
    def write_statement(self) -> Iterator[Connection]:
        """A connection for a write that is one statement, in autocommit mode on PostgreSQL:
        the server runs the statement in a transaction of its own, committed when it returns,
        which saves the round trips of BEGIN and COMMIT. On SQLite, ``write()``."""
        if self._write_lock is not None:
            with self.write() as conn:
                yield conn
            return
        with self.engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads: this thread's snapshot inside ``snapshot()``."""
        pinned = getattr(self._snapshot, "conn", None)
        if pinned is not None:
            yield pinned
            return
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Until the block ends, every ``read()`` in this thread sees one snapshot of the
        database, taken at its first read: what a serving state is built from, so that its
        ``data_version`` says exactly which writes it holds (events written during a build
        are then either in it or after it, never both). Writes go on meanwhile.

        PostgreSQL: one REPEATABLE READ transaction. SQLite: an explicit BEGIN, since its
        Python driver runs each SELECT in a transaction of its own; in WAL mode a reader's
        transaction keeps the snapshot of its first read and blocks no writer."""
        if getattr(self._snapshot, "conn", None) is not None:  # already in one
            yield
            return
        with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                conn.exec_driver_sql("BEGIN")
            else:
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            self._snapshot.conn = conn
            try:
                yield
            finally:
                self._snapshot.conn = None
                conn.rollback()

    def migrate(self) -> None:
        """Bring the schema to the newest migration (a no-op when it is there already)."""
        with self.write() as conn:
            config = _alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    def schema_revision(self) -> str | None:
        with self.read() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def dispose(self) -> None:
        self.engine.dispose()


def _alembic_config() -> Config:
    config = Config()
    location = resources.files("launchpoint.storage").joinpath("migrations")
    config.set_main_option("script_location", str(location))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()
