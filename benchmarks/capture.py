"""Capture input: packet-in to frame-out latency (p50/p99) and the CPU cost of receiving.

Run: .venv/bin/python benchmarks/capture.py [--quick]
Latency: a sender thread sends one frame, the receiver's frame callback stamps its completion
(same monotonic clock), repeated ping-pong over loopback; then the same through a capture
source and a running 60 fps target to a virtual strip (what a real strip would see): capture in
to LED out, the target sending each frame as it arrives; and to a DDP receiver on loopback, by
the frame pacer's process and by the frame thread.
CPU: the receiver runs alone in a child process while this process streams 4 universes (or the
same pixels over DDP) at 60 fps; the child's user+system CPU time over the window is the cost.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import random
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

import psutil
from sacn.messages.data_packet import DataPacket

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._stats import percentile
from ledgrab.core.devices.ddp import DdpDriver
from ledgrab.core.devices.factory import DriverContext
from ledgrab.core.devices.virtual import VirtualDriver
from ledgrab.core.effects import capture_source
from ledgrab.core.effects.capture_receiver import CaptureHub
from ledgrab.core.event_bus import EventBus
from ledgrab.core.processing.pacer import FramePacer
from ledgrab.core.processing.target_runner import RunnerTimings, TargetRunner
from ledgrab.models.devices import DdpDevice, VirtualDevice
from ledgrab.models.targets import TargetConfig
from tests.support.ddp import ddp_frame

LEDS = 680  # 4 E1.31 universes of 170 RGB pixels
UNIVERSES = 4
CID = tuple(range(16))


def e131_frame(seq: int, seed: int) -> list[bytes]:
    packets = []
    for k in range(UNIVERSES):
        data = tuple((i + seed + k) % 256 for i in range(510))
        packet = DataPacket(cid=CID, sourceName="bench", universe=1 + k, dmxData=data, sequence=seq)
        packets.append(bytes(packet.getBytes()))
    return packets


def ddp_frame_packets(seq: int, seed: int) -> list[bytes]:
    pixels = bytes((i + seed) % 256 for i in range(LEDS * 3))
    return ddp_frame(pixels, sequence=seq)


def build(protocol: str, seq: int) -> list[bytes]:
    return (e131_frame if protocol == "e131" else ddp_frame_packets)(seq % 256, seq)


def latency(protocol: str, frames: int) -> list[float]:
    """Microseconds from sending a frame's last packet to the receiver completing the frame."""
    done = threading.Event()
    stamps: list[int] = []
    frames_seen = [0]

    def on_frame(target) -> None:
        if target.stats.frames != frames_seen[0]:
            frames_seen[0] = target.stats.frames
            stamps.append(time.perf_counter_ns())
            done.set()

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="bench-loop")
    thread.start()
    hub = CaptureHub(bind_host="127.0.0.1")

    async def opened():
        return hub.open_input(
            protocol=protocol, port=0, led_count=LEDS, timeout_s=5, on_frame=on_frame
        )

    target = asyncio.run_coroutine_threadsafe(opened(), loop).result()
    addr = ("127.0.0.1", hub.bound_port(target))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    results: list[float] = []
    try:
        for n in range(frames):
            packets = build(protocol, n + 1)
            done.clear()
            for packet in packets[:-1]:
                sock.sendto(packet, addr)
            sent = time.perf_counter_ns()
            sock.sendto(packets[-1], addr)
            if not done.wait(2):
                continue  # a lost datagram: not a latency sample
            results.append((stamps[-1] - sent) / 1000)
    finally:
        sock.close()
        loop.call_soon_threadsafe(hub.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
    return results


def through_target(
    protocol: str, frames: int, fps: int = 60, pacer_lead_s: float | None = None
) -> list[float]:
    """Microseconds from sending a frame's last packet to a virtual strip receiving it from a
    running `fps` target (straight through: the target sends a frame as it arrives, at most one
    per interval). Frames go out at least one interval apart, at a random phase to the target's
    ticks, as a screen grabber at or below the target's fps sends them. With `pacer_lead_s` the
    target drives a DDP device on loopback instead, through the frame pacer's process when the
    lead is above 0, and the time is taken when the frame's first datagram arrives."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    arrived = threading.Event()
    wanted = [b""]
    stamp = [0]

    class StampingStrip(VirtualDriver):
        def send(self, frame: bytes) -> None:
            super().send(frame)
            if frame[:3] == wanted[0] and not arrived.is_set():
                stamp[0] = time.perf_counter_ns()
                arrived.set()

    out: socket.socket | None = None

    def watch_out(out: socket.socket) -> None:
        while out.fileno() >= 0:
            try:
                data = out.recv(2048)
            except (TimeoutError, OSError):
                continue
            if data[10:13] == wanted[0] and not arrived.is_set():
                stamp[0] = time.perf_counter_ns()
                arrived.set()

    if pacer_lead_s is None:
        device = VirtualDevice(name="strip", led_count=LEDS)
        driver = StampingStrip(device)
    else:
        out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        out.bind(("127.0.0.1", 0))
        out.settimeout(0.2)
        device = DdpDevice(
            name="strip", led_count=LEDS, address="127.0.0.1", port=out.getsockname()[1]
        )
        pacer = FramePacer(lead_s=pacer_lead_s)
        driver = DdpDriver(device, DriverContext(pacer=pacer))
        threading.Thread(target=watch_out, args=(out,), name="bench-out", daemon=True).start()

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="bench-loop")
    thread.start()
    hub = CaptureHub(bind_host="127.0.0.1")
    capture_source.set_capture_hub(hub)
    params = capture_source.CaptureParams(protocol=protocol, port=port, timeout_s=5)
    config = TargetConfig(name="t", device_id="d", source_id="s", fps=fps, gamma=1.0)
    runner = TargetRunner(
        "t",
        config,
        device,
        capture_source.CaptureSource(params),
        driver,
        EventBus(),
        RunnerTimings(),
    )
    loop.call_soon_threadsafe(runner.start)
    while hub.bound_port_of(protocol, port) is None:  # the source opens on its first render
        time.sleep(0.01)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rng = random.Random(4)
    results: list[float] = []
    sent_at = time.perf_counter()
    try:
        for n in range(frames):
            packets = build(protocol, n + 1)
            pixel = (n % 200 + 1).to_bytes(3, "big")  # a first pixel no neighbour frame has
            packets = [_with_first_pixel(protocol, packets[0], pixel), *packets[1:]]
            wanted[0] = pixel
            arrived.clear()
            # One interval after the last frame, plus a random phase against the ticks.
            pause = sent_at + 1 / fps + rng.uniform(0, 1 / fps) - time.perf_counter()
            time.sleep(max(0.0, pause))
            sent_at = time.perf_counter()
            for packet in packets[:-1]:
                sock.sendto(packet, ("127.0.0.1", port))
            sent = time.perf_counter_ns()
            sock.sendto(packets[-1], ("127.0.0.1", port))
            if arrived.wait(2):
                results.append((stamp[0] - sent) / 1000)
    finally:
        sock.close()
        asyncio.run_coroutine_threadsafe(runner.stop(), loop).result(10)
        if out is not None:
            asyncio.run_coroutine_threadsafe(pacer.aclose(), loop).result(10)
            out.close()
        loop.call_soon_threadsafe(hub.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
        capture_source.set_capture_hub(None)
    return results


def _with_first_pixel(protocol: str, packet: bytes, pixel: bytes) -> bytes:
    start = 126 if protocol == "e131" else 10  # where pixel data begins in the first packet
    return packet[:start] + pixel + packet[start + 3 :]


def _receiver(protocol: str, port_out, stop) -> None:
    async def run() -> None:
        hub = CaptureHub(bind_host="127.0.0.1")
        target = hub.open_input(protocol=protocol, port=0, led_count=LEDS, timeout_s=5)
        port_out.put(hub.bound_port(target))
        while not stop.is_set():
            await asyncio.sleep(0.1)
        port_out.put(target.stats.frames)
        hub.close()

    asyncio.run(run())


def cpu_cost(protocol: str, seconds: float, fps: int = 60) -> tuple[float, int, int]:
    """(% of one core, frames sent, frames completed by the receiver)."""
    ctx = mp.get_context("spawn")
    port_q, stop = ctx.Queue(), ctx.Event()
    child = ctx.Process(target=_receiver, args=(protocol, port_q, stop))
    child.start()
    addr = ("127.0.0.1", port_q.get(timeout=30))
    proc = psutil.Process(child.pid)
    frames = [build(protocol, n + 1) for n in range(fps)]  # prebuilt: measure the receiver
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    time.sleep(0.5)  # let the child finish importing before the window opens
    before = proc.cpu_times()
    start = time.perf_counter()
    sent = 0
    while (elapsed := time.perf_counter() - start) < seconds:
        for packet in frames[sent % fps]:
            sock.sendto(packet, addr)
        sent += 1
        time.sleep(max(0.0, sent / fps - (time.perf_counter() - start)))
    after = proc.cpu_times()
    stop.set()
    received = port_q.get(timeout=30)
    child.join(30)
    sock.close()
    used = (after.user - before.user) + (after.system - before.system)
    return 100 * used / elapsed, sent, received


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer frames, shorter windows")
    args = parser.parse_args()
    frames, seconds = (300, 3.0) if args.quick else (3000, 10.0)

    print(f"capture latency, packet in -> frame out ({LEDS} LEDs, loopback, {frames} frames)")
    print(f"{'protocol':<10}{'packets/frame':>14}{'p50 us':>10}{'p99 us':>10}{'max us':>10}")
    for protocol in ("ddp", "e131"):
        samples = sorted(latency(protocol, frames))
        p99 = percentile(samples, 0.99)
        print(
            f"{protocol:<10}{len(build(protocol, 1)):>14}{statistics.median(samples):>10.1f}"
            f"{p99:>10.1f}{samples[-1]:>10.1f}"
        )
    print()
    print(f"through a 60 fps target to a virtual strip ({frames // 3} frames, sent straight")
    print("through; at least one interval apart, at a random phase to the ticks)")
    print("target: p99 <= 2000 us on loopback")
    print(f"{'protocol':<10}{'p50 us':>10}{'p99 us':>10}{'max us':>10}{'lost':>6}")
    for protocol in ("ddp", "e131"):
        count = frames // 3
        samples = sorted(through_target(protocol, count))
        p99 = percentile(samples, 0.99)
        print(
            f"{protocol:<10}{statistics.median(samples):>10.1f}{p99:>10.1f}{samples[-1]:>10.1f}"
            f"{count - len(samples):>6}"
        )
    print()
    print(f"the same from DDP in to a DDP receiver on loopback ({frames // 3} frames)")
    print(f"{'sent by':<22}{'p50 us':>10}{'p99 us':>10}{'max us':>10}{'lost':>6}")
    for label, lead in (("the frame pacer", 0.006), ("the frame thread", 0.0)):
        count = frames // 3
        samples = sorted(through_target("ddp", count, pacer_lead_s=lead))
        p99 = percentile(samples, 0.99)
        print(
            f"{label:<22}{statistics.median(samples):>10.1f}{p99:>10.1f}{samples[-1]:>10.1f}"
            f"{count - len(samples):>6}"
        )
    print()
    print(f"receiver CPU at 60 fps ({LEDS} LEDs = {UNIVERSES} universes), {seconds:.0f} s window")
    print(f"{'protocol':<10}{'pkts/s':>8}{'CPU % of 1 core':>18}{'sent':>8}{'completed':>11}")
    for protocol in ("ddp", "e131"):
        percent, sent, received = cpu_cost(protocol, seconds)
        rate = len(build(protocol, 1)) * 60
        print(f"{protocol:<10}{rate:>8}{percent:>18.1f}{sent:>8}{received:>11}")


if __name__ == "__main__":
    main()
