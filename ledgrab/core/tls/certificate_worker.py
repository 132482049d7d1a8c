"""Certificate work in a short-lived child process, so that the server itself never loads
`cryptography` (about 10 MB of its RSS) for work it does at start and every few months.

`python -m ledgrab.core.tls.certificate_worker` reads one JSON request on its standard input and
writes one JSON reply on its standard output: keys and certificates cross as PEM text, a
certificate's facts as plain values. The child takes the lowest CPU priority (frames first), as
the export's does.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from typing import Any

from ledgrab.core.tls.facts import CertificateFacts, Ensured
from ledgrab.core.tls.host_names import HostNames
from ledgrab.utils.background_priority import lower_this_thread

__all__ = ["CertificateWorkerError", "ensure_self_signed", "facts_of_pem"]

# Starting Python and loading cryptography takes about 0.3 s here; a Pi Zero under load, many
# times that. A child that takes longer than this is stuck.
TIMEOUT_S = 120.0


class CertificateWorkerError(RuntimeError):
    """The child failed or could not run; the message is the last line it wrote to stderr."""


def ensure_self_signed(
    key_pem: bytes | None,
    cert_pem: bytes | None,
    names: HostNames,
    now: dt.datetime,
    renew_before: dt.timedelta,
    key_path: str,
) -> Ensured:
    """`certificate.ensure_self_signed` run in the child (ValueError: the key cannot be used)."""
    reply = _run(
        {
            "op": "ensure",
            "key_pem": _text(key_pem),
            "cert_pem": _text(cert_pem),
            "names": names.as_strings(),
            "now": now.isoformat(),
            "renew_before_s": renew_before.total_seconds(),
            "key_path": key_path,
        }
    )
    return Ensured(
        CertificateFacts.from_json(reply["facts"]),
        _bytes(reply["key_pem"]),
        _bytes(reply["cert_pem"]),
        reply["replaced"],
        reply["reason"],
    )


def facts_of_pem(pem: bytes) -> CertificateFacts:
    """The facts of the first certificate in `pem`; ValueError when it is not one."""
    return CertificateFacts.from_json(_run({"op": "facts", "pem": _text(pem)})["facts"])


def _text(pem: bytes | None) -> str | None:
    return None if pem is None else pem.decode("latin-1")


def _bytes(pem: str | None) -> bytes | None:
    return None if pem is None else pem.encode("latin-1")


def _run(request: dict[str, Any]) -> dict[str, Any]:
    try:
        done = subprocess.run(
            [sys.executable, "-m", __name__],
            input=json.dumps(request).encode(),
            capture_output=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CertificateWorkerError(f"the certificate helper could not run: {exc}") from None
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines() or ["no output"]
        raise CertificateWorkerError(f"the certificate helper stopped: {lines[-1]}")
    reply = json.loads(done.stdout)
    if "error" in reply:
        raise ValueError(reply["error"])
    return reply


def _serve(request: dict[str, Any]) -> dict[str, Any]:
    from ledgrab.core.tls import certificate  # here only: the server process never loads it

    if request["op"] == "facts":
        return {"facts": certificate.facts_of_pem(_bytes(request["pem"]) or b"").as_json()}
    ensured = certificate.ensure_self_signed(
        _bytes(request["key_pem"]),
        _bytes(request["cert_pem"]),
        HostNames.from_strings(**request["names"]),
        dt.datetime.fromisoformat(request["now"]),
        dt.timedelta(seconds=request["renew_before_s"]),
        request["key_path"],
    )
    return {
        "facts": ensured.facts.as_json(),
        "key_pem": _text(ensured.key_pem),
        "cert_pem": _text(ensured.cert_pem),
        "replaced": ensured.replaced,
        "reason": ensured.reason,
    }


def main() -> int:
    lower_this_thread()  # the child's only thread: on a busy core the frame loop wins the CPU
    request = json.load(sys.stdin)
    try:
        reply = _serve(request)
    except ValueError as exc:
        reply = {"error": str(exc)}
    json.dump(reply, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
