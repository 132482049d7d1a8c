"""The certificate made on the device: its names, its key's file, renewal on a simulated clock and
on a changed address, and a live server that hands the renewed one to the next handshake."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import stat

import pytest
from cryptography import x509

from ledgrab.config import ServerSettings
from ledgrab.core.tls import certificate as certs
from ledgrab.core.tls import certificate_worker
from ledgrab.core.tls.host_names import HostNames
from ledgrab.core.tls.pinning import fingerprint_of_pem
from ledgrab.core.tls.service import TlsConfigError, TlsService
from ledgrab.utils import ed25519
from tests.support.live_server import LiveServer

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class Recorder:
    def __init__(self) -> None:
        self.entries: list[tuple[str, str, str]] = []

    def record(self, category, action, *, severity="info", message, metadata=None, **_):
        self.entries.append((category, action, message))


class World:
    """The clock and the addresses a TlsService sees, moved by the test."""

    def __init__(self) -> None:
        self.now = START
        self.addresses = ["192.168.1.20", "fe80::1%eth0", "2001:db8::20"]

    def names(self) -> HostNames:
        return HostNames.of("pi-kitchen", self.addresses)


def _service(tmp_path, world: World, **config) -> TlsService:
    return TlsService(
        ServerSettings(**config), tmp_path, clock=lambda: world.now, host_names=world.names
    )


def _started(tmp_path, world: World, **config) -> tuple[TlsService, Recorder]:
    """A prepared service whose first entry (the certificate made) is checked and set aside."""
    tls = _service(tmp_path, world, **config)
    tls.prepare_blocking()
    recorder = Recorder()
    tls.attach(recorder)
    assert [a for _c, a, _m in recorder.entries] == ["tls.certificate_created"]
    recorder.entries.clear()
    return tls, recorder


def _certificate(tls: TlsService) -> x509.Certificate:
    """The certificate the service serves, as the X.509 library reads its file."""
    return x509.load_pem_x509_certificate(tls.cert_path.read_bytes())


def _sans(cert: x509.Certificate) -> set[str]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {
        *san.get_values_for_type(x509.DNSName),
        *map(str, san.get_values_for_type(x509.IPAddress)),
    }


def test_first_start_makes_a_p256_certificate_naming_the_device(tmp_path):
    world = World()
    tls = _service(tmp_path, world)
    tls.prepare_blocking()
    assert tls.certificate is not None
    cert = _certificate(tls)
    assert tls.certificate.not_valid_after_utc == cert.not_valid_after_utc
    assert _sans(cert) == {
        "pi-kitchen", "pi-kitchen.local", "localhost",
        "127.0.0.1", "::1", "192.168.1.20", "2001:db8::20",
    }  # fmt: skip
    assert cert.public_key().curve.name == "secp256r1"
    assert cert.not_valid_after_utc - START == dt.timedelta(days=certs.VALID_DAYS)
    key_file = tmp_path / "tls" / "key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    assert tls.fingerprint == fingerprint_of_pem((tmp_path / "tls/cert.pem").read_text())
    assert len(tls.fingerprint.split(":")) == 32


def test_a_second_start_keeps_the_certificate(tmp_path):
    world = World()
    first = _service(tmp_path, world)
    first.prepare_blocking()
    world.now += dt.timedelta(days=100)
    again = _service(tmp_path, world)
    again.prepare_blocking()
    assert again.fingerprint == first.fingerprint


def test_renewal_on_a_simulated_clock_keeps_the_key_and_is_recorded(tmp_path):
    world = World()
    tls, recorder = _started(tmp_path, world, renew_before_days=30)
    original = tls.fingerprint
    key_before = (tmp_path / "tls/key.pem").read_bytes()

    world.now = START + dt.timedelta(days=certs.VALID_DAYS - 31)
    assert tls.check_blocking() is False and tls.fingerprint == original
    world.now = START + dt.timedelta(days=certs.VALID_DAYS - 29)
    assert tls.check_blocking() is True
    assert tls.fingerprint != original
    assert tls.certificate.not_valid_after_utc == world.now + dt.timedelta(days=certs.VALID_DAYS)
    assert (tmp_path / "tls/key.pem").read_bytes() == key_before
    [(category, action, message)] = recorder.entries
    assert (category, action) == ("system", "tls.certificate_renewed")
    assert "expires" in message and tls.fingerprint in message


def test_a_changed_address_gets_a_new_certificate(tmp_path):
    world = World()
    tls, recorder = _started(tmp_path, world)
    original = tls.fingerprint
    world.addresses = ["192.168.1.20", "2001:db8::20"]  # gone: a subset is still covered
    assert tls.check_blocking() is False
    world.addresses = ["10.0.0.7", "2001:db8::20"]  # DHCP moved the board
    assert tls.check_blocking() is True
    assert "10.0.0.7" in _sans(_certificate(tls)) and tls.fingerprint != original
    assert "10.0.0.7" in recorder.entries[0][2]


def test_a_certificate_made_while_the_clock_was_ahead_is_replaced_once_it_is_right(tmp_path):
    world = World()
    world.now = START + dt.timedelta(days=40)  # no RTC, NTP not there yet: a wrong clock
    tls = _service(tmp_path, world)
    tls.prepare_blocking()
    tls.attach(Recorder())
    world.now = START  # NTP corrected it
    assert tls.check_blocking() is True
    assert tls.certificate.not_valid_before_utc <= START


def test_a_certificate_not_made_for_the_key_is_replaced(tmp_path):
    world = World()
    _service(tmp_path, world).prepare_blocking()
    (tmp_path / "tls/key.pem").unlink()
    tls = _service(tmp_path, world)
    tls.prepare_blocking()
    assert (
        _certificate(tls).public_key()
        == certs.load_key((tmp_path / "tls/key.pem").read_bytes()).public_key()
    )


def test_a_live_server_hands_a_renewed_certificate_to_the_next_handshake(tmp_path):
    with LiveServer(tmp_path / "data") as server:
        before = _served_fingerprint(server.port)
        assert before == server.fingerprint
        tls = server.tls
        tls.clock = lambda: dt.datetime.now(dt.UTC) + dt.timedelta(days=certs.VALID_DAYS)
        with server.client() as client:  # an open connection survives the swap
            assert client.get("/health").status_code == 200
            assert tls.check_blocking() is True
            assert client.get("/health").status_code == 200
            after = _served_fingerprint(server.port)
            assert after == tls.fingerprint != before
            server.app.state.activity_recorder.flush_blocking()
            page = client.get("/api/v1/activity", params={"categories": "system"}).json()
        actions = [e["action"] for e in page["items"]]
        assert "tls.certificate_created" in actions
        assert "tls.certificate_renewed" in actions


def test_the_private_key_is_not_in_the_database_nor_in_a_backup(tmp_path):
    with LiveServer(tmp_path / "data") as server, server.client() as client:
        backup = client.get("/api/v1/system/backup")
        assert backup.status_code == 200
    key = certs.load_key((tmp_path / "data/tls/key.pem").read_bytes())
    secret = key.private_numbers().private_value.to_bytes(32, "big")
    pem_body = (tmp_path / "data/tls/key.pem").read_text().splitlines()[1]
    for blob in (backup.content, (tmp_path / "data/ledgrab.db").read_bytes()):
        assert secret not in blob and pem_body.encode() not in blob


def _served_fingerprint(port: int) -> str:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    return certs.facts_of(x509.load_der_x509_certificate(der)).fingerprint


@pytest.mark.parametrize("text", ["fe80::1%wlan0", "169.254.3.4"])
def test_link_local_addresses_are_left_out(text):
    names = HostNames.of("pi", [text])
    assert ipaddress.ip_address(text.split("%")[0]) not in names.ips


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"not a key\n", "cannot use the TLS key"),
        (ed25519.SigningKey(bytes(32)).to_pem(), "not an EC key"),
    ],
)
def test_a_key_file_that_is_not_an_ec_key_stops_the_start_naming_it(tmp_path, content, says):
    (tmp_path / "tls").mkdir(mode=0o700)
    (tmp_path / "tls/key.pem").write_bytes(content)
    with pytest.raises(TlsConfigError, match=says) as error:
        _service(tmp_path, World()).prepare_blocking()
    assert str(tmp_path / "tls/key.pem") in str(error.value)
    assert (tmp_path / "tls/key.pem").read_bytes() == content
    assert not (tmp_path / "tls/cert.pem").exists()


def test_a_periodic_check_of_unchanged_files_starts_no_child(tmp_path, monkeypatch):
    world = World()
    tls, _recorder = _started(tmp_path, world)
    children: list[str] = []
    real_run = certificate_worker._run

    def counted(request):
        children.append(request["op"])
        return real_run(request)

    monkeypatch.setattr(certificate_worker, "_run", counted)
    world.now += dt.timedelta(days=10)
    assert tls.check_blocking() is False and children == []
    (tmp_path / "tls/cert.pem").write_bytes((tmp_path / "tls/cert.pem").read_bytes() + b"\n")
    assert tls.check_blocking() is False and children == ["ensure"]  # changed: asked again
    world.addresses = ["10.0.0.7"]
    assert tls.check_blocking() is True and children == ["ensure", "ensure"]
    assert tls.check_blocking() is False and len(children) == 2
