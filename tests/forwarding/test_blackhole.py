"""Collectors that never answer, in a private network namespace: memory and CPU stay flat, the
LEDs keep their frame rate, every forwarder says it is retrying and how far behind it is."""

from __future__ import annotations

import pytest

from tests.support.netns import needs_private_network, run_probe_in_private_network

pytestmark = needs_private_network


def _check(report: dict) -> None:
    samples = report["samples"][1:]  # the first window is warm-up
    print("\nwindow  rss KiB  cpu share  fps")
    for i, s in enumerate(report["samples"]):
        print(f"{i:>6} {s['rss_kib']:>8} {s['cpu_share']:>10} {s['fps']:>4}")
    # Memory: nothing queues in memory while collectors are away (the log is the outbox).
    growth_kib = samples[-1]["rss_kib"] - samples[0]["rss_kib"]
    assert growth_kib < 16 * 1024, f"RSS grew by {growth_kib} KiB"
    # CPU and frames: no busy retry loop, no blocked event loop.
    third = max(1, len(samples) // 3)
    early, late = samples[:third], samples[-third:]
    mean = lambda rows, key: sum(r[key] for r in rows) / len(rows)  # noqa: E731
    assert mean(late, "cpu_share") <= 2 * mean(early, "cpu_share") + 0.1
    assert mean(late, "fps") >= 0.5 * mean(early, "fps") > 0
    for status in report["statuses"]:
        assert status["state"] == "retrying" and status["last_error"], status
        assert status["lag_entries"] >= report["recorded"]
        assert status["retry_in_s"] is not None
    assert report["health"]["state"] == "degraded"


def test_dead_collectors_cost_bounded_memory_and_no_frames():
    _check(run_probe_in_private_network("tests.support.forward_blackhole_probe", timeout=90))


@pytest.mark.slow
@pytest.mark.timeout(450)
def test_dead_collectors_for_minutes():
    env = {"LEDGRAB_PROBE_SECONDS": "180"}
    report = run_probe_in_private_network(
        "tests.support.forward_blackhole_probe", timeout=400, env=env
    )
    _check(report)
