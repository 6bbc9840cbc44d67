"""The words of Enable / Remove encryption, without Qt (app/encryption_component)."""

from __future__ import annotations

from pathlib import Path

import pytest

from openmsi_gui.app import encryption_component
from openmsi_gui.engine import crypto
from openmsi_gui.platform import component_install, components


def test_a_refused_file_and_an_unreachable_index_are_one_sentence_saying_what_to_do() -> None:
    wheel = components.pin().wheel
    same = encryption_component.refused_sentence(component_install.HashMismatch("x"),
                                                 Path("/tmp") / wheel)
    assert same == (f"{wheel} is not the KafkaCrypto release this app trusts (SHA-256 "
                    "differs): download it again from PyPI.")
    other = encryption_component.refused_sentence(component_install.HashMismatch("x"),
                                                  Path("kafkacrypto.whl"))
    assert other.endswith(f"download {wheel} from PyPI.")
    index = encryption_component.refused_sentence(component_install.HashMismatch("x"), None)
    assert index.endswith(f"install {wheel} from a file instead.")
    assert "could not be reached" in encryption_component.refused_sentence(
        component_install.IndexUnreachable("x"), None)
    assert encryption_component.refused_sentence(
        components.ComponentError("cannot read /x: gone: check the path"), Path("/x")) == \
        "Encryption was not enabled: Cannot read /x: gone: check the path."
    for text in (same, other, index, encryption_component.NOT_INSTALLED_NOTE):
        assert text.count(". ") == 0, text  # one sentence


def test_an_unreadable_file_is_refused_and_nothing_is_installed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(components.COMPONENTS_ENV, str(tmp_path / "components"))
    outcome = encryption_component.install(tmp_path / "missing.whl")
    assert not outcome.ok
    assert outcome.sentence.startswith("Encryption was not enabled: Cannot read")
    assert not outcome.state.component
    assert not (tmp_path / "components").exists() or not list(
        (tmp_path / "components").iterdir())


def test_without_kafkacrypto_the_state_is_not_usable(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    monkeypatch.setenv(components.COMPONENTS_ENV, str(tmp_path / "components"))
    monkeypatch.setattr(crypto, "kafkacrypto_available", lambda: False)
    state = encryption_component.component_state()
    assert not state.usable
    assert not state.removable
    assert state.version == components.pin().version
    removed = encryption_component.remove()
    assert removed.ok
    assert "wait until encryption is enabled again" in removed.sentence
