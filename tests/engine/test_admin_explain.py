"""librdkafka's errors as sentences a lab user can act on (no broker needed)."""

from __future__ import annotations

import pytest

from openmsi_gui.engine.admin import explain


@pytest.mark.parametrize(("error", "expected"), [
    ("Failed to resolve 'x:9092': Name or service not known", "could not be found (DNS)"),
    ("Connect to ipv4#127.0.0.1:1 failed: Connection refused", "nothing accepts connections"),
    ("ssl.ca.location failed: error:05800088", "the CA file could not be read"),
    ("ssl.key.location failed: bad decrypt", "key password is wrong"),
    ("certificate verify failed: certificate has expired", "has expired"),
    ("certificate verify failed: certificate is not yet valid", "is not valid yet"),
    ("certificate verify failed: Hostname mismatch", "for a different host name"),
    ("SSL handshake failed: certificate verify failed", "is not trusted"),
    ("SSL handshake failed: unexpected eof", "check the CA file (PEM) and the security"),
    ("SASL authentication error: Authentication failed", "refused the user name or password"),
    ("1/1 brokers are down", "cannot reach the broker at lab:9093"),
    ("Failed to create socket: Too many open files", "too many files open to connect"),
])
def test_each_librdkafka_error_gets_its_own_sentence(error: str, expected: str) -> None:
    text = explain(error, "lab:9093")
    assert expected in text
    assert "lab:9093" in text
