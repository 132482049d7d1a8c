"""`ledgrab export` writes the same entries the HTTP export does, with the same filters."""

import csv
import io
import json

from tests.support.cli import run_ledgrab
from tests.support.live_server import LiveServer


def run_export(data_dir, *args):
    return run_ledgrab("export", "--data-dir", str(data_dir), *args, text=False)


def test_export_matches_the_api_for_the_same_filter(tmp_path):
    data = tmp_path / "data"
    with LiveServer(data) as live, live.client() as client:
        created = client.post(
            "/api/v1/devices",
            json={"name": 'Desk "main", =1+1', "type": "virtual", "led_count": 30},
        )
        assert created.status_code == 201, created.text
    # The clean stop above committed every pending entry; the export reads the file.
    with LiveServer(data) as live, live.client() as client:
        api_json = client.get(
            "/api/v1/activity/export", params={"format": "json", "category": "entity"}
        ).json()
    result = run_export(data, "--format", "json", "--category", "entity")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == api_json
    assert any(e["action"] == "device.created" for e in api_json)

    as_csv = run_export(data, "--category", "entity", "-o", str(tmp_path / "out.csv"))
    assert as_csv.returncode == 0, as_csv.stderr
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out.csv").read_text())))
    assert [r["id"] for r in rows] == [e["id"] for e in api_json]
    names = {r["entity_name"] for r in rows}
    assert 'Desk "main", =1+1' in names  # quotes and commas survive the CSV round trip


def test_bad_filters_exit_2_and_name_the_problem(tmp_path):
    data = tmp_path / "data"
    with LiveServer(data):
        pass
    cases = [
        (["--category", "nope"], b"nope"),
        (["--since", "yesterday"], b"--since"),
        (["--since", "2026-01-01T00:00"], b"UTC offset"),
        (["--since", "2026-02-01T00:00+00:00", "--until", "2026-01-01T00:00+00:00"], b"after"),
    ]
    for args, fragment in cases:
        result = run_export(data, *args)
        assert result.returncode == 2, args
        assert fragment in result.stderr, (args, result.stderr)
    assert run_export(tmp_path / "elsewhere").returncode == 2
