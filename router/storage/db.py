"""Engines, sessions and schema upgrades; SQLite by default, PostgreSQL for many nodes.

The caller owns the transaction: `unit_of_work` commits only when the block
ends cleanly and rolls back otherwise, so an admin command is applied whole or
not at all.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from router.errors import DatabaseUnavailable, InvalidInput
from router.storage.held_connections import HeldConnections
from router.storage.prepared import Prepared

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 5000
# How often the call front copies SQLite's WAL back into the database file,
# and how long (in 4 KiB pages) the WAL may grow before it is started over.
CHECKPOINT_SECONDS = 1.0
WAL_RESTART_PAGES = 10_000
READ_ONLY_OPTION = "callkeeper_read_only"
# A new SQLite file: the service's group may read it (backups), nobody else;
# the umask narrows it further (systemd's UMask=0027 keeps 0640, 0077 gives 0600).
NEW_SQLITE_FILE_MODE = 0o640
_MIGRATIONS = Path(__file__).with_name("migrations")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored in UTC and always returned timezone-aware.

    SQLite has no time zone type; without this it hands back naive values that
    compare wrongly with aware ones.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def database_url(url: str) -> str:
    """`url` as SQLAlchemy wants it; a bare path means a SQLite file."""
    return url if "://" in url else f"sqlite:///{url}"


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False, create: bool = True) -> Engine:
    """An engine for `url`, tuned per backend; raises InvalidInput for a bad URL.

    A bare path (no `scheme://`) is taken as a SQLite file. Without `create`
    a SQLite file that does not exist is an error rather than a new empty
    database (a mistyped `--db` must not look like an empty directory).
    """
    url = database_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InvalidInput(f"not a database URL: {url!r}") from None
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            sqlite_file_usable(Path(database).expanduser(), create=create)
        kwargs["connect_args"] = {
            "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
            "check_same_thread": False,
        }
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    if parsed.get_backend_name() == "postgresql":
        # No pre-ping: it is a round trip on every checkout, two per call (8
        # threads: 168 -> 223 calls/s without it). A connection PostgreSQL dropped (a restart)
        # fails its one call instead, which fails open to the queue, and
        # SQLAlchemy then throws the whole pool away.
        kwargs.update(pool_size=pool_size, max_overflow=pool_size)
        kwargs["connect_args"] = {"connect_timeout": 3}
        return create_engine(parsed, **kwargs)
    raise InvalidInput(f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql")


def sqlite_file_usable(path: Path, *, create: bool) -> None:
    """Say in one line why a SQLite file cannot be used, before SQLite says "unable to open".

    With `create`, a missing file is created empty, mode NEW_SQLITE_FILE_MODE
    under the umask (SQLite's own default is 0644).
    """
    parent = path.resolve().parent
    if not parent.is_dir():
        raise DatabaseUnavailable(f"cannot open {path}: folder {parent} does not exist")
    folder_writable = os.access(parent, os.W_OK | os.X_OK)
    if not path.exists():
        if not create:
            raise DatabaseUnavailable(
                f"database file {path} does not exist (`callkeeper db upgrade --db {path}` creates one)"
            )
        if not folder_writable:
            raise DatabaseUnavailable(f"cannot create {path}: folder {parent} is not writable by this user")
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, NEW_SQLITE_FILE_MODE))
        return
    if not os.access(path, os.R_OK | os.W_OK):
        raise DatabaseUnavailable(f"cannot open {path}: permission denied (it must be readable and writable)")
    if not folder_writable and not Path(f"{path}-shm").exists():
        raise DatabaseUnavailable(
            f"cannot open {path}: folder {parent} is not writable (SQLite writes {path.name}-wal beside it)"
        )


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy, not pysqlite, decide when a transaction begins, so
    # `BEGIN IMMEDIATE` below takes the write lock up front.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


# IMMEDIATE: a writer waits for the lock at BEGIN (honouring busy_timeout)
# instead of failing with "database is locked" when it upgrades later. Run on
# the driver: every call's transaction starts here.
_BEGIN_READ = Prepared(text("BEGIN"))
_BEGIN_WRITE = Prepared(text("BEGIN IMMEDIATE"))


def _sqlite_on_begin(conn: Connection) -> None:
    read_only = conn.get_execution_options().get(READ_ONLY_OPTION, False)
    (_BEGIN_READ if read_only else _BEGIN_WRITE).rowcount(conn, {})


class Database:
    """An engine, its session factory and the schema's state, for one URL."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        checkpoint_seconds: float | None = None,
        wal_restart_pages: int = WAL_RESTART_PAGES,
        create: bool = True,
    ) -> None:
        """With `checkpoint_seconds` (SQLite only; the call front's choice), the
        WAL is checkpointed by a thread of its own that often, instead of by
        whichever commit fills it: that commit would wait for the database
        file's fsync, and the caller whose call it decides with it.
        """
        self.url = database_url(url)
        self.engine = make_engine(url, pool_size=pool_size, create=create)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessions = sessionmaker(
            self.engine.execution_options(**{READ_ONLY_OPTION: True}), expire_on_commit=False
        )
        self._upgraded = False
        self._lock = threading.Lock()
        self._writer_lock = threading.Lock() if self.backend == "sqlite" else None
        self._held = HeldConnections(self.engine)
        self._checkpointer: _Checkpointer | None = None
        self._file = _sqlite_file(self.url)
        self._file_identity = _identity(self._file) if self._file is not None else None
        if checkpoint_seconds is not None and self.backend == "sqlite":
            event.listen(self.engine, "connect", _no_autocheckpoint)
            self._checkpointer = _Checkpointer(
                self.engine, checkpoint_seconds, self._writer_lock, wal_restart_pages
            )

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def file_problem(self) -> str | None:
        """What is wrong with the SQLite file under this process, or None (and always None on PostgreSQL).

        The open connections keep the file they opened: moved, replaced or
        chmod-ed away, SQLite goes on writing it without a word, and a restart
        would open another. Compared by device and inode.
        """
        if self._file is None:
            return None
        try:
            identity = _identity(self._file)
        except OSError:
            return f"database file {self._file} no longer exists: this process writes one moved or deleted"
        if self._file_identity is None:
            self._file_identity = identity
        elif identity != self._file_identity:
            return f"database file {self._file} no longer names the file this process has open (replaced)"
        if not os.access(self._file, os.R_OK | os.W_OK):
            return f"database file {self._file} is no longer readable and writable by this process"
        return None

    @contextlib.contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """A session whose work is committed only if the block ends cleanly.

        On SQLite, writers of this process queue on a lock here: SQLite's own
        busy handler retries with sleeps of up to 100 ms, which would put tens
        of milliseconds on a call whenever two threads write at once. Writers
        in other processes still meet the busy timeout.
        """
        with self._writer_turn():
            session = self.sessions()
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()

    @contextlib.contextmanager
    def _writer_turn(self) -> Iterator[None]:
        """This process's turn to write to SQLite; waits as long as SQLite's busy timeout.

        A unit of work opened inside another in the same thread would wait for
        itself: it fails after the timeout instead of hanging.
        """
        if self._writer_lock is None:
            yield
            return
        if not self._writer_lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
            raise DatabaseUnavailable("database is busy: another write did not finish in time")
        try:
            yield
        finally:
            self._writer_lock.release()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """`unit_of_work` without the ORM: a connection in a transaction, for the call path.

        A call's statements are built once and run as they are, and the
        Session's bookkeeping would cost about as much as the queries; the
        connection is one the call path keeps open (`router.storage.held_connections`).
        """
        with self._writer_turn(), self._held.transaction() as connection:
            yield connection

    @contextlib.contextmanager
    def statements(self) -> Iterator[Connection]:
        """A connection for call-path work whose writes are one statement (a decision).

        On PostgreSQL each statement commits by itself: the block costs no
        BEGIN and COMMIT round trips (and a read needs no transaction). On
        SQLite, whose transactions cost no round trip, the block is one
        transaction, as `transaction` gives.
        """
        if self.backend != "postgresql":
            with self.transaction() as connection:
                yield connection
            return
        with self._held.statements() as connection:
            yield connection

    @contextlib.contextmanager
    def atomically(self, connection: Connection) -> Iterator[None]:
        """Inside `statements`: the block's statements as one transaction (a rare write of several).

        On SQLite the `statements` block is a transaction already.
        """
        if self.backend != "postgresql":
            yield
            return
        with connection.connection.driver_connection.transaction():  # type: ignore[union-attr]
            yield

    @contextlib.contextmanager
    def read_transaction(self) -> Iterator[Connection]:
        """A connection for reads only: on SQLite it does not take the write lock."""
        with self.engine.connect() as connection:
            connection.execution_options(**{READ_ONLY_OPTION: True})
            with connection.begin():
                yield connection

    @contextlib.contextmanager
    def reader(self) -> Iterator[Session]:
        """A session for reads only: on SQLite it does not take the write lock."""
        session = self.read_sessions()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    def ensure_schema(self) -> None:
        """Create the schema on an empty database; leave a migrated one alone."""
        with self._lock:
            if self._upgraded:
                return
            try:
                existing = set(inspect(self.engine).get_table_names())
            except OperationalError as exc:
                raise DatabaseUnavailable(_describe(exc)) from None
            if "alembic_version" not in existing:
                self.upgrade()
            self._upgraded = True

    def upgrade(self, revision: str = "head") -> None:
        """Run alembic migrations up to `revision`."""
        from alembic import command

        try:
            command.upgrade(alembic_config(self.url), revision)
        except OperationalError as exc:
            raise DatabaseUnavailable(_describe(exc)) from None

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self._held.close()
        self.engine.dispose()


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database).expanduser().resolve()


def _identity(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_dev, st.st_ino


def _no_autocheckpoint(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.execute("PRAGMA wal_autocheckpoint=0").close()


class _Checkpointer:
    """Copies SQLite's WAL back into the database file, off the call path.

    Each turn is a PASSIVE checkpoint (it never waits for readers or
    writers): it copies what the WAL holds while calls go on writing. Under
    steady writes it never quite catches up, and SQLite starts the WAL over
    only when a writer finds it all copied; so once the WAL is `restart_pages`
    long, a second one runs in this process's writer turn, with only the last
    few pages to copy (and one fsync), and the next writer starts the WAL
    from the top. That turn holds up calls for a few milliseconds, so it
    comes once per `restart_pages` (tens of seconds at full load), not every
    turn.
    """

    def __init__(
        self, engine: Engine, interval: float, writer_lock: threading.Lock | None, restart_pages: int
    ) -> None:
        self._engine = engine
        self._interval = interval
        self._writer_lock = writer_lock
        self._restart_pages = restart_pages
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            self.checkpoint()

    def checkpoint(self) -> None:
        try:
            raw = self._engine.raw_connection()
            try:
                pages = self._passive(raw)
                if (
                    pages >= self._restart_pages
                    and self._writer_lock is not None
                    and self._writer_lock.acquire(timeout=self._interval)
                ):
                    try:
                        self._passive(raw)
                    finally:
                        self._writer_lock.release()
            finally:
                raw.close()
        except Exception as exc:  # the next turn tries again; the WAL only grows meanwhile
            log.warning("WAL checkpoint failed: %s", exc)

    @staticmethod
    def _passive(raw: Any) -> int:
        """Checkpoint what can be; returns how many pages the WAL holds."""
        _busy, pages, _copied = raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(pages)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        self.checkpoint()


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _describe(exc: SQLAlchemyError) -> str:
    original = getattr(exc, "orig", None) or exc
    first_line = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    return f"database unavailable: {first_line}"


def describe_db_error(exc: SQLAlchemyError) -> str:
    """One line for a user, without SQL or parameters."""
    return _describe(exc)
