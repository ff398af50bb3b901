"""Core statements compiled once per dialect and run on the connection's DBAPI cursor.

``Connection.execute`` of a Core statement looks up its compiled form in the cache, then
builds every row's parameters through the compiled statement's machinery: about 15 µs per
row of ``notifications`` and 70 µs per statement, four times what SQLite takes to insert the
row; even ``exec_driver_sql`` sets up an execution context and a result (10 µs, where the
driver's cursor takes 1 µs). The write path runs the same few statements thousands of times
a second, so it compiles them once and hands the driver ready rows, converted by the
dialect's own bind processors, inside the transaction SQLAlchemy began: on SQLite straight
to the DBAPI cursor (:func:`run_on_cursor`); on PostgreSQL, where each statement is a
network round trip, through ``exec_driver_sql``, whose error handling also notices a lost
connection and drops it from the pool.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler


@dataclass(frozen=True, slots=True)
class Prepared:
    """One statement as a dialect's SQL text, with its parameters' order and converters."""

    sql: str
    names: tuple[str, ...]
    positional: bool
    # (position, converter) for the parameters whose type converts values for the driver.
    converters: tuple[tuple[int, Callable[[Any], Any]], ...]
    on_cursor: bool

    @classmethod
    def compile(
        cls, statement: ClauseElement, dialect: Dialect, column_keys: Sequence[str] | None = None
    ) -> Prepared:
        """Compile ``statement``; ``column_keys`` name an INSERT's columns, in any order."""
        compiled = statement.compile(
            dialect=dialect, column_keys=list(column_keys) if column_keys else None
        )
        if not isinstance(compiled, SQLCompiler):
            raise TypeError(f"not a SQL statement: {statement!r}")
        names = tuple(compiled.positiontup or ()) if compiled.positional else tuple(compiled.binds)
        converters = []
        for position, name in enumerate(names):
            convert = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            if convert is not None:
                converters.append((position, convert))
        on_cursor = dialect.name == "sqlite"
        return cls(str(compiled), names, compiled.positional, tuple(converters), on_cursor)

    def parameters(
        self, values: Mapping[str, Any], memo: dict[int, tuple[Any, Any]] | None = None
    ) -> tuple[Any, ...] | dict[str, Any]:
        """``values`` converted for the driver, in the form its paramstyle takes.

        ``memo`` keeps each converted position's last value and result, for rows that share
        values (a batch's times): the same object is converted once.
        """
        converted = [values[name] for name in self.names]
        for position, convert in self.converters:
            value = converted[position]
            if value is None:
                continue
            if memo is None:
                converted[position] = convert(value)
                continue
            last = memo.get(position)
            if last is None or last[0] is not value:
                last = memo[position] = (value, convert(value))
            converted[position] = last[1]
        if self.positional:
            return tuple(converted)
        return dict(zip(self.names, converted, strict=True))

    def execute(self, conn: Connection, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run the statement once; its rows as the driver returns them (no type conversion)."""
        parameters = self.parameters(values)
        if self.on_cursor:
            return run_on_cursor(conn, self.sql, parameters)
        result = conn.exec_driver_sql(self.sql, parameters)
        return [tuple(row) for row in result] if result.returns_rows else []

    def execute_many(self, conn: Connection, rows: Iterable[Mapping[str, Any]]) -> None:
        """Run the statement for every row (the driver's ``executemany``)."""
        memo: dict[int, tuple[Any, Any]] = {}
        batch = [self.parameters(row, memo) for row in rows]
        if not batch:
            return
        if self.on_cursor:
            run_on_cursor(conn, self.sql, batch, many=True)
        else:
            conn.exec_driver_sql(self.sql, cast(Sequence[Sequence[Any]], batch))


def run_on_cursor(
    conn: Connection, sql: str, parameters: Any = (), *, many: bool = False
) -> list[tuple[Any, ...]]:
    """Run ``sql`` on the DBAPI cursor of ``conn``; its rows, if it returns any.

    Raises:
        sqlalchemy.exc.DBAPIError: the driver's error, wrapped as ``Connection.execute``
            wraps it (``OperationalError`` for a locked database, and so on).
    """
    dialect = conn.dialect
    cursor = conn.connection.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, parameters)
        return [tuple(row) for row in cursor.fetchall()] if cursor.description else []
    except dialect.loaded_dbapi.Error as error:
        raise DBAPIError.instance(
            sql, parameters, error, dialect.loaded_dbapi.Error, dialect=dialect
        ) from error
    finally:
        cursor.close()


class PreparedSet:
    """A statement compiled lazily, once per dialect and driver (their paramstyles differ)."""

    def __init__(self, build: Callable[[Dialect], Prepared]) -> None:
        self._build = build
        self._by_dialect: dict[tuple[str, str], Prepared] = {}

    def on(self, conn: Connection) -> Prepared:
        """The statement compiled for ``conn``'s dialect."""
        dialect = conn.dialect
        key = (dialect.name, dialect.driver)
        prepared = self._by_dialect.get(key)
        if prepared is None:
            prepared = self._by_dialect[key] = self._build(dialect)
        return prepared
