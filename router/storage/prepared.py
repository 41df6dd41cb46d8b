"""Call-path statements compiled once per backend and run on the driver's own cursor.

SQLAlchemy Core costs about 50 µs of Python per statement on SQLite and 100
µs on PostgreSQL, on top of the driver: more than most of the call path's
indexed queries take, and a call runs eight of them while the caller waits.
A `Prepared` statement is still written with SQLAlchemy (one schema, each
backend's own SQL from one compiler); only running it is left to the driver:
the SQL text and the order of its parameters are compiled once per backend,
values go through the same type processors SQLAlchemy applies (UTC
timestamps, dates, JSON), and a driver error comes out as SQLAlchemy's, a
dropped connection throwing the pool away as SQLAlchemy itself would.

It runs on a `Connection` inside the caller's transaction, so a call's
statements are as atomic as before.

On psycopg, which buffers every result on the client, each connection keeps
one `RawCursor` for these statements, compiled with PostgreSQL's own `$1`
placeholders: a new cursor per statement (its adapters copied) and
converting named placeholders cost a third of psycopg's own time per
statement. Other drivers get a cursor per statement, closed after it: an
SQLite statement left unfinished on a kept cursor would hold its read
snapshot, and the WAL with it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

Row = tuple[Any, ...]
_Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    # Positional drivers (SQLite) take values in this order; named ones (psycopg) a mapping.
    order: tuple[str, ...] | None
    fixed: dict[str, Any]
    binders: dict[str, _Processor]
    readers: tuple[tuple[int, _Processor], ...]
    # Run on the connection's kept raw cursor (psycopg), not a cursor of its own.
    kept_cursor: bool


# Where a psycopg connection keeps its cursor: the pool's per-DBAPI-connection
# dictionary, which goes away with the connection.
_KEPT_CURSOR = "callkeeper.prepared.cursor"


class Prepared:
    """A statement run on the driver's cursor; `columns` are the values an INSERT is given."""

    def __init__(self, statement: ClauseElement, *, columns: Sequence[str] = ()) -> None:
        self.statement = statement
        self._columns = tuple(columns)
        self._by_backend: dict[str, _Compiled] = {}

    def rows(self, connection: Connection, params: Mapping[str, Any]) -> list[Row]:
        compiled, cursor = self._execute(connection, params)
        try:
            rows: list[Row] = cursor.fetchall()
        finally:
            _done(compiled, cursor)
        if compiled.readers:
            return [_read(row, compiled.readers) for row in rows]
        return rows

    def first(self, connection: Connection, params: Mapping[str, Any]) -> Row | None:
        compiled, cursor = self._execute(connection, params)
        try:
            row: Row | None = cursor.fetchone()
        finally:
            _done(compiled, cursor)
        if row is None or not compiled.readers:
            return row
        return _read(row, compiled.readers)

    def scalar(self, connection: Connection, params: Mapping[str, Any]) -> Any:
        """The first column of the first row, or None when there is no row."""
        row = self.first(connection, params)
        return None if row is None else row[0]

    def rowcount(self, connection: Connection, params: Mapping[str, Any]) -> int:
        """How many rows a statement without RETURNING changed."""
        compiled, cursor = self._execute(connection, params)
        try:
            return int(cursor.rowcount)
        finally:
            _done(compiled, cursor)

    def _execute(self, connection: Connection, params: Mapping[str, Any]) -> tuple[_Compiled, Any]:
        dialect = connection.dialect
        compiled = self._by_backend.get(dialect.name)
        if compiled is None:
            compiled = self._by_backend[dialect.name] = _compile(self.statement, self._columns, dialect)
        values = dict(compiled.fixed)
        binders = compiled.binders
        for name, value in params.items():
            binder = binders.get(name)
            values[name] = value if binder is None or value is None else binder(value)
        args: Any = values if compiled.order is None else tuple(values[name] for name in compiled.order)
        pooled = connection.connection
        dbapi_connection = pooled.driver_connection
        if compiled.kept_cursor:
            cursor = pooled.info.get(_KEPT_CURSOR)
            if cursor is None:
                cursor = pooled.info[_KEPT_CURSOR] = psycopg.RawCursor(dbapi_connection)  # type: ignore[arg-type]
        else:
            cursor = dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(compiled.sql, args)
        except dialect.loaded_dbapi.Error as exc:
            _done(compiled, cursor)
            raise _translated(connection, compiled.sql, args, exc, dbapi_connection, cursor) from exc
        return compiled, cursor


def _done(compiled: _Compiled, cursor: Any) -> None:
    """Close a statement's own cursor; a kept one stays for the next statement."""
    if not compiled.kept_cursor:
        cursor.close()


def _read(row: Row, readers: tuple[tuple[int, _Processor], ...]) -> Row:
    values = list(row)
    for index, reader in readers:
        values[index] = reader(values[index])
    return tuple(values)


def _compile(statement: ClauseElement, columns: tuple[str, ...], dialect: Dialect) -> _Compiled:
    kept_cursor = dialect.driver == "psycopg"
    if kept_cursor:
        # The same dialect with PostgreSQL's placeholders, as RawCursor takes them.
        dialect = copy.copy(dialect)
        dialect.paramstyle, dialect.positional = "numeric_dollar", True
    compiled = statement.compile(dialect=dialect, column_keys=list(columns) if columns else None)
    assert isinstance(compiled, SQLCompiler)
    if "POSTCOMPILE" in compiled.string:
        raise ValueError(f"{compiled.string!r}: expanding parameters cannot be prepared")
    fixed: dict[str, Any] = {}
    binders: dict[str, _Processor] = {}
    # One name may stand for several BindParameter objects (a value used twice).
    for bind, name in compiled.bind_names.items():
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            binders.setdefault(name, process)
        if bind.required or name in columns:
            continue
        value = bind.effective_value
        if value is None:
            # A column SQLAlchemy would fill from its default: give it, or it is NULL.
            raise ValueError(f"{name!r} has no value: list it in `columns` and pass it")
        fixed[name] = value if process is None else process(value)
    readers = tuple(
        (index, reader)
        for index, column in enumerate(getattr(statement, "exported_columns", ()))
        if (reader := column.type.dialect_impl(dialect).result_processor(dialect, None)) is not None
    )
    order = tuple(compiled.positiontup or ()) if dialect.positional else None
    return _Compiled(compiled.string, order, fixed, binders, readers, kept_cursor)


def _translated(
    connection: Connection, sql: str, args: Any, exc: Any, dbapi_connection: Any, cursor: Any
) -> StatementError:
    """The driver's error as SQLAlchemy raises it; after a dropped connection, a fresh pool.

    As on SQLAlchemy's own path, a lost connection invalidates every pooled
    one (a restarted server dropped them all): the first call to notice fails,
    the next ones connect anew instead of each failing on a dead connection.
    """
    dialect = connection.dialect
    disconnect = dialect.is_disconnect(exc, dbapi_connection, cursor)
    if disconnect:
        connection.invalidate(exc)
        connection.engine.dispose()
    return DBAPIError.instance(
        sql,
        args,
        exc,
        dialect.loaded_dbapi.Error,
        connection_invalidated=disconnect,
        dialect=dialect,
    )
