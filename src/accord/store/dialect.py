"""What SQLite and PostgreSQL do differently, in one place per backend.

Accord's governance database is SQLite (embedded) or PostgreSQL (deployment).  Every
difference the code depends on lives on a :class:`Dialect`: how a DBAPI statement marks
its parameters, how an upsert is spelled, how a day or a month is taken from a
timestamp, how a JSON array is unnested, how writers are serialised and which bulk path
moves rows.  :func:`dialect_of` gives the one for a connection or engine; nothing
outside :mod:`accord.store` asks a connection which database it is.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import weakref
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

from sqlalchemy import (
    Connection,
    Date,
    DateTime,
    Engine,
    Integer,
    Table,
    bindparam,
    cast,
    func,
    text,
    type_coerce,
)
from sqlalchemy import Dialect as SQLAlchemyDialect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement, TextClause

Params = Mapping[str, Any]
"""Values bound to ``:name`` placeholders; a list, tuple or set binds an ``IN`` list."""


class Dialect:
    """One backend's spelling of what the two backends do differently."""

    name: ClassVar[str]
    copy_in: ClassVar[bool]
    """Bulk writes go by ``COPY`` (PostgreSQL); else by staged files and ``INSERT``."""

    # --- statements for a DBAPI cursor ----------------------------------------------------

    def __init__(self, sqlalchemy_dialect: SQLAlchemyDialect) -> None:
        self.sqlalchemy = sqlalchemy_dialect

    def statement(
        self, sql: str | TextClause, params: Params | None = None
    ) -> tuple[str, Sequence[Any] | Mapping[str, Any]]:
        """``sql`` with ``:name`` placeholders, as a DBAPI cursor of this backend takes it:
        the statement text in the driver's parameter style and its parameters.

        Values go through SQLAlchemy's binding (a sequence becomes an expanding ``IN``
        list), never into the text.
        """
        clause = text(sql) if isinstance(sql, str) else sql
        if params:
            clause = clause.bindparams(
                *(
                    bindparam(k, list(v), expanding=True)
                    if isinstance(v, list | tuple | set | frozenset)
                    else bindparam(k, v)
                    for k, v in params.items()
                )
            )
        compiled = clause.compile(
            dialect=self.sqlalchemy, compile_kwargs={"render_postcompile": True}
        )
        values = compiled.construct_params()
        for name, bind in compiled.binds.items():
            process = bind.type.bind_processor(self.sqlalchemy)
            if process is not None and name in values:
                values[name] = process(values[name])
        if compiled.positiontup is not None:
            return compiled.string, tuple(values[n] for n in compiled.positiontup)
        return compiled.string, values

    def positional(self, sql: str) -> str:
        """``sql`` written with ``?`` placeholders in the driver's positional style."""
        return sql

    # --- writes ---------------------------------------------------------------------------

    def insert(self, table: Any) -> Any:
        """An ``INSERT`` with this backend's ``ON CONFLICT`` clauses
        (``.on_conflict_do_nothing(index_elements=...)``, ``.on_conflict_do_update``)."""
        raise NotImplementedError

    def stored_datetime(self, value: dt.datetime) -> Any:
        """What a ``DateTime(timezone=True)`` column holds for the UTC time ``value``, as
        a DBAPI value for a write that goes around SQLAlchemy's types."""
        raise NotImplementedError

    stored_timestamp_format: ClassVar[str]
    """The strftime format of a stored timestamp's text (DuckDB writes it so in bulk)."""

    def lock_writers(self, conn: Connection, key: int) -> None:
        """Take, for the rest of ``conn``'s transaction, a lock every writer that asks for
        ``key`` waits on, before anything is read (so reads see the latest commit)."""
        raise NotImplementedError

    def take_write_lock(self, conn: Connection) -> None:
        """On a database with one writer at a time, take its write lock now (SQLite)."""

    def reserve_ids(self, conn: Connection, table: Table, count: int) -> int:
        """The first of ``count`` consecutive values of ``table``'s integer key ``id``,
        taken for this transaction, as the database would give rows inserted one by one."""
        raise NotImplementedError

    single_writer: ClassVar[bool]
    """One write transaction at a time for the whole database (SQLite)."""

    def writes_from_thread(self, conn: Connection) -> bool:
        """Whether another thread may write on ``conn`` while this one works."""
        return True

    # --- reads ----------------------------------------------------------------------------

    def read_only_snapshot(self, conn: Connection) -> None:
        """Make the rest of ``conn``'s transaction read one consistent state, read only.
        SQLite's transaction already reads one state."""

    @contextlib.contextmanager
    def sequential_read(self, conn: Connection) -> Iterator[None]:
        """Tune ``conn`` for reading a large table in order while the block runs."""
        yield

    # --- expressions ----------------------------------------------------------------------

    def utc_day(self, col: Any) -> ColumnElement[dt.date]:
        raise NotImplementedError

    def month_of_timestamp(self, col: Any) -> ColumnElement[str]:
        """``YYYY-MM`` of a timestamp, in UTC."""
        raise NotImplementedError

    def month_of_date(self, col: Any) -> ColumnElement[str]:
        raise NotImplementedError

    def days_between(self, later: Any, earlier: Any) -> ColumnElement[int]:
        """Whole UTC days from ``earlier`` to ``later``."""
        raise NotImplementedError

    def json_text(self, expr: str) -> str:
        """SQL text: a JSON column as text that can be grouped and compared."""
        raise NotImplementedError

    def json_array_items(self, expr: str, alias: str) -> str:
        """SQL text: ``CROSS JOIN`` the text items of the JSON array ``expr`` (JSON text),
        as column ``value`` of ``alias``."""
        raise NotImplementedError

    def json_array_length(self, expr: str) -> str:
        """SQL text: the length of the JSON array ``expr`` (JSON text)."""
        raise NotImplementedError


class SQLiteDialect(Dialect):
    name = "sqlite"
    copy_in = False
    single_writer = True
    stored_timestamp_format = "%Y-%m-%d %H:%M:%S.%f"
    _MMAP_BYTES = 1 << 32

    def insert(self, table: Any) -> Any:
        return sqlite.insert(table)

    def stored_datetime(self, value: dt.datetime) -> Any:
        process = DateTime(timezone=True).dialect_impl(_SQLITE).bind_processor(_SQLITE)
        assert process is not None
        return str(process(value))

    def lock_writers(self, conn: Connection, key: int) -> None:
        self.take_write_lock(conn)

    def take_write_lock(self, conn: Connection) -> None:
        # pysqlite begins a transaction only at its first write: a write that changes
        # nothing begins it and takes the database's lock (waiting up to busy_timeout).
        conn.execute(text("UPDATE alembic_version SET version_num = version_num WHERE 1 = 0"))

    def reserve_ids(self, conn: Connection, table: Table, count: int) -> int:
        # One writer at a time: the write lock this transaction holds keeps the ids its own.
        self.take_write_lock(conn)
        return int(
            conn.execute(text(f'SELECT coalesce(max(id), 0) + 1 FROM "{table.name}"')).scalar_one()
        )

    def writes_from_thread(self, conn: Connection) -> bool:
        # an in-memory database is one connection's own: it stays on its thread
        return conn.engine.url.database not in (None, "", ":memory:")

    @contextlib.contextmanager
    def sequential_read(self, conn: Connection) -> Iterator[None]:
        """Memory-map the file while the block reads (then restore what was set)."""
        before = int(conn.exec_driver_sql("PRAGMA mmap_size").scalar_one())
        conn.exec_driver_sql(f"PRAGMA mmap_size = {self._MMAP_BYTES}")
        try:
            yield
        finally:
            conn.exec_driver_sql(f"PRAGMA mmap_size = {int(before)}")

    def utc_day(self, col: Any) -> ColumnElement[dt.date]:
        return func.date(col, type_=Date)

    def month_of_timestamp(self, col: Any) -> ColumnElement[str]:
        return func.strftime("%Y-%m", col)

    def month_of_date(self, col: Any) -> ColumnElement[str]:
        return func.strftime("%Y-%m", col)

    def days_between(self, later: Any, earlier: Any) -> ColumnElement[int]:
        return cast(func.julianday(func.date(later)) - func.julianday(func.date(earlier)), Integer)

    def json_text(self, expr: str) -> str:
        return expr

    def json_array_items(self, expr: str, alias: str) -> str:
        return f"CROSS JOIN json_each({expr}) AS {alias}"

    def json_array_length(self, expr: str) -> str:
        return f"json_array_length({expr})"


class PostgreSQLDialect(Dialect):
    name = "postgresql"
    copy_in = True
    single_writer = False
    stored_timestamp_format = "%Y-%m-%d %H:%M:%S.%f+00:00"

    def positional(self, sql: str) -> str:
        return sql.replace("?", "%s")

    def insert(self, table: Any) -> Any:
        return postgresql.insert(table)

    def stored_datetime(self, value: dt.datetime) -> Any:
        return value

    def lock_writers(self, conn: Connection, key: int) -> None:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})

    def reserve_ids(self, conn: Connection, table: Table, count: int) -> int:
        # Locked against other writers so that no one takes a value in between.
        conn.execute(text(f'LOCK TABLE "{table.name}" IN SHARE ROW EXCLUSIVE MODE'))
        sequence = text("SELECT pg_get_serial_sequence(:t, 'id')").bindparams(t=table.name)
        name = conn.execute(sequence).scalar_one()
        first = int(conn.execute(text("SELECT nextval(:s)"), {"s": name}).scalar_one())
        conn.execute(text("SELECT setval(:s, :last)"), {"s": name, "last": first + count - 1})
        return first

    def read_only_snapshot(self, conn: Connection) -> None:
        conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))

    def utc_day(self, col: Any) -> ColumnElement[dt.date]:
        return cast(func.timezone("UTC", col), Date)

    def month_of_timestamp(self, col: Any) -> ColumnElement[str]:
        return func.to_char(func.timezone("UTC", col), "YYYY-MM")

    def month_of_date(self, col: Any) -> ColumnElement[str]:
        return func.to_char(col, "YYYY-MM")

    def days_between(self, later: Any, earlier: Any) -> ColumnElement[int]:
        return type_coerce(self.utc_day(later) - self.utc_day(earlier), Integer)

    def json_text(self, expr: str) -> str:
        return f"{expr}::text"

    def json_array_items(self, expr: str, alias: str) -> str:
        return f"CROSS JOIN LATERAL json_array_elements_text({expr}::json) AS {alias}(value)"

    def json_array_length(self, expr: str) -> str:
        return f"json_array_length({expr}::json)"


_SQLITE = sqlite.dialect()
_BY_NAME: dict[str, type[Dialect]] = {"sqlite": SQLiteDialect, "postgresql": PostgreSQLDialect}


_MADE: weakref.WeakKeyDictionary[SQLAlchemyDialect, Dialect] = weakref.WeakKeyDictionary()


def dialect_of(bind: Connection | Engine) -> Dialect:
    """The :class:`Dialect` of the database ``bind`` is connected to (one per engine)."""
    made = _MADE.get(bind.dialect)
    if made is None:
        try:
            cls = _BY_NAME[bind.dialect.name]
        except KeyError:
            raise ValueError(
                f"Accord supports SQLite and PostgreSQL, not {bind.dialect.name}"
            ) from None
        made = _MADE[bind.dialect] = cls(bind.dialect)
    return made


__all__ = ["Dialect", "Params", "PostgreSQLDialect", "SQLiteDialect", "dialect_of"]
