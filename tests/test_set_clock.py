"""Setting the board's clock by hand: the server (no CAP_SYS_TIME) writes a request, the
privileged helper sets the clock through an injected setter (the lowest layer: where the
board calls clock_settime) and answers; the change is recorded with who asked. Refused while
a time server has synchronised the clock, for a time that is not one, and for a request that
is not a number; a helper that does not answer is a 503. This machine's clock is never set."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from ledgrab.utils.clock_request import REQUEST, RESULT, serve_request
from tests.support.board_clock import BoardClock, ClockHelper
from tests.support.live_server import LiveServer


@pytest.fixture
def board(tmp_path):
    server = LiveServer(
        tmp_path / "data", clock={"request_dir": str(tmp_path / "run"), "set_timeout_s": 1.0}
    )
    clock = BoardClock(server.app.state.system_clock, behind_s=30 * 86_400)
    with server:
        yield server, clock, tmp_path / "run"


def test_the_browser_time_is_set_by_the_helper_and_recorded_with_who(board):
    server, clock, run = board
    target = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    with ClockHelper(run, clock) as helper, server.client() as client:
        assert client.get("/health").json()["clock"]["settable"] is True
        answer = client.post("/api/v1/system/clock", json={"time": target.isoformat()})
        assert answer.status_code == 200, answer.text
        assert helper.calls == [target.timestamp()]
    body = answer.json()
    assert datetime.fromisoformat(body["new"]) - target < timedelta(seconds=5)
    assert body["step_s"] > 29 * 86_400  # from 30 days late to an hour ahead
    assert abs(server.app.state.system_clock.wall() - target.timestamp()) < 5
    with server.client() as client:
        items = client.get("/api/v1/activity", params={"category": "system"}).json()["items"]
    [entry] = [e for e in items if e["action"] == "system.clock_set"]
    assert entry["actor"] == "admin" and entry["severity"] == "warning"
    for key in ("old", "new"):
        assert datetime.fromisoformat(entry["metadata"][key]) == datetime.fromisoformat(body[key])
    assert not os.path.exists(run / REQUEST) and not os.path.exists(run / RESULT)


def test_refused_while_synchronised_or_for_a_time_that_is_not_one(board):
    server, clock, run = board
    with ClockHelper(run, clock) as helper, server.client() as client:
        for bad, words in (
            ({"time": "tomorrow"}, "time must be a date and time with a UTC offset"),
            ({"time": "2030-01-01T00:00:00"}, "time must be a date and time with a UTC offset"),
            ({"time": "1999-01-01T00:00:00Z"}, "time must lie between 2026-01-01 and 2100"),
            ({"time": "2030-01-01T00:00:00Z", "x": 1}, "x is not a field here"),
        ):
            answer = client.post("/api/v1/system/clock", json=bad)
            assert answer.status_code == 400, answer.text
            assert words in answer.json()["detail"], answer.json()
        clock.synchronise()
        answer = client.post("/api/v1/system/clock", json={"time": "2030-01-01T00:00:00Z"})
        assert answer.status_code == 409 and "time server" in answer.json()["detail"]
        assert helper.calls == []
        actions = [e["action"] for e in client.get("/api/v1/activity").json()["items"]]
    assert "system.clock_set" not in actions


def test_without_a_helper_set_up_it_is_refused_and_not_offered(server):
    with server.client() as client:
        assert client.get("/health").json()["clock"]["settable"] is False
        answer = client.post("/api/v1/system/clock", json={"time": "2030-01-01T00:00:00Z"})
    assert answer.status_code == 409 and "no clock helper is set up" in answer.json()["detail"]


def test_no_helper_is_a_503_and_the_request_is_withdrawn(board):
    server, _clock, run = board
    with server.client() as client:
        answer = client.post("/api/v1/system/clock", json={"time": "2030-01-01T00:00:00Z"})
    assert answer.status_code == 503 and "ledgrab-set-clock.path" in answer.json()["detail"]
    assert not os.path.exists(run / REQUEST)


@pytest.mark.parametrize(
    "request_text",
    ["set 12abc\n", "set -1\n", "sleep 5\n", "set " + "9" * 80 + "\n", "set 1\n"],
)
def test_the_helper_sets_nothing_for_a_request_that_is_not_a_sane_time(tmp_path, request_text):
    calls = []
    (tmp_path / REQUEST).write_text(request_text)
    result = serve_request(tmp_path, set_time=calls.append, synchronised=lambda: False)
    assert result is not None and not result.ok and calls == []
    assert (tmp_path / RESULT).read_text().startswith("refused ")
    assert not (tmp_path / REQUEST).exists()


def test_the_helper_follows_no_link(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("set 1900000000000000\n")
    run = tmp_path / "run"
    run.mkdir()
    (run / REQUEST).symlink_to(secret)
    (run / f".{RESULT}.tmp").symlink_to(tmp_path / "clobbered")
    calls = []
    result = serve_request(run, set_time=calls.append, synchronised=lambda: False)
    assert result is not None and not result.ok and calls == []
    assert not (tmp_path / "clobbered").exists() and secret.exists()
