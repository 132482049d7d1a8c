"""schemathesis over the OpenAPI document of the live app (`ledgrab serve` on 127.0.0.1, a valid
key): every check, positive and negative data, the stateful phase. Never a 5xx, an error or an
unhandled exception in the server's log. The goal beyond that is zero findings of any kind (no
undocumented status, header or media type, no schema-valid request refused and no invalid one
accepted; tests/support/schemathesis.toml names the two opaque inputs). Until the last cross-field
rules are in the schema (issue 16), remaining conformance findings mark the run xfail, naming them,
rather than pass quietly.
"""

from __future__ import annotations

import json

import pytest

from tests.support.netns import needs_private_network, run_probe_in_private_network

PROBE = "tests.support.schemathesis_probe"


def _run(max_examples: int, phases: str, timeout: float) -> dict:
    report = run_probe_in_private_network(PROBE, str(max_examples), phases, timeout=timeout)
    print(json.dumps({k: v for k, v in report.items() if k != "output_tail"}, indent=1))
    return report


def _assert_no_failure(report: dict, phases: list[str]) -> None:
    assert report["complete"], report["output_tail"]
    assert report["operations"]["tested"] == report["operations"]["selected"] >= 40
    for phase in phases:
        assert report["phases"][phase] in ("success", "failure"), report["phases"]
    assert report["errors"] == [], report["output_tail"]
    assert report["server_errors"] == [], (report["seed"], report["output_tail"])
    assert report["unhandled_in_server_log"] == []
    if report["failures"]:
        codes = sorted({f"{f['code']} {f['title']}" for f in report["failures"]})
        pytest.xfail(f"conformance findings left (issue 16), seed {report['seed']}: {codes}")
    assert report["test_cases"]["with_failures"] == 0
    assert report["exit_code"] == 0, report["output_tail"]


@pytest.mark.timeout(420)
@needs_private_network
def test_short_run_finds_no_failure():
    report = _run(8, "coverage,fuzzing,stateful", timeout=400)
    _assert_no_failure(report, ["coverage", "fuzzing", "stateful"])


@pytest.mark.slow
@pytest.mark.timeout(1200)
@needs_private_network
def test_long_run_finds_no_failure():
    report = _run(300, "examples,coverage,fuzzing,stateful", timeout=1100)
    _assert_no_failure(report, ["coverage", "fuzzing", "stateful"])
    assert report["test_cases"]["generated"] > 5000
