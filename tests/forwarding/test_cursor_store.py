"""The cursor store rides on other commits, at most once per interval, always on the last."""

from __future__ import annotations

from ledgrab.core.forwarding.cursors import CURSORS_KEY, CursorStore
from ledgrab.storage.database import Database


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _stored(db: Database) -> dict | None:
    return db.get_setting_blocking(CURSORS_KEY)


def _other_write(db: Database) -> None:
    db.write_blocking(Database.put_setting, "unrelated", 1)


def test_a_moved_cursor_rides_on_at_most_one_commit_per_interval(db):
    clock = Clock()
    cursors = CursorStore({}, 60.0, clock)
    db.add_batch_source(cursors)
    assert cursors.due_at() is None  # never asks for a commit of its own
    cursors.set("a", 5)
    _other_write(db)
    assert _stored(db) == {"a": 5}
    cursors.set("a", 9)
    clock.now += 30
    _other_write(db)
    assert _stored(db) == {"a": 5}  # too soon: waits for a later commit
    clock.now += 31
    _other_write(db)
    assert _stored(db) == {"a": 9}
    cursors.set("a", 12)
    cursors.set("b", 1)  # a new forwarder's start is written at once
    _other_write(db)
    assert _stored(db) == {"a": 12, "b": 1}
    cursors.set("a", 20)
    cursors.write_with_next_commit()  # the server stops: the closing commit carries it
    _other_write(db)
    assert _stored(db) == {"a": 20, "b": 1}
