"""schema_mismatches(): what a database file holds beyond (or instead of) LedGrab's own schema."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import msgspec

from ledgrab.storage.data_migrations import MIGRATIONS, Migration, migrate

__all__ = [
    "SchemaObject",
    "expected_schema",
    "normalise_sql",
    "read_schema",
    "schema_mismatches",
]

# Tables SQLite keeps for itself. Their rows are never copied as they are (sqlite_sequence is
# merged by the rebuild, the statistics are dropped), so they need no comparison.
_INTERNAL_TABLES = frozenset(
    {"sqlite_sequence", "sqlite_stat1", "sqlite_stat2", "sqlite_stat3", "sqlite_stat4"}
)


class SchemaObject(msgspec.Struct, frozen=True):
    type: str
    name: str
    tbl_name: str
    sql: str  # normalise_sql() of the stored statement

    def describe(self) -> str:
        on = f" on {self.tbl_name}" if self.type in ("trigger", "index") else ""
        return f"{self.type} {self.name!r}{on}"


def normalise_sql(sql: str | None) -> str:
    """The statement with comments dropped, whitespace collapsed and words outside quotes in
    lower case: two texts of the same definition compare equal, different definitions do not."""
    if not sql:
        return ""
    out: list[str] = []
    i, n = 0, len(sql)
    closing = {"'": "'", '"': '"', "`": "`", "[": "]"}
    while i < n:
        ch = sql[i]
        if ch in closing:
            end = sql.find(closing[ch], i + 1)
            # '' inside a literal is an escaped quote: keep scanning past it.
            while end != -1 and ch != "[" and sql[end + 1 : end + 2] == ch:
                end = sql.find(ch, end + 2)
            end = n - 1 if end == -1 else end
            out.append(sql[i : end + 1])
            i = end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end == -1 else end
            out.append(" ")
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end == -1 else end + 2
            out.append(" ")
        elif ch.isspace():
            out.append(" ")
            i += 1
        else:
            out.append(ch.lower())
            i += 1
    text = " ".join("".join(out).split())
    for mark in ("(", ")", ",", ";"):
        text = text.replace(f" {mark}", mark).replace(f"{mark} ", mark)
    return text.rstrip(";")


def read_schema(
    conn: sqlite3.Connection, schema: str = "main"
) -> dict[tuple[str, str], SchemaObject]:
    """Every object of `schema` that a file can define, keyed by (type, name)."""
    rows = conn.execute(f"SELECT type, name, tbl_name, sql FROM {schema}.sqlite_schema").fetchall()
    objects = {}
    for kind, name, table, sql in rows:
        if kind == "table" and name in _INTERNAL_TABLES:
            continue
        # An index SQLite made for a UNIQUE or PRIMARY KEY constraint has no SQL of its own:
        # it follows from its table's definition, which is compared.
        if kind == "index" and sql is None and str(name).startswith("sqlite_autoindex_"):
            continue
        objects[(str(kind), str(name))] = SchemaObject(
            str(kind), str(name), str(table), normalise_sql(sql)
        )
    return objects


def expected_schema(
    version: int, migrations: Sequence[Migration] = MIGRATIONS
) -> dict[tuple[str, str], SchemaObject]:
    """LedGrab's schema at `version`, read from an in-memory database built by the migrations."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        migrate(conn, [m for m in migrations if m.version <= version])
        return read_schema(conn)
    finally:
        conn.close()


def schema_mismatches(
    found: dict[tuple[str, str], SchemaObject], expected: dict[tuple[str, str], SchemaObject]
) -> list[str]:
    """One line per object that is not exactly LedGrab's, for a person; empty when all match."""
    problems = []
    for key, obj in found.items():
        want = expected.get(key)
        if want is None:
            same_name = [o for (_k, name), o in expected.items() if name == obj.name]
            instead = f" (LedGrab has a {same_name[0].type} by that name)" if same_name else ""
            problems.append(f"unexpected {obj.describe()}{instead}")
        elif want != obj:
            problems.append(f"{obj.describe()} differs from LedGrab's definition")
    for key, want in expected.items():
        if key not in found and not any(name == key[1] for (_k, name) in found):
            problems.append(f"{want.describe()} is missing")
    return problems
