"""Counts in messages take the right form: "1 entry", "2 entries", "1 more failed attempt"."""

from ledgrab.core.activity_log.settings import ActivityLogSettings
from ledgrab.utils.plain_text import plural
from tests.activity.helpers import open_recorder, rows


def test_plural_forms():
    assert plural(1, "entry", "entries") == "1 entry"
    assert plural(0, "entry", "entries") == "0 entries"
    assert plural(2, "more failed API-key attempt") == "2 more failed API-key attempts"
    assert plural(1, "more failed API-key attempt") == "1 more failed API-key attempt"


def test_one_dropped_entry_is_spoken_of_in_the_singular(tmp_path):
    settings = ActivityLogSettings(commit_interval_s=300)
    with open_recorder(tmp_path / "a.db", settings, max_pending=1) as (_db, recorder):
        recorder.record("system", "a.one", message="kept")
        recorder.record("system", "a.two", message="dropped")  # over max_pending: dropped
        recorder.flush_blocking()
        recorder.flush_blocking()  # the report of the drop rides the next commit
    messages = [m for (m,) in rows(tmp_path / "a.db", "SELECT message FROM activity_log")]
    assert messages == ["kept", "1 activity entry was lost: more than 1 were waiting to be written"]
