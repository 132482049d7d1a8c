"""The address in the audit log is the TCP peer unless a configured proxy says otherwise, and many
addresses together cannot flood the log with failed-key entries.

Forgeries are sent over HTTPS, the shipped configuration. A configured proxy is believed both
over HTTPS and with `tls = "off"`, the documented setup behind a proxy that terminates TLS.
"""

import httpx
import pytest

from ledgrab.config import ConfigError, load_settings
from ledgrab.core.activity_log.auth_failures import AuthFailureLog
from ledgrab.server_limits import trusted_proxy_networks
from tests.support.hostile import auth_failures
from tests.support.live_server import LiveServer

BAD_KEY = "lg_not-a-key-of-this-server"


def _fail_with(server: LiveServer, forwarded_for: list[str]) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30, verify=server.verify) as client:
        for address in forwarded_for:
            answer = client.get(
                "/api/v1/devices",
                headers={"Authorization": f"Bearer {BAD_KEY}", "X-Forwarded-For": address},
            )
            assert answer.status_code == 401


def test_a_forged_forwarded_for_from_loopback_is_not_recorded(tmp_path):
    with LiveServer(tmp_path / "data") as server:
        _fail_with(server, ["203.0.113.9"])
    entries = auth_failures(tmp_path / "data")
    assert [meta["address"] for _message, meta in entries] == ["127.0.0.1"]
    assert not any("203.0.113.9" in message for message, _meta in entries)


@pytest.mark.parametrize("tls", ["self-signed", "off"])
def test_a_configured_proxy_is_believed(tmp_path, tls):
    settings = {"trusted_proxies": ["127.0.0.1"], "tls": tls}
    with LiveServer(tmp_path / "data", server=settings) as server:
        assert server.base_url.startswith("https://" if tls == "self-signed" else "http://")
        _fail_with(server, ["203.0.113.9"])
    entries = auth_failures(tmp_path / "data")
    assert [meta["address"] for _message, meta in entries] == ["203.0.113.9"]


def test_forged_addresses_cost_one_entry_and_one_count(tmp_path):
    """The issue's case: bad keys under ever-new forged addresses from one host (not held late,
    so that 2000 of them take seconds: tests/hostile/test_refused_keys_held.py holds them)."""
    with LiveServer(tmp_path / "data", auth={"over_budget_delay_s": 0}) as server:
        _fail_with(server, [f"10.{n // 250}.{n % 250}.1" for n in range(2000)])
    entries = auth_failures(tmp_path / "data")
    assert len(entries) == 2
    assert entries[0][1] == {"address": "127.0.0.1", "count": 1, "key_starts_with": "lg_n…"}
    assert entries[1][1]["count"] == 1999


def test_many_real_addresses_stay_under_the_global_ceiling_with_one_summary(tmp_path):
    ceiling = 20
    addresses = [f"10.1.{n // 250}.{n % 250 + 1}" for n in range(300)]
    with LiveServer(
        tmp_path / "data",
        server={"trusted_proxies": ["127.0.0.1"]},
        activity={"auth_failure_entries_per_minute": ceiling},
    ) as server:
        _fail_with(server, addresses)
    entries = auth_failures(tmp_path / "data")
    singles = [meta for _message, meta in entries if not meta.get("summary")]
    summaries = [(message, meta) for message, meta in entries if meta.get("summary")]
    assert len(singles) == ceiling
    assert len(summaries) == 1
    message, meta = summaries[0]
    assert meta["count"] == meta["addresses"] == 300 - ceiling
    assert message.startswith(f"{300 - ceiling} failed API-key attempts from 280 addresses")
    assert {m["address"] for m in singles} | set(addresses) == set(addresses)


class _Recorder:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def record(self, *_args, message: str, **_kwargs) -> None:
        self.messages.append(message)


def test_the_summary_speaks_in_singular_and_plural():
    recorder, now = _Recorder(), [0.0]
    failures = AuthFailureLog(recorder, max_entries_per_window=1, clock=lambda: now[0])
    failures.note("192.0.2.1", None)
    failures.note("192.0.2.2", None)  # over the ceiling: counted only
    now[0] = 61.0
    failures.note("192.0.2.1", None)  # a new window: the summary comes first
    assert recorder.messages == [
        "Failed API-key attempt from 192.0.2.1",
        "1 failed API-key attempt from 1 address not recorded one by one: "
        "over the limit of 1 entry in 60 s",
        "Failed API-key attempt from 192.0.2.1",
    ]


def test_trusted_proxies_are_checked_when_the_settings_load():
    with pytest.raises(ConfigError, match=r"server.trusted_proxies = 'proxy.lan' \(from LEDGRAB_"):
        load_settings(environ={"LEDGRAB_TRUSTED_PROXIES": "127.0.0.1,proxy.lan"})
    settings = load_settings(environ={"LEDGRAB_TRUSTED_PROXIES": "10.0.0.7/8, ::1"})
    assert trusted_proxy_networks(settings.server) == ["10.0.0.0/8", "::1/128"]
