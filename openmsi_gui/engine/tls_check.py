"""Why a broker's TLS certificate was refused, which librdkafka does not say.

librdkafka reports every refused certificate as "certificate verify failed",
whether it expired, names another host, or comes from an unknown authority, and
each needs a different fix. One handshake with Python's :mod:`ssl`, using the
same CA file, tells them apart.
"""

from __future__ import annotations

import socket
import ssl


def split_server(server: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` → (host, port); the port defaults to 9092."""
    server = server.strip()
    if server.startswith("["):
        host, _, rest = server[1:].partition("]")
        port = rest.removeprefix(":")
    else:
        host, _, port = server.rpartition(":") if ":" in server else (server, "", "")
    return host, int(port) if port.isdigit() else 9092


def certificate_problem(servers: str, ca_file: str = "", timeout: float = 5.0) -> str | None:
    """OpenSSL's reason for refusing the first broker's certificate, or None.

    Blocking (one TCP connection and handshake): not for the GUI thread.

    Args:
        servers: bootstrap servers, ``host:port[,host:port...]``.
        ca_file: the PEM file of trusted authorities ("" = the system's).
        timeout: for the connection and the handshake.

    Returns:
        e.g. ``"certificate has expired"``, ``"Hostname mismatch, certificate is not
        valid for 'kafka.lab'."``; None if the certificate is accepted or the
        handshake fails for another reason.
    """
    first = servers.split(",", maxsplit=1)[0]
    host, port = split_server(first)
    if not host:
        return None
    try:
        context = ssl.create_default_context(cafile=ca_file or None)
    except (OSError, ssl.SSLError):
        return None  # an unreadable CA file is explained from librdkafka's own error
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock, \
                context.wrap_socket(sock, server_hostname=host):
            return None
    except ssl.SSLCertVerificationError as exc:
        return str(exc.verify_message or exc.reason or exc)
    except OSError:
        return None
