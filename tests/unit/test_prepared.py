"""Statements compiled once: parameters in the driver's order, converted by the dialect."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, TypeDecorator, create_engine, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.types import String

from tocsin.store.prepared import Prepared

calls: list[Any] = []


class Upper(TypeDecorator[str]):
    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        calls.append(value)
        return None if value is None else value.upper()


table = Table("t", MetaData(), Column("n", Integer), Column("word", Upper()))


def test_rows_sharing_a_value_convert_it_once_and_store_it_converted() -> None:
    engine = create_engine("sqlite://")
    table.metadata.create_all(engine)
    shared = "shared"
    calls.clear()
    with engine.begin() as conn:
        insert = Prepared.compile(table.insert(), conn.dialect, ["n", "word"])
        rows = [{"n": 1, "word": shared}, {"n": 2, "word": shared}, {"n": 3, "word": "own"}]
        rows.append({"n": 4, "word": None})
        insert.execute_many(conn, rows)
        stored = conn.execute(select(table.c.n, table.c.word).order_by(table.c.n)).all()
    assert calls == ["shared", "own"]
    # Read back through the column's type: the conversion ran on the way in only.
    assert [tuple(r) for r in stored] == [(1, "SHARED"), (2, "SHARED"), (3, "OWN"), (4, None)]


def test_a_driver_error_on_the_cursor_is_raised_as_sqlalchemys() -> None:
    engine = create_engine("sqlite://")
    table.metadata.create_all(engine)
    with engine.connect() as conn:
        missing = Prepared.compile(select(table.c.n), conn.dialect)
        # The same text against a table that is not there: the driver's OperationalError.
        broken = Prepared(missing.sql.replace(" t", " absent"), (), True, (), True)
        with pytest.raises(OperationalError, match="no such table: absent"):
            broken.execute(conn, {})
