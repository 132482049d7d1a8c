"""CSV export, by the API and by `ledgrab export`: a cell a spreadsheet would run as a formula
(also after blanks, also in full-width form) starts with a quote; the type has one charset."""

from __future__ import annotations

import csv
import io

import pytest

from ledgrab.core.activity_log.export import csv_cell
from tests.support.cli import run_ledgrab
from tests.support.live_server import LiveServer

# (name as typed, why a spreadsheet would evaluate it)
FORMULAS = [
    "=1+1",
    " =1+1",  # leading space
    "\t=cmd",  # leading tab
    "\r\n@SUM(A1)",  # leading line break
    "  -2+3",
    "+1",
    "\uff1dSUM(A1)",  # full-width equals
    "\uff0b1",  # full-width plus
    " \uff0d1",  # blank, full-width minus
    "\uff20A1",  # full-width commercial at
    "\tplain",  # OWASP: a leading tab is neutralised whatever follows
    "\rplain",
]
HARMLESS = ["Desk", "a=b", "1-2", "e-mail@home", "\u00e9=1"]


@pytest.mark.parametrize("text", FORMULAS)
def test_formula_cells_are_neutralised(text):
    assert csv_cell(text) == "'" + text


@pytest.mark.parametrize("text", HARMLESS)
def test_plain_cells_are_kept(text):
    assert csv_cell(text) == text


def test_api_and_cli_exports_quote_a_formula_in_an_entry(tmp_path):
    """Names cannot hold control characters, so the formula rides in a device name after a space
    and in full-width form; the entry's message and entity_name carry it into the CSV."""
    data = tmp_path / "data"
    names = [" =HYPERLINK(1)", "\uff1dHYPERLINK(2)"]
    with LiveServer(data) as live, live.client() as client:
        for name in names:
            made = client.post(
                "/api/v1/devices", json={"name": name, "type": "virtual", "led_count": 3}
            )
            assert made.status_code == 201, made.text
    with LiveServer(data) as live, live.client() as client:
        answer = client.get("/api/v1/activity/export", params={"category": "entity"})
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    cli = run_ledgrab("export", "--data-dir", str(data), "--category", "entity")
    assert cli.returncode == 0, cli.stderr
    for body in (answer.text, cli.stdout):
        rows = list(csv.DictReader(io.StringIO(body)))
        named = [r["entity_name"] for r in rows if r["action"] == "device.created"]
        assert sorted(named) == sorted("'" + n for n in names)
