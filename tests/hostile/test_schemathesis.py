"""schemathesis over the OpenAPI document of the live app (`ledgrab serve` on 127.0.0.1, a valid
key): every check, positive and negative data, the stateful phase. Zero findings of any kind:
no 5xx, no error, no unhandled exception in the server's log, no undocumented status, header or
media type, no answer outside its schema, no schema-valid request refused and no invalid one
accepted (tests/support/schemathesis.toml names the two opaque inputs). Any finding fails the test.
"""

from __future__ import annotations

import json

import pytest

from tests.support.netns import needs_private_network, run_probe_in_private_network

PROBE = "tests.support.schemathesis_probe"


def _run(max_examples: int, phases: str, timeout: float) -> dict:
    report = run_probe_in_private_network(PROBE, str(max_examples), phases, timeout=timeout)
    print(json.dumps({k: v for k, v in report.items() if k != "output_tail"}, indent=1))
    print(report["output_tail"][-3000:])  # schemathesis's own summary
    return report


def _assert_no_failure(report: dict, phases: list[str]) -> None:
    assert report["complete"], report["output_tail"]
    assert report["operations"]["tested"] == report["operations"]["selected"] >= 40
    for phase in phases:
        assert report["phases"][phase] == "success", (report["phases"], report["output_tail"])
    assert report["errors"] == [], report["output_tail"]
    assert report["server_errors"] == [], (report["seed"], report["output_tail"])
    assert report["unhandled_in_server_log"] == []
    assert report["failures"] == [], (report["seed"], report["output_tail"])
    assert report["test_cases"]["with_failures"] == 0
    assert report["exit_code"] == 0, report["output_tail"]


# Generous: about two minutes alone, it has taken past six on a machine shared with other builds.
@pytest.mark.timeout(620)
@needs_private_network
def test_short_run_finds_no_failure():
    report = _run(8, "coverage,fuzzing,stateful", timeout=600)
    _assert_no_failure(report, ["coverage", "fuzzing", "stateful"])


@pytest.mark.slow
@pytest.mark.timeout(2400)
@needs_private_network
def test_long_run_finds_no_failure():
    report = _run(300, "examples,coverage,fuzzing,stateful", timeout=2300)
    _assert_no_failure(report, ["coverage", "fuzzing", "stateful"])
    assert report["test_cases"]["generated"] > 5000
