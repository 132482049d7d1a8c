"""The frame pacer's process with real sockets: frames leave at their due time and not before,
newest wins, a stop's last frame is not lost, a stalled process costs dropped frames and never a
blocked frame loop, and a killed one is replaced by the target's reconnect."""

import asyncio
import contextlib
import os
import signal
import socket
import time

import pytest

from ledgrab.core.processing.pacer import FramePacer, PacerGone
from tests.support.live_server import LiveServer, until, wait_for
from tests.support.receivers import StampedUdpReceiver as Stamped
from tests.support.receivers import UdpReceiver

# Every network frame through the pacer, as in the process tests (the default paces on demand).
ALWAYS = {"pacing": "always"}


def _sender(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    return sock


def _start_ddp_target(client, port: int) -> str:
    """A running target sending a static colour to a 3-LED DDP device at `port` on loopback."""
    device = client.post(
        "/api/v1/devices",
        json={"type": "ddp", "name": "d", "led_count": 3, "address": "127.0.0.1", "port": port},
    ).json()
    source = client.post("/api/v1/sources", json={"name": "s", "kind": "static"}).json()
    target = client.post(
        "/api/v1/targets",
        json={"name": "t", "device_id": device["id"], "source_id": source["id"]},
    ).json()
    client.post(f"/api/v1/targets/{target['id']}/start").raise_for_status()
    return target["id"]


def _drain(rx: UdpReceiver) -> None:
    rx.sock.setblocking(False)
    with contextlib.suppress(BlockingIOError):
        while True:
            rx.sock.recv(65535)


def _run(scenario) -> None:
    async def main() -> None:
        pacer = FramePacer(lead_s=0.006)
        try:
            await scenario(pacer)
        finally:
            await pacer.aclose()

    asyncio.run(main())


def test_frames_leave_in_order_and_none_before_its_due_time():
    dues: list[float] = []
    with Stamped() as rx, _sender(rx.port) as tx:

        async def scenario(pacer: FramePacer) -> None:
            slot = await pacer.open(tx, lambda *_: None)
            for i in range(6):  # each handed over 30 ms ahead, as the frame loop does
                dues.append(time.monotonic() + 0.03)
                pacer.post(slot, [b"frame %d a" % i, b"frame %d b" % i], dues[-1])
                await asyncio.sleep(0.05)
            await until(lambda: len(rx.arrivals) == 12, "12 datagrams")

        _run(scenario)
    assert [data for data, _ in rx.arrivals] == [
        b"frame %d %s" % (i, part) for i in range(6) for part in (b"a", b"b")
    ]
    # time.monotonic() is one clock in both processes.
    firsts = [at for data, at in rx.arrivals if data.endswith(b"a")]
    assert [at >= due for at, due in zip(firsts, dues, strict=True)] == [True] * 6


def test_a_newer_frame_replaces_one_still_waiting_and_the_replacement_is_counted():
    notes: list[tuple[str, object]] = []
    with Stamped() as rx, _sender(rx.port) as tx:

        async def scenario(pacer: FramePacer) -> None:
            slot = await pacer.open(tx, lambda kind, body: notes.append((kind, body)))
            pacer.post(slot, [b"old"], time.monotonic() + 30)
            await asyncio.sleep(0.05)  # the two in separate messages, so the process sees both
            pacer.post(slot, [b"new"], 0.0)
            await until(lambda: rx.arrivals and notes, "the new frame and the note")
            pacer.close(slot)  # would send a frame still waiting: there is none
            await asyncio.sleep(0.3)

        _run(scenario)
    assert [data for data, _ in rx.arrivals] == [b"new"]
    assert notes == [("dropped", 1)]


def test_closing_a_slot_sends_the_frame_still_waiting():
    """A stopping target's last frame (black) is handed over just before the slot closes."""
    with Stamped() as rx, _sender(rx.port) as tx:

        async def scenario(pacer: FramePacer) -> None:
            slot = await pacer.open(tx, lambda *_: None)
            pacer.post(slot, [b"black"], time.monotonic() + 30)
            pacer.close(slot)
            await until(lambda: rx.arrivals, "the last frame")

        _run(scenario)
    assert [data for data, _ in rx.arrivals] == [b"black"]


def test_a_send_that_fails_in_the_process_is_reported_for_its_slot():
    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: loopback answers ICMP port unreachable
    errors: list[object] = []
    with _sender(port) as tx:

        async def scenario(pacer: FramePacer) -> None:
            slot = await pacer.open(
                tx, lambda kind, body: errors.append(body) if kind == "error" else None
            )
            for _ in range(100):
                pacer.post(slot, [b"x"], 0.0)
                await asyncio.sleep(0.02)
                if errors:
                    return
            raise AssertionError("no error note")

        _run(scenario)
    assert "ConnectionRefusedError" in str(errors[0])


def test_a_stalled_process_drops_frames_at_its_bound_and_never_blocks_the_caller():
    dropped: list[int] = []
    with Stamped() as rx, _sender(rx.port) as tx:

        async def scenario(pacer: FramePacer) -> None:
            slot = await pacer.open(tx, lambda kind, count: dropped.append(count))
            os.kill(pacer.pid, signal.SIGSTOP)
            try:
                for _ in range(200):  # 200 turns of the loop, 10 frames of 4.2 kB each
                    for _ in range(10):
                        pacer.post(slot, [bytes(1400)] * 3, 0.0)
                    await asyncio.sleep(0)
            finally:
                os.kill(pacer.pid, signal.SIGCONT)
            assert dropped, "the channel's buffer is the bound"
            for _ in range(1000):  # until the process has worked off its backlog
                pacer.post(slot, [b"later"], 0.0)
                await asyncio.sleep(0.01)
                if any(d == b"later" for d, _ in rx.arrivals):
                    return
            raise AssertionError("no frame after the process went on")

        _run(scenario)


def test_a_killed_process_fails_the_post_and_a_new_open_starts_another():
    with Stamped() as rx, _sender(rx.port) as tx:

        async def scenario(pacer: FramePacer) -> None:
            slot = await pacer.open(tx, lambda *_: None)
            first = pacer.pid
            os.kill(first, signal.SIGKILL)
            with pytest.raises(PacerGone):
                for _ in range(1000):  # the loss is noticed on the loop, within a few turns
                    pacer.post(slot, [b"lost"], 0.0)
                    await asyncio.sleep(0.01)
            slot = await pacer.open(tx, lambda *_: None)
            assert pacer.pid not in (None, first)
            pacer.post(slot, [b"again"], 0.0)
            await until(lambda: any(d == b"again" for d, _ in rx.arrivals), "a frame again")

        _run(scenario)


def test_a_ddp_target_goes_on_after_its_pacer_process_is_killed(tmp_path):
    with (
        UdpReceiver() as rx,
        LiveServer(tmp_path / "data", engine=ALWAYS) as server,
        server.client() as c,
    ):
        target_id = _start_ddp_target(c, rx.port)
        rx.take(3)
        pacer = server.app.state.engine.pacer
        first = pacer.pid
        assert first is not None, "a running DDP target sends through the pacer"
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: pacer.pid not in (None, first), what="a new pacer process")
        _drain(rx)  # what the killed process sent
        rx.take(3)
        state = c.get(f"/api/v1/targets/{target_id}/state").json()
        assert state["running"] and state["status"] == "running"
        pacer_health = c.get("/health").json()["components"]["frame_pacer"]
        assert pacer_health["state"] == "ok", pacer_health
        assert pacer_health["details"]["running"] is True
        assert pacer_health["details"]["losses"] == 1


def test_without_a_lead_network_frames_go_from_the_frame_thread(tmp_path):
    with (
        UdpReceiver() as rx,
        LiveServer(tmp_path / "data", engine={"send_ahead_ms": 0}) as server,
        server.client() as c,
    ):
        _start_ddp_target(c, rx.port)
        rx.take(3)
        assert server.app.state.engine.pacer.pid is None


def test_a_pacer_that_keeps_dying_is_given_up_and_the_frames_go_out_anyway(tmp_path):
    """A process that cannot run (a broken install, a filter that kills it) must not leave the
    network targets reconnecting for ever."""
    dies = tmp_path / "dies.py"
    dies.write_text("raise SystemExit(1)\n")
    with (
        UdpReceiver() as rx,
        LiveServer(tmp_path / "data", engine=ALWAYS) as server,
        server.client() as c,
    ):
        pacer = server.app.state.engine.pacer
        pacer._program = dies
        target_id = _start_ddp_target(c, rx.port)
        wait_for(lambda: pacer.given_up, what="the pacer given up")
        _drain(rx)
        rx.take(3)
        state = c.get(f"/api/v1/targets/{target_id}/state").json()
        assert state["status"] == "running"
        assert state["device"]["details"]["sent_by_frame_pacer"] is False
        # Public, like the rest of /health: a monitor sees the frames are no longer paced.
        with server.client(key=None) as anonymous:
            health = anonymous.get("/health").json()
        assert health["status"] == "degraded", health
        pacer_health = health["components"]["frame_pacer"]
        assert pacer_health["state"] == "degraded", pacer_health
        assert "from the frame thread until LedGrab restarts" in pacer_health["reason"]
        assert pacer_health["details"]["losses"] >= 3


def _wakes(pid: int) -> int:
    """How often the process has gone to sleep and been woken (voluntary context switches)."""
    with open(f"/proc/{pid}/status") as status:
        return int(next(line for line in status if line.startswith("voluntary_")).split()[1])


def test_frames_on_an_announced_grid_cost_one_wake_each_and_still_leave_on_time():
    """The process sleeps through a hand-over it was told of and sends at the due time."""
    interval, lead, frames = 0.02, 0.006, 50
    dues: list[float] = []
    with Stamped() as rx, _sender(rx.port) as tx:

        async def scenario(pacer: FramePacer) -> None:
            slot = await pacer.open(tx, lambda *_: None)
            start = int(time.monotonic() / interval) + 5
            await asyncio.sleep(0.1)
            before = _wakes(pacer.pid)
            for k in range(start, start + frames):
                await asyncio.sleep(max(0.0, k * interval - time.monotonic()))
                dues.append(k * interval + lead)
                pacer.post(slot, [b"%d" % k], k * interval + lead, (k + 1) * interval + lead)
            await until(lambda: len(rx.arrivals) == frames, f"{frames} datagrams")
            woken = _wakes(pacer.pid) - before
            # Told nothing, it wakes twice a frame: once for the hand-over, once to send.
            assert woken <= frames * 1.3, woken

        _run(scenario)
    assert [at >= due for (_, at), due in zip(rx.arrivals, dues, strict=True)] == [True] * frames


def test_a_frame_handed_over_after_its_announced_due_still_goes_out():
    """The frame loop was late past the lead: the process has woken, found nothing, and must
    not sleep until some later time."""
    with Stamped() as rx, _sender(rx.port) as tx:

        async def scenario(pacer: FramePacer) -> None:
            slot = await pacer.open(tx, lambda *_: None)
            now = time.monotonic()
            pacer.post(slot, [b"first"], now + 0.01, now + 0.05)
            await until(lambda: rx.arrivals, "the first frame")
            await asyncio.sleep(0.1)  # the announced 50 ms pass with nothing handed over
            pacer.post(slot, [b"late"], now + 0.05, now + 10)  # due in the past: now
            await until(lambda: len(rx.arrivals) == 2, "the late frame")

        _run(scenario)
    assert [data for data, _ in rx.arrivals] == [b"first", b"late"]


def test_the_process_ends_once_no_device_has_used_it_for_a_while():
    pids: list[int] = []
    with _sender(9) as tx:

        async def scenario() -> None:
            pacer = FramePacer(lead_s=0.006, idle_stop_s=0.2)
            try:
                slot = await pacer.open(tx, lambda *_: None)
                pids.append(pacer.pid)
                pacer.close(slot)
                assert pacer.pid == pids[0], "kept for a device that reopens within its backoff"
                await until(lambda: pacer.pid is None, "the idle stop")
            finally:
                await pacer.aclose()  # waits for the process that ended

        asyncio.run(scenario())
    assert not os.path.exists(f"/proc/{pids[0]}")
