"""The few expressions SQLite and PostgreSQL spell differently, as SQLAlchemy constructs compiled per
dialect, so every figure is written once.

Timestamps are stored in UTC (SQLite keeps them as ISO text without an offset, PostgreSQL as timestamptz).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Float, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class utc_day(FunctionElement[str]):
    """The UTC calendar day of a timestamp, as 'YYYY-MM-DD' text."""

    type = String()
    name = "utc_day"
    inherit_cache = True


class seconds_between(FunctionElement[float]):
    """Seconds from the first timestamp to the second (fractional)."""

    type = Float()
    name = "seconds_between"
    inherit_cache = True


class has_key(FunctionElement[bool]):
    """Whether a JSON object column holds a non-null value under a key (a literal string)."""

    type = Boolean()
    name = "has_key"
    inherit_cache = True


class is_json_array(FunctionElement[bool]):
    """Whether a JSON column holds an array (not SQL NULL, not JSON null)."""

    type = Boolean()
    name = "is_json_array"
    inherit_cache = True


def _args(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> list[str]:
    return [compiler.process(clause, **kw) for clause in element.clauses]


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    (stamp,) = _args(element, compiler, **kw)
    return f"substr({stamp}, 1, 10)"


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    (stamp,) = _args(element, compiler, **kw)
    return f"to_char({stamp} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = _args(element, compiler, **kw)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


@compiles(seconds_between, "postgresql")
def _seconds_postgresql(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = _args(element, compiler, **kw)
    return f"CAST(EXTRACT(EPOCH FROM ({end} - {start})) AS DOUBLE PRECISION)"


@compiles(has_key, "sqlite")
def _has_key_sqlite(element: has_key, compiler: SQLCompiler, **kw: Any) -> str:
    column, key = _args(element, compiler, **kw)
    return f"(json_extract({column}, '$.' || {key}) IS NOT NULL)"


@compiles(has_key, "postgresql")
def _has_key_postgresql(element: has_key, compiler: SQLCompiler, **kw: Any) -> str:
    column, key = _args(element, compiler, **kw)
    return f"(({column} -> {key}) IS NOT NULL AND json_typeof({column} -> {key}) <> 'null')"


@compiles(is_json_array, "sqlite")
def _is_array_sqlite(element: is_json_array, compiler: SQLCompiler, **kw: Any) -> str:
    (column,) = _args(element, compiler, **kw)
    return f"(json_type({column}) = 'array')"


@compiles(is_json_array, "postgresql")
def _is_array_postgresql(element: is_json_array, compiler: SQLCompiler, **kw: Any) -> str:
    (column,) = _args(element, compiler, **kw)
    return f"(json_typeof({column}) = 'array')"


def json_array_elements(dialect: str) -> str:
    """The table-valued function that yields an array's elements as text in a `value` column."""
    return "json_each" if dialect == "sqlite" else "json_array_elements_text"
