"""The diagnostics zip: everything support needs, and no secret (no Qt, no broker)."""

from __future__ import annotations

import json
import logging
import zipfile
from pathlib import Path
from typing import Any

import pytest

from openmsi_gui.app import destinations, keychain, pairing, profiles
from openmsi_gui.app.connection_checks import (
    CheckTarget,
    LastCheck,
    load_checks,
    record_check,
    run_recorded,
)
from openmsi_gui.app.diagnostics import (
    DiagnosticsSources,
    default_file_name,
    write_diagnostics,
)
from openmsi_gui.app.redaction import REMOVED, Redactor, is_secret_name
from openmsi_gui.app.settings import (
    BrokerProfile,
    Destination,
    DestinationKind,
    SecurityProtocol,
    Settings,
    SettingsStore,
    to_dict,
)
from openmsi_gui.engine.registry import Registry

SASL = "sasl-Secret-7f3a91"
KEY_PASSWORD = "keypass-Secret-22c1"
S3_SECRET = "s3-Secret-AbC123xyz"
CONFIG_PASSWORD = "cfg-Secret-0f9e42"
CONFIG_S3 = "cfgs3-Secret-81aa"
HAND_EDITED = "hand-Secret-55e0"
ENV_SECRET = "env-Secret-77d2"
LOG_TOKEN = "tok-Secret-9b1c"
URL_PASSWORD = "url-Secret-3d4f"


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DiagnosticsSources:
    """A machine with a secret in every place one can be."""
    data = tmp_path / "data"
    logs = tmp_path / "logs"
    logs.mkdir()
    profile = BrokerProfile(name="Lab broker", bootstrap_servers="broker.lab:9093",
                            security_protocol=SecurityProtocol.SASL_SSL,
                            sasl_mechanism="SCRAM-SHA-512", sasl_username="lab-user",
                            ca_file=str(tmp_path / "ca.pem"),
                            client_key_file=str(tmp_path / "missing-key.pem"))
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    dest = Destination(kind=DestinationKind.S3, profile_id=profile.id, topic="lab-data",
                       bucket="lab-archive", endpoint_url="http://s3.lab:8333",
                       access_key_id="AKIALAB")
    store = SettingsStore(tmp_path / "config" / "settings.json")
    store.update(Settings(profiles=[profile], destinations=[dest]))
    keychain.set_secret(profiles.owner(profile), profiles.PASSWORD, SASL)
    keychain.set_secret(profiles.owner(profile), profiles.KEY_PASSWORD, KEY_PASSWORD)
    keychain.set_secret(destinations.owner(dest), destinations.SECRET, S3_SECRET)
    made = pairing.identity("lab-archive", data)  # its signing key is in the keychain only
    assert made is not None
    # A hand-edited file: a password where none belongs, in a profile and at the top.
    raw = to_dict(store.settings)
    raw["profiles"][0]["password"] = HAND_EDITED
    raw["api_token"] = HAND_EDITED
    store.path.write_text(json.dumps(raw))
    monkeypatch.setenv("OPENMSI_ROT_PASSWORD", ENV_SECRET)
    (logs / "openmsi-gui.log").write_text(
        "05:00:01 INFO starting\n"
        f"05:00:02 DEBUG config {{'sasl.password': '{SASL}', 'bootstrap.servers': 'b:1'}}\n"
        f"05:00:03 WARNING s3 said no to {S3_SECRET} and token={LOG_TOKEN}\n"
        f"05:00:04 INFO proxy http://lab:{URL_PASSWORD}@proxy.lab:3128\n"
        f"05:00:05 INFO rot password from env {ENV_SECRET}\n")
    (logs / "openmsi-gui.log.1").write_text(f"04:00:00 ERROR ssl.key.password={KEY_PASSWORD}\n"
                                            f"04:00:01 INFO key {made.secret}\n")
    (logs / "crash-20261206-040000-000000.txt").write_text("Traceback: boom\n")
    registry = Registry(data / "registry.sqlite3")
    upload, _ = registry.start_upload("lab-data", "/data/instrument", "a.tif", 10, 1,
                                      b"h" * 64, 1024, 1)
    registry.finish_upload(upload)
    registry.close()
    record_check(data, LastCheck(CheckTarget.BROKER, profile.id, profile.name, False,
                                 "Cannot log in to broker.lab:9093: check the password",
                                 1_800_000_000.0))
    config = tmp_path / "lab.config"
    config.write_text("[broker]\nbootstrap.servers = broker.lab:9093\n"
                      f"sasl.password = {CONFIG_PASSWORD}\nsasl.username = lab-user\n"
                      "[s3]\naccess_key_id = AKIALAB\n"
                      f"secret_key_id = {CONFIG_S3}\n"
                      "[other]\nssl.key.password = $OPENMSI_KEY_PASSWORD\n")
    return DiagnosticsSources(settings_path=store.path, data_dir=data, log_dir=logs,
                              config_files=(config,), qt_runtime="6.9.0")


SECRETS = [SASL, KEY_PASSWORD, S3_SECRET, CONFIG_PASSWORD, CONFIG_S3, HAND_EDITED, ENV_SECRET,
           LOG_TOKEN, URL_PASSWORD]


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zipped:
        return {name: zipped.read(name) for name in zipped.namelist()}


def test_no_secret_is_in_any_member_of_the_zip(lab: DiagnosticsSources, tmp_path: Path) -> None:
    signing = pairing.identity("lab-archive", lab.data_dir, create=False)
    assert signing is not None
    out = tmp_path / default_file_name()
    result = write_diagnostics(out, lab)
    zipped = members(out)
    assert set(result.members) == set(zipped)
    for name, data in zipped.items():
        for secret in [*SECRETS, signing.secret]:
            assert secret.encode() not in data, f"{secret} in {name}"
    assert result.size == out.stat().st_size > 0
    assert not out.with_name(f".{out.name}.part").exists()


def test_the_zip_has_what_support_needs(lab: DiagnosticsSources, tmp_path: Path) -> None:
    out = tmp_path / "d.zip"
    result = write_diagnostics(out, lab)
    zipped = members(out)
    manifest = json.loads(zipped["manifest.json"])
    assert {entry["name"] for entry in manifest["contents"]} == set(zipped) - {"manifest.json"}
    assert result.problems == manifest["problems"] == []
    assert {"versions.json", "settings.json", "referenced-files.json", "keychain.json",
            "pairing.json", "registry.json", "connection-tests.json", "logs/openmsi-gui.log",
            "logs/openmsi-gui.log.1", "logs/crash-20261206-040000-000000.txt",
            "config/lab.config"} <= set(zipped)
    versions = json.loads(zipped["versions.json"])
    assert versions["qt"] == "6.9.0"
    assert versions["librdkafka"]
    assert versions["packages"]["shiboken6"]
    settings = json.loads(zipped["settings.json"])
    profile = settings["profiles"][0]
    assert (profile["name"], profile["sasl_username"], profile["bootstrap_servers"]) == (
        "Lab broker", "lab-user", "broker.lab:9093")
    assert profile["password"] == settings["api_token"] == REMOVED
    assert settings["destinations"][0]["access_key_id"] == "AKIALAB"
    files = json.loads(zipped["referenced-files.json"])
    assert [(f["field"], f["exists"]) for f in files] == [("ca_file", True),
                                                         ("client_key_file", False)]
    stored = {(e["owner"].split(":")[0], e["name"]): e["stored"]
              for e in json.loads(zipped["keychain.json"])["entries"]}
    assert stored[("profile", profiles.PASSWORD)] is True
    assert stored[("destination", destinations.SECRET)] is True
    assert stored[("receipt-identity", "receipt-keys")] is True
    uploads = json.loads(zipped["registry.json"])["uploads"]
    assert uploads == [{"topic": "lab-data", "folder": "/data/instrument", "status": "done",
                        "after_delivery": "", "files": 1, "bytes": 10}]
    checks = json.loads(zipped["connection-tests.json"])["checks"]
    assert (checks[0]["name"], checks[0]["ok"]) == ("Lab broker", False)
    config = zipped["config/lab.config"].decode()
    assert f"sasl.password = {REMOVED}" in config
    assert f"secret_key_id = {REMOVED}" in config
    assert "access_key_id = AKIALAB" in config
    assert "ssl.key.password = $OPENMSI_KEY_PASSWORD" in config  # where it comes from
    log_text = zipped["logs/openmsi-gui.log"].decode()
    assert "05:00:01 INFO starting" in log_text
    assert "'bootstrap.servers': 'b:1'" in log_text


def test_a_failing_part_is_noted_and_the_rest_is_written(
        lab: DiagnosticsSources, tmp_path: Path) -> None:
    (lab.data_dir / "registry.sqlite3").unlink()
    for extra in lab.data_dir.glob("registry.sqlite3-*"):
        extra.unlink()
    (lab.data_dir / "registry.sqlite3").write_bytes(b"this is not a database" * 100)
    for log in lab.log_dir.iterdir() if lab.log_dir else ():
        log.unlink()

    def broken_keychain(owner: str, name: str) -> str | None:
        raise keychain.KeychainError(keychain.NOT_AVAILABLE)

    out = tmp_path / "d.zip"
    sources = DiagnosticsSources(lab.settings_path, lab.data_dir, lab.log_dir,
                                 (tmp_path / f"{ENV_SECRET}.config",),
                                 secret_lookup=broken_keychain)
    result = write_diagnostics(out, sources)
    zipped = members(out)
    problems = json.loads(zipped["manifest.json"])["problems"]
    assert problems == result.problems
    assert any(p.startswith(f"config file {tmp_path / REMOVED}.config") for p in problems)
    assert all(ENV_SECRET.encode() not in data for data in zipped.values())
    assert any(p.startswith("registry:") for p in problems)
    assert any(p.startswith("logs: no log file")
               for p in json.loads(zipped["manifest.json"])["absent"])
    assert any(p.startswith("keychain:") for p in problems)
    assert "registry.json" not in zipped
    assert {"versions.json", "settings.json", "connection-tests.json"} <= set(zipped)
    settings = json.loads(zipped["settings.json"])
    assert settings["profiles"][0]["password"] == REMOVED  # secret-named: removed anyway


def test_nothing_to_read_still_gives_a_zip(tmp_path: Path) -> None:
    out = tmp_path / "d.zip"
    result = write_diagnostics(out, DiagnosticsSources(tmp_path / "none.json",
                                                       tmp_path / "nodata", tmp_path / "nologs"))
    zipped = members(out)
    assert "versions.json" in zipped
    assert json.loads(zipped["registry.json"])["exists"] is False
    # A fresh install has no settings and no log yet: noted, not a part that failed.
    assert result.problems == []
    absent = json.loads(zipped["manifest.json"])["absent"]
    assert [p.split(":")[0] for p in absent] == ["settings", "logs"]


@pytest.mark.parametrize(("name", "secret"), [
    ("sasl.password", True), ("ssl.key.password", True), ("s3.secret_access_key", True),
    ("secret_key_id", True), ("OPENMSI_ROT_PASSWORD", True), ("api_token", True),
    ("sasl.oauthbearer.config", True), ("ssl.key.pem", True), ("receipt-keys", True),
    ("sasl.username", False), ("access_key_id", False), ("client_key_file", False),
    ("ssl.key.location", False), ("bootstrap.servers", False), ("key_id", False),
    ("topic", False),
])
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


def test_text_redaction_keeps_what_is_not_secret() -> None:
    redactor = Redactor(["abc", "longer-known-value"])  # "abc" is too short to search for
    text = ("[broker]\nsasl.password = two words\nsasl.username=abc\n"
            "password: $ROT_PASSWORD\ntoken = \n"
            "05:00 INFO got longer-known-value, password=x1y2 \"secret\": \"v\" key=k\n")
    assert redactor.text(text) == (
        f"[broker]\nsasl.password = {REMOVED}\nsasl.username=abc\n"
        "password: $ROT_PASSWORD\ntoken = \n"
        f"05:00 INFO got {REMOVED}, password={REMOVED} \"secret\": {REMOVED} key=k\n")
    assert redactor.json({"a": {"password": "p", "name": "x longer-known-value"},
                          "token": ""}) == {"a": {"password": REMOVED,
                                                  "name": f"x {REMOVED}"}, "token": ""}


def test_text_redaction_finds_a_password_in_a_logged_dict_and_an_inline_private_key() -> None:
    text = ("05:00 WARNING cannot connect: {'sasl.password': 'two words', 'b': 'x:1'}\n"
            "[broker]\nssl.key.pem = -----BEGIN PRIVATE KEY-----\n    MIIEvQIBADANBgkq\n"
            "    -----END PRIVATE KEY-----\nsasl.username = u\n")
    redacted = Redactor().text(text)
    assert "two words" not in redacted
    assert "'sasl.password': " + REMOVED in redacted
    assert "MIIEvQIBADANBgkq" not in redacted
    assert redacted.endswith(f"ssl.key.pem = {REMOVED}\nsasl.username = u\n")
    jaas = ("[broker]\nsasl.jaas.config = org.apache.kafka.PlainLoginModule required\n"
            "    username=\"u\"\n    pass=\"LeakMe1\";\nsasl.username = u\n")
    assert Redactor().text(jaas) == (f"[broker]\nsasl.jaas.config = {REMOVED}\n    {REMOVED}\n"
                                     f"    {REMOVED}\nsasl.username = u\n")
    assert Redactor().text("05:00 WARNING crypto: rot_password=abc12345 ok\n") == (
        f"05:00 WARNING crypto: rot_password={REMOVED} ok\n")
    traceback = "05:00 ERROR bad password=x1y2\n  File \"a.py\", line 3\n"
    assert Redactor().text(traceback) == (  # a log line's traceback stays
        f"05:00 ERROR bad password={REMOVED}\n  File \"a.py\", line 3\n")


def test_each_item_keeps_its_last_connection_test(tmp_path: Path) -> None:
    assert run_recorded(tmp_path, CheckTarget.BROKER, "p1", "Lab", lambda: "Connected.") == (
        "Connected.")

    def refused() -> str:
        raise RuntimeError("Cannot reach the broker at b:1")

    with pytest.raises(RuntimeError):
        run_recorded(tmp_path, CheckTarget.BROKER, "p1", "Lab", refused)
    run_recorded(tmp_path, CheckTarget.S3, "d1", "s3://b", lambda: "OK")
    checks = load_checks(tmp_path)
    assert [(c.key, c.ok, c.outcome) for c in checks] == [
        ("s3:d1", True, "OK"), ("broker:p1", False, "Cannot reach the broker at b:1")]


def test_the_log_of_this_process_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          caplog: Any) -> None:
    from openmsi_gui.app import logfiles

    monkeypatch.setenv("OPENMSI_GUI_LOG_DIR", str(tmp_path / "logs"))
    logfiles.setup_file_logging()
    try:
        logging.getLogger("openmsi_gui.test").warning("a line for support")
        out = tmp_path / "d.zip"
        write_diagnostics(out, DiagnosticsSources(tmp_path / "s.json", tmp_path / "data"))
    finally:
        logfiles.close_file_logging()
    assert b"a line for support" in members(out)["logs/openmsi-gui.log"]


def test_the_controller_keeps_its_connection_tests(controller: Any, tmp_path: Path) -> None:
    from openmsi_gui.engine.admin import BrokerError

    profile = BrokerProfile(name="Nowhere", bootstrap_servers="127.0.0.1:1")
    with pytest.raises(BrokerError) as refused:
        controller.test_connection(profile).result(30)
    dest = Destination(kind=DestinationKind.S3, bucket="b", access_key_id="AKIA")
    with pytest.raises(Exception, match="no secret access key"):
        controller.test_s3(dest).result(30)
    checks = {check.key: check for check in load_checks(controller.registry.path.parent)}
    assert checks[f"broker:{profile.id}"].outcome == str(refused.value)
    assert checks[f"broker:{profile.id}"].name == "Nowhere"
    assert not checks[f"s3:{dest.id}"].ok
    assert checks[f"s3:{dest.id}"].name == "s3://b"
