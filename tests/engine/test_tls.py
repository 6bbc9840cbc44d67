"""TLS to a real broker: Tansu behind stunnel (Tansu's own ``--cert/--key`` is broken).

Needs the ``openssl`` and ``stunnel4`` programs; without them the tests are
skipped locally and fail on CI.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import tree_files, wait_until

from openmsi_gui.app import profiles
from openmsi_gui.app.settings import BrokerProfile
from openmsi_gui.engine import admin
from openmsi_gui.engine.admin import BrokerError
from openmsi_gui.engine.broker import EmbeddedBroker, free_port, terminate
from openmsi_gui.engine.downloader import Downloader
from openmsi_gui.engine.events import EventBus
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.tls_check import certificate_problem, split_server
from openmsi_gui.engine.upload_types import UploadOutcome
from openmsi_gui.engine.uploader import Uploader

JARGON = ("rdkafka", "ssl handshake failed", "handshake", "ssl_", "error:0", "routines")


@dataclass
class TlsBroker:
    """A plaintext broker reachable over TLS at ``tls_port``."""

    broker: EmbeddedBroker
    tls_port: int
    ca_file: Path
    other_ca_file: Path
    expired_port: int  # a certificate from the right CA that expired in 2020
    wrong_host_port: int  # a certificate from the right CA for another host name

    @property
    def servers(self) -> str:
        return f"127.0.0.1:{self.tls_port}"


def _tool(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    message = "install stunnel4 and openssl"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _openssl(openssl: str, *args: str, cwd: Path) -> None:
    subprocess.run([openssl, *args], cwd=cwd, check=True, capture_output=True)


def _make_ca(openssl: str, tmp: Path, name: str) -> None:
    _openssl(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", f"/CN={name}", "-keyout", f"{name}.key", "-out", f"{name}.pem", cwd=tmp)


def _make_certs(openssl: str, tmp: Path) -> None:
    """A CA, a server cert for 127.0.0.1/localhost signed by it, and an unrelated CA."""
    _make_ca(openssl, tmp, "ca")
    _make_ca(openssl, tmp, "other-ca")
    _openssl(openssl, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
             "-keyout", "server.key", "-out", "server.csr", cwd=tmp)
    (tmp / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                                    "extendedKeyUsage=serverAuth\n")
    _openssl(openssl, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", "server.ext", "-out", "server.pem",
             cwd=tmp)
    _openssl(openssl, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=elsewhere.example",
             "-keyout", "elsewhere.key", "-out", "elsewhere.csr", cwd=tmp)
    (tmp / "elsewhere.ext").write_text("subjectAltName=DNS:elsewhere.example\n"
                                       "extendedKeyUsage=serverAuth\n")
    _openssl(openssl, "x509", "-req", "-in", "elsewhere.csr", "-CA", "ca.pem", "-CAkey",
             "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "elsewhere.ext", "-out",
             "elsewhere.pem", cwd=tmp)


def _make_expired_cert(tmp: Path) -> None:
    """``expired.pem``: valid for 127.0.0.1 and signed by ``ca``, but only during 2020."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    ca_cert = x509.load_pem_x509_certificate((tmp / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((tmp / "ca.key").read_bytes(), password=None)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC))
            .not_valid_after(datetime.datetime(2020, 1, 2, tzinfo=datetime.UTC))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    (tmp / "expired.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / "expired.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()))


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"stunnel exited with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"stunnel did not listen on port {port} within {timeout} s")


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    openssl = _tool("openssl")
    stunnel = _tool("stunnel4", "stunnel")
    tmp = tmp_path_factory.mktemp("tls")
    _make_certs(openssl, tmp)
    _make_expired_cert(tmp)
    ports: set[int] = set()
    while len(ports) < 4:
        ports.add(free_port())
    port, tls_port, expired_port, wrong_host_port = sorted(ports)
    conf = tmp / "stunnel.conf"
    services = "".join(
        f"[{name}]\naccept = 127.0.0.1:{accept}\nconnect = 127.0.0.1:{port}\n"
        f"cert = {tmp / cert}.pem\nkey = {tmp / cert}.key\n"
        for name, accept, cert in (("kafka", tls_port, "server"),
                                   ("expired", expired_port, "expired"),
                                   ("wrong-host", wrong_host_port, "elsewhere")))
    conf.write_text(f"foreground = yes\npid =\noutput = {tmp / 'stunnel.log'}\n{services}")
    with EmbeddedBroker(port=port, advertised_port=tls_port) as broker:
        proc = subprocess.Popen([stunnel, str(conf)], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for listening in (tls_port, expired_port, wrong_host_port):
                _wait_for_port(listening, proc)
            yield TlsBroker(broker, tls_port, tmp / "ca.pem", tmp / "other-ca.pem",
                            expired_port, wrong_host_port)
        finally:
            terminate(proc)


def _ssl_config(tls: TlsBroker, ca_file: Path | None) -> KafkaConfig:
    profile = BrokerProfile(security_protocol="SSL", ca_file=str(ca_file or ""),
                            bootstrap_servers=tls.servers)
    return profiles.kafka_config(profile, None)


def _assert_plain(text: str) -> None:
    lowered = text.lower()
    for word in JARGON:
        assert word not in lowered, f"jargon {word!r} in {text!r}"


def test_probe_over_tls_with_the_right_ca(tls_broker: TlsBroker) -> None:
    result = admin.probe_broker(_ssl_config(tls_broker, tls_broker.ca_file), timeout=15)
    assert result.startswith(f"Connected to {tls_broker.servers}")


def test_wrong_ca_is_a_plain_sentence(tls_broker: TlsBroker) -> None:
    with pytest.raises(BrokerError) as caught:
        admin.probe_broker(_ssl_config(tls_broker, tls_broker.other_ca_file), timeout=15)
    text = str(caught.value)
    assert "certificate" in text
    assert "CA file" in text
    assert "not trusted" in text
    _assert_plain(text)


def _probe_error(tls: TlsBroker, port: int) -> str:
    profile = BrokerProfile(security_protocol="SSL", ca_file=str(tls.ca_file),
                            bootstrap_servers=f"127.0.0.1:{port}")
    with pytest.raises(BrokerError) as caught:
        admin.probe_broker(profiles.kafka_config(profile, None), timeout=15)
    return str(caught.value)


def test_an_expired_broker_certificate_is_named_as_such(tls_broker: TlsBroker) -> None:
    """librdkafka only says "certificate verify failed"; the CA file is not the problem."""
    text = _probe_error(tls_broker, tls_broker.expired_port)
    assert "has expired" in text
    assert "renew" in text
    assert "not trusted" not in text
    _assert_plain(text)


def test_a_certificate_for_another_host_is_named_as_such(tls_broker: TlsBroker) -> None:
    text = _probe_error(tls_broker, tls_broker.wrong_host_port)
    assert "different host name" in text
    assert "not trusted" not in text
    _assert_plain(text)


def test_certificate_problem_names_each_reason(tls_broker: TlsBroker) -> None:
    ca = str(tls_broker.ca_file)
    assert certificate_problem(tls_broker.servers, ca) is None
    assert "expired" in str(certificate_problem(f"127.0.0.1:{tls_broker.expired_port}", ca))
    assert "mismatch" in str(certificate_problem(f"127.0.0.1:{tls_broker.wrong_host_port}", ca))
    unknown = certificate_problem(tls_broker.servers, str(tls_broker.other_ca_file))
    assert unknown is not None
    assert "issuer" in unknown
    assert certificate_problem(f"127.0.0.1:{free_port()}", ca) is None  # nothing listening


@pytest.mark.parametrize(("server", "split"), [
    ("kafka.lab:9093", ("kafka.lab", 9093)), ("kafka.lab", ("kafka.lab", 9092)),
    ("[::1]:9093", ("::1", 9093)), ("10.0.0.5:19092", ("10.0.0.5", 19092)),
])
def test_split_server(server: str, split: tuple[str, int]) -> None:
    assert split_server(server) == split


def test_plaintext_to_the_tls_port_is_a_plain_sentence(tls_broker: TlsBroker) -> None:
    config = KafkaConfig.for_bootstrap(tls_broker.servers)
    with pytest.raises(BrokerError) as caught:
        admin.probe_broker(config, timeout=15)
    text = str(caught.value)
    assert tls_broker.servers in text
    assert "TLS" in text
    _assert_plain(text)


def test_round_trip_over_tls_is_byte_exact(tls_broker: TlsBroker, tmp_path: Path,
                                           bus: EventBus, registry: Registry) -> None:
    config = _ssl_config(tls_broker, tls_broker.ca_file)
    topic = f"tls-{uuid.uuid4().hex[:12]}"
    assert admin.create_topic(config, topic, 3)
    src = tmp_path / "src"
    src.mkdir()
    files = {"data.bin": os.urandom(100_000), "notes.txt": "Grüße über TLS\n".encode() * 50}
    for name, data in files.items():
        (src / name).write_bytes(data)
    uploader = Uploader(config, topic, bus, registry, chunk_size=16384)
    uploader.start()
    try:
        for name in files:
            uploader.submit(src, src / name)
        assert uploader.wait_idle(60)
    finally:
        uploader.stop()
    outcomes = {r.path.name: r.outcome for r in uploader.results()}
    assert outcomes == dict.fromkeys(files, UploadOutcome.SENT)
    dest = tmp_path / "dest"
    downloader = Downloader(config, topic, dest, bus, registry, group_id="g-tls")
    downloader.start()
    try:
        wait_until(lambda: downloader.files_received == len(files), message="all files")
    finally:
        downloader.stop()
    assert tree_files(dest) == files


def test_kafka_config_maps_the_client_certificate() -> None:
    profile = BrokerProfile(security_protocol="SSL", bootstrap_servers="h:9093",
                            ca_file="/ca.pem", client_cert_file="/me.pem",
                            client_key_file="/me.key")
    asked: list[tuple[str, str]] = []

    def secret(owner: str, name: str) -> str | None:
        asked.append((owner, name))
        return "s3cret" if name == profiles.KEY_PASSWORD else None

    broker = profiles.kafka_config(profile, secret).broker
    assert broker["ssl.ca.location"] == "/ca.pem"
    assert broker["ssl.certificate.location"] == "/me.pem"
    assert broker["ssl.key.location"] == "/me.key"
    assert broker["ssl.key.password"] == "s3cret"
    assert asked == [(profiles.owner(profile), "ssl.key.password")]
    assert "ssl.key.password" not in profiles.kafka_config(profile, None).broker
    plain = profiles.kafka_config(
        BrokerProfile(bootstrap_servers="h:9092", client_cert_file="/me.pem",
                      client_key_file="/me.key"), secret).broker
    assert not any(key.startswith("ssl.") for key in plain)
