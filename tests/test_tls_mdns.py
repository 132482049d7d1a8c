"""The running server advertises its certificate's fingerprint in the _ledgrab._tcp TXT record
and itself as _https._tcp, so a client can pin the certificate before it sends a key; a renewed
certificate is announced again."""

from __future__ import annotations

import datetime as dt
import uuid

from zeroconf import Zeroconf

from ledgrab.core.devices.discovery_watcher import HTTPS_TYPE, LEDGRAB_TYPE
from ledgrab.core.tls.certificate import VALID_DAYS
from tests.support.live_server import LiveServer, wait_for

LOOPBACK = ["127.0.0.1"]


def test_the_txt_record_carries_the_fingerprint(tmp_path):
    instance = f"LedGrab tls {uuid.uuid4().hex[:6]}"
    discovery = {"enabled": True, "interfaces": LOOPBACK, "instance_name": instance}
    with LiveServer(tmp_path / "data", discovery=discovery) as server:
        browser = Zeroconf(interfaces=LOOPBACK)
        try:
            for service_type in (LEDGRAB_TYPE, HTTPS_TYPE):
                name = f"{instance}.{service_type}"
                info = wait_for(
                    lambda t=service_type, n=name: browser.get_service_info(t, n, 3000),
                    timeout=30,
                    what=f"{service_type} advertised",
                )
                assert info.port == server.port
                assert info.properties[b"sha256"] == server.fingerprint.encode()
                assert info.properties[b"scheme"] == b"https"
        finally:
            browser.close()


def test_a_renewed_certificate_is_announced_again(tmp_path):
    instance = f"LedGrab renew {uuid.uuid4().hex[:6]}"
    discovery = {"enabled": True, "interfaces": LOOPBACK, "instance_name": instance}
    name = f"{instance}.{LEDGRAB_TYPE}"
    with LiveServer(tmp_path / "data", discovery=discovery) as server:
        browser = Zeroconf(interfaces=LOOPBACK)
        try:
            wait_for(lambda: browser.get_service_info(LEDGRAB_TYPE, name, 3000), timeout=30)
            old = server.fingerprint
            server.tls.clock = lambda: dt.datetime.now(dt.UTC) + dt.timedelta(days=VALID_DAYS)
            assert server.tls.check_blocking() is True
            new = server.fingerprint.encode()
            assert new != old.encode()

            def announced():
                info = browser.get_service_info(LEDGRAB_TYPE, name, 3000)
                return info is not None and info.properties.get(b"sha256") == new

            wait_for(announced, timeout=30, what="the new fingerprint over mDNS")
        finally:
            browser.close()
