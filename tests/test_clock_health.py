"""/health says whether the board's clock is synchronised (the kernel's adjtimex view, injected
here) and which boot this is; the status does not turn degraded for it."""

from __future__ import annotations

from pathlib import Path

from ledgrab.utils.system_clock import boot_id, clock_synchronised


def test_health_reports_the_clock_state_and_the_boot(server):
    server.app.state.system_clock.synchronised = lambda: False
    with server.client(key=None) as client:
        body = client.get("/health").json()
    assert body["clock"] == {
        "synchronised": False,
        "boot_id": Path("/proc/sys/kernel/random/boot_id").read_text().strip(),
        "method": "adjtimex",
        "settable": False,  # no clock helper set up ([clock] request_dir)
    }
    assert body["status"] == "ok"
    server.app.state.system_clock.synchronised = lambda: True
    with server.client(key=None) as client:
        assert client.get("/health").json()["clock"]["synchronised"] is True


def test_the_kernel_answers_the_question():
    assert clock_synchronised() in (True, False)  # Linux: adjtimex answers, whatever it says
    assert len(boot_id() or "") == 36
