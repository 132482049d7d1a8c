"""TlsService: the live server's SSL context and certificate, made, renewed and reloaded in place.

`prepare_blocking()` runs before the server binds (a bad user certificate stops the start with
one line); `start()` runs in the app's lifespan: it records what happened to the certificate,
renews it when it nears expiry or when the host name or an address changes (checked every
`check_interval_s`), reloads it on SIGHUP and runs the plain-HTTP redirect port.

A new certificate goes into a new `ssl.SSLContext`, built off the event loop; the context the
server listens with never changes. Its SNI callback (OpenSSL calls it for every ClientHello,
with or without a server name) moves each new handshake to the newest context. So nothing
modifies a context that handshakes are using (OpenSSL does not lock that), open connections and
the LED frame loops go on untouched, and the swap itself is one reference assignment.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledgrab.config import ServerSettings
from ledgrab.core.activity_log.auth_failures import AuthFailureLog
from ledgrab.core.tls import certificate_worker
from ledgrab.core.tls.certificate_worker import CertificateWorkerError
from ledgrab.core.tls.facts import CertificateFacts, renewal_reason
from ledgrab.core.tls.host_names import HostNames, current_host_names
from ledgrab.core.tls.redirect import HoldFor, RedirectListener
from ledgrab.storage.faults import storage_fault
from ledgrab.utils.files import write_durably
from ledgrab.utils.tasks import cancel_and_wait

__all__ = ["CERT_FILE", "KEY_FILE", "TLS_DIR", "TlsConfigError", "TlsService"]

log = logging.getLogger(__name__)

TLS_DIR = "tls"  # in the data directory; never part of a backup (backups are the database only)
KEY_FILE = "key.pem"
CERT_FILE = "cert.pem"


class TlsConfigError(Exception):
    """The TLS settings cannot be served (a missing file, a key that is not the certificate's)."""


@dataclass
class _Note:
    action: str
    message: str
    severity: str = "info"
    metadata: dict[str, Any] = field(default_factory=dict)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class TlsService:
    def __init__(
        self,
        config: ServerSettings,
        data_dir: Path,
        *,
        clock: Callable[[], dt.datetime] = _utcnow,
        host_names: Callable[[], HostNames] = current_host_names,
    ) -> None:
        self.config = config
        self.dir = Path(data_dir) / TLS_DIR
        self.clock = clock
        self.host_names = host_names
        self.ssl_context: ssl.SSLContext | None = None  # the one the server listens with
        self._live: ssl.SSLContext | None = None  # the newest: handshakes move to it
        self.certificate: CertificateFacts | None = None
        # (key PEM, certificate PEM, facts) last checked: a periodic check of unchanged files
        # needs no child process unless the certificate is due.
        self._checked: tuple[bytes, bytes, CertificateFacts] | None = None
        self._notes: list[_Note] = []
        self._recorder: Any = None
        self._lock = threading.Lock()  # the periodic check and SIGHUP may meet in threads
        self._task: asyncio.Task | None = None
        self._redirect: RedirectListener | None = None
        self._key_reports: AuthFailureLog | None = None
        self._sighup = False
        # Called (in a worker thread) with the new fingerprint after a renewal or a reload.
        self.on_new_certificate: list[Callable[[str], None]] = []

    # -- what the rest of the server reads ---------------------------------------------------

    @property
    def enabled(self) -> bool:
        return self.config.tls != "off"

    @property
    def scheme(self) -> str:
        return "https" if self.enabled else "http"

    @property
    def fingerprint(self) -> str | None:
        return self.certificate.fingerprint if self.certificate else None

    @property
    def cert_path(self) -> Path:
        if self.config.tls == "files":
            return Path(self.config.cert_file or "")
        return self.dir / CERT_FILE

    @property
    def key_path(self) -> Path:
        if self.config.tls == "files":
            return Path(self.config.key_file or "")
        return self.dir / KEY_FILE

    @property
    def redirect_port(self) -> int | None:
        return self._redirect.port if self._redirect else None

    def uvicorn_options(self) -> dict[str, Any]:
        """Keyword arguments for uvicorn.Config: serve this service's live context, if any."""
        context = self.ssl_context
        if context is None:
            return {}
        return {"ssl_context_factory": lambda _config, _default: context}

    def health(self) -> tuple[str, str | None, dict[str, Any]]:
        """(state, reason, details) for /health: degraded when the certificate has expired."""
        if self.certificate is None:
            return "ok", None, {"mode": "off"}
        expires = self.certificate.not_valid_after_utc
        details = {
            "mode": self.config.tls,
            "fingerprint_sha256": self.fingerprint,
            "expires": expires.isoformat(),
            "http_redirect_port": self.redirect_port,
        }
        if expires <= self.clock():
            return "degraded", f"the TLS certificate expired on {expires:%Y-%m-%d}", details
        return "ok", None, details

    # -- before the server binds -------------------------------------------------------------

    def prepare_blocking(self) -> None:
        """Make or load the certificate and build the context; TlsConfigError when it cannot."""
        mode = self.config.tls
        if mode == "off":
            self._note(
                "tls.disabled",
                "TLS is off: API keys and everything else cross the network in clear unless a "
                "reverse proxy in front of LedGrab encrypts them",
                "warning",
            )
            return
        if mode == "files":
            if not self.config.cert_file or not self.config.key_file:
                raise TlsConfigError('[server] tls = "files" needs both cert_file and key_file')
            self._load_files()
        else:
            self._ensure_self_signed(first=True)

    def _load_files(self) -> None:
        context = _context(self.cert_path, self.key_path)
        cert = _read_cert(self.cert_path)
        self._install(context, cert)
        if (expires := cert.not_valid_after_utc) <= self.clock():
            self._note(
                "tls.certificate_expired",
                f"The TLS certificate in {self.cert_path} expired on {expires:%Y-%m-%d}: "
                "browsers will refuse it; replace the files and send SIGHUP",
                "error",
            )

    def _ensure_self_signed(self, *, first: bool) -> bool:
        """Make a certificate when there is none or it needs renewing; True when one was made."""
        names = self.host_names()
        now = self.clock()
        try:
            key_pem: bytes | None = self.key_path.read_bytes()
        except FileNotFoundError:
            key_pem = None
        except OSError as exc:
            raise _unwritable("key", self.key_path, exc) from None
        try:
            cert_pem: bytes | None = self.cert_path.read_bytes()
        except FileNotFoundError:
            cert_pem = None
        checked = self._checked
        if (
            not first
            and checked is not None
            and (key_pem, cert_pem) == checked[:2]
            and renewal_reason(checked[2], names, now, self._renew_before) is None
        ):
            return False
        try:
            done = certificate_worker.ensure_self_signed(
                key_pem, cert_pem, names, now, self._renew_before, str(self.key_path)
            )
        except ValueError as exc:
            raise TlsConfigError(f"cannot use the TLS key {self.key_path}: {exc}") from None
        except CertificateWorkerError as exc:
            raise TlsConfigError(f"cannot check the TLS certificate: {exc}") from None
        if done.key_pem is not None:
            try:
                write_private(self.key_path, done.key_pem)
            except OSError as exc:
                raise _unwritable("key", self.key_path, exc) from None
            key_pem = done.key_pem
        if done.cert_pem is None:
            if first:
                self._install(_context(self.cert_path, self.key_path), done.facts)
            self._checked = (key_pem, cert_pem or b"", done.facts)
            return False
        try:
            write_private(self.cert_path, done.cert_pem, 0o644)
        except OSError as exc:
            raise _unwritable("certificate", self.cert_path, exc) from None
        self._install(_context(self.cert_path, self.key_path), done.facts)
        self._checked = (key_pem, done.cert_pem, done.facts)
        action = "tls.certificate_renewed" if done.replaced else "tls.certificate_created"
        verb = "Renewed" if done.replaced else "Made"
        self._note(
            action,
            f"{verb} the TLS certificate ({done.reason}); SHA-256 fingerprint {self.fingerprint}",
            metadata={
                "fingerprint_sha256": self.fingerprint,
                "reason": done.reason,
                "names": [*names.dns, *map(str, names.ips)],
                "expires": done.facts.not_valid_after_utc.isoformat(),
                "new_key": done.key_pem is not None,
            },
        )
        return True

    @property
    def _renew_before(self) -> dt.timedelta:
        return dt.timedelta(days=self.config.renew_before_days)

    def _install(self, context: ssl.SSLContext, cert: CertificateFacts) -> None:
        if self.ssl_context is None:
            self.ssl_context = context
            context.sni_callback = self._to_live_context
        self._live, self.certificate = context, cert

    def _to_live_context(self, conn: ssl.SSLObject, _name: str | None, base: ssl.SSLContext):
        live = self._live
        if live is not None and live is not base:
            conn.context = live

    # -- while serving -----------------------------------------------------------------------

    def check_blocking(self) -> bool:
        """Renew a self-signed certificate if due (names, addresses, expiry); True if renewed."""
        if self.config.tls != "self-signed":
            return False
        with self._lock:
            renewed = self._ensure_self_signed(first=False)
        self._flush_notes()
        if renewed:
            self._announce()
        return renewed

    def _announce(self) -> None:
        for callback in self.on_new_certificate:
            try:
                callback(self.fingerprint or "")
            except Exception:
                log.exception("telling %r about the new certificate failed", callback)

    def reload_blocking(self) -> None:
        """SIGHUP: reread the user's files (refused whole if they do not fit), or recheck ours."""
        if self.config.tls == "self-signed":
            self.check_blocking()
            return
        if self.config.tls != "files" or self.ssl_context is None:
            return
        try:
            context = _context(self.cert_path, self.key_path)  # checked whole before the swap
            with self._lock:
                self._install(context, _read_cert(self.cert_path))
        except TlsConfigError as exc:
            self._note(
                "tls.reload_failed",
                f"Kept the previous TLS certificate: {exc}",
                "error",
            )
        else:
            self._announce()
            self._note(
                "tls.reloaded",
                f"Reloaded the TLS certificate from {self.cert_path}; "
                f"SHA-256 fingerprint {self.fingerprint}",
                metadata={"fingerprint_sha256": self.fingerprint},
            )
        self._flush_notes()

    def attach(self, recorder: Any) -> None:
        """Record through `recorder` from now on, starting with what happened before."""
        self._recorder = recorder
        self._flush_notes()

    async def start(
        self, recorder: Any, host: str, https_port: int, hold: HoldFor | None = None
    ) -> None:
        """Record what prepare did, then run renewal, SIGHUP and the redirect port (whose
        answers wait `hold(client address)` seconds, if given)."""
        self.attach(recorder)
        if self.config.tls == "self-signed":
            self._task = asyncio.create_task(self._renew_loop(), name="tls-renewal")
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            # Only the main thread may own a signal; a server in a test thread has no SIGHUP.
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGHUP, self._on_sighup)
            self._sighup = True
        if self.enabled and self.config.http_redirect_port >= 0:
            await self._start_redirect(recorder, host, https_port, hold)

    async def _start_redirect(
        self, recorder: Any, host: str, https_port: int, hold: HoldFor | None
    ) -> None:
        self._key_reports = AuthFailureLog(
            recorder,
            action="auth.key_over_http",
            nouns=("API key sent over plain HTTP", "API keys sent over plain HTTP"),
        )
        self._key_reports.start()
        listener = RedirectListener(
            host, self.config.http_redirect_port, https_port, self._key_reports.note, hold
        )
        try:
            await listener.start()
        except OSError as exc:
            self._note(
                "tls.redirect_unavailable",
                f"Plain HTTP port {self.config.http_redirect_port} could not be opened ({exc}); "
                f"use https://…:{https_port}/ directly",
                "warning",
            )
            self._flush_notes()
            return
        self._redirect = listener
        log.info("plain HTTP on port %d redirects to HTTPS on port %d", listener.port, https_port)

    async def stop(self) -> None:
        if self._sighup:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            self._sighup = False
        await cancel_and_wait(self._task)
        self._task = None
        if self._redirect is not None:
            await self._redirect.stop()
            self._redirect = None
        if self._key_reports is not None:
            await self._key_reports.stop()
            self._key_reports = None
        self._recorder = None

    def _on_sighup(self) -> None:
        log.info("SIGHUP: reloading the TLS certificate")
        asyncio.get_running_loop().run_in_executor(None, self._reload_logged)

    def _reload_logged(self) -> None:
        try:
            self.reload_blocking()
        except Exception:
            log.exception("reloading the TLS certificate failed")

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.check_interval_s)
            try:
                await asyncio.to_thread(self.check_blocking)
            except TlsConfigError as exc:
                log.error("cannot renew the TLS certificate: %s", exc)

    # -- activity entries --------------------------------------------------------------------

    def _note(self, action: str, message: str, severity: str = "info", **kw: Any) -> None:
        self._notes.append(_Note(action, message, severity, kw.get("metadata", {})))

    def _flush_notes(self) -> None:
        if self._recorder is None:
            return
        notes, self._notes = self._notes, []
        for n in notes:
            log.log(logging.INFO if n.severity == "info" else logging.WARNING, "%s", n.message)
            self._recorder.record(
                "system", n.action, severity=n.severity, message=n.message, metadata=n.metadata
            )


def _new_server_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _unwritable(what: str, path: Path, exc: OSError) -> TlsConfigError:
    """One line for a TLS file that could not be read or written: the card's state when the
    error says it (full, read-only, failing), else the OS's words."""
    fault = storage_fault(exc)
    if fault is not None and fault.kind in ("full", "read_only", "io_error"):
        reason = fault.summary
    else:
        reason = exc.strerror or str(exc)
    return TlsConfigError(f"cannot use the TLS {what} {path}: {reason}. Nothing was changed")


def _context(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    """A server context for the pair; TlsConfigError with one line saying what is wrong."""
    for path in (cert_path, key_path):  # ssl's own errors do not say which file
        try:
            path.open("rb").close()
        except FileNotFoundError:
            raise TlsConfigError(f"TLS file {path} does not exist") from None
        except PermissionError:
            raise TlsConfigError(f"TLS file {path} cannot be read: permission denied") from None
        except OSError as exc:
            raise TlsConfigError(f"TLS file {path} cannot be read: {exc.strerror}") from None
    context = _new_server_context()
    try:
        context.load_cert_chain(cert_path, key_path)
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc) or "key values mismatch" in str(exc):
            raise TlsConfigError(
                f"TLS key_file {key_path} is not the key of cert_file {cert_path}"
            ) from None
        raise TlsConfigError(f"TLS files {cert_path} / {key_path} are not usable: {exc}") from None
    return context


def _read_cert(path: Path) -> CertificateFacts:
    try:
        return certificate_worker.facts_of_pem(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise TlsConfigError(f"TLS cert_file {path} is not a PEM certificate: {exc}") from None
    except CertificateWorkerError as exc:
        raise TlsConfigError(f"cannot read TLS cert_file {path}: {exc}") from None


def write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write a file of the TLS directory (itself 0700: the key's name is nobody's business)."""
    made_dir = not path.parent.exists()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        write_durably(path, data, mode)
    except OSError:
        if made_dir:  # a start that could not write its key leaves the data directory as it was
            with contextlib.suppress(OSError):
                path.parent.rmdir()
        raise
