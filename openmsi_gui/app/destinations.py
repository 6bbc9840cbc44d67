"""Destinations without Qt: validation, consumer groups, and S3 locations, secrets and probes.

A destination of kind ``s3`` keeps bucket, prefix, endpoint, region and access
key id in the settings; the secret access key lives only in the OS keychain,
under :func:`owner` and :data:`SECRET`. The form in
:mod:`openmsi_gui.ui.views.destinations` renders what is checked here.
"""

from __future__ import annotations

import re
import socket
from urllib.parse import urlsplit

from openmsi_gui.app.bandwidth import limit_problem
from openmsi_gui.app.file_information import download_regex_problem
from openmsi_gui.app.folders import FolderCheck, folder_problem, profile_problem, same_or_inside
from openmsi_gui.app.processing_form import processor_problems
from openmsi_gui.app.profiles import SecretLookup
from openmsi_gui.app.settings import Destination, DestinationKind, Settings
from openmsi_gui.app.text import sentence
from openmsi_gui.app.validation import topic_errors
from openmsi_gui.engine.s3 import S3Error, S3Location, check_bucket_name, probe_bucket

SECRET = "s3.secret_access_key"
"""Keychain name of a destination's S3 secret access key."""

MAX_PREFIX_LENGTH = 512  # S3 keys have at most 1024 bytes; leave room for topic and path
_REGION = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


KINDS = ((DestinationKind.FOLDER, "Local folder"), (DestinationKind.S3, "S3 bucket"),
         (DestinationKind.PROCESS, "Processing only (keep nothing but results)"))
"""Destination kinds: the value stored in :attr:`Destination.kind` and what the user sees."""


def default_group_id(hostname: str | None = None) -> str:
    """``openmsi-<short host name>``, the group a new destination gets."""
    host = socket.gethostname() if hostname is None else hostname
    short = re.sub(r"[^A-Za-z0-9_-]+", "-", host.split(".")[0]).strip("-").lower()
    return f"openmsi-{short or 'pc'}"


def validate_destination(dest: Destination, settings: Settings,
                         folder_check: FolderCheck = folder_problem) -> list[str]:
    """Everything wrong with ``dest`` as one sentence each (empty if it can be saved).

    Args:
        dest: the destination as edited.
        settings: the saved settings (``dest`` itself may or may not be in them).
        folder_check: what is wrong with a local folder; the default asks the file
            system (blocking), the view passes what its background check found.
    """
    errors: list[str] = []
    if dest.kind == "s3":
        errors += validate_s3_destination(dest, settings)  # broker, topic, bucket, …
        if dest.topic:
            errors += topic_errors(dest.topic)
    else:
        if dest.kind not in (DestinationKind.FOLDER, DestinationKind.PROCESS):
            errors.append(f"Unknown kind of destination {dest.kind!r}: choose Local folder, "
                          "S3 bucket or Processing only.")
        elif dest.kind is DestinationKind.FOLDER and (
                problem := folder_check(dest.path)) is not None:
            errors.append(problem)
        if (problem := profile_problem(dest.profile_id, settings)) is not None:
            errors.append(problem)
        errors += topic_errors(dest.topic)
    if not dest.group_id.strip():
        errors.append("Enter a consumer group.")
    errors += [sentence(p) for p in (limit_problem(dest.bwlimit),
                                     download_regex_problem(dest.download_regex))
               if p is not None]
    errors += processor_problems(dest)
    if dest.topic and dest.group_id:
        errors += _shared_groups(dest, settings)
    if dest.kind == "folder" and dest.path and dest.topic:
        for folder in settings.folders:
            if (folder.topic == dest.topic and folder.profile_id == dest.profile_id
                    and same_or_inside(folder.path, dest.path)):
                errors.append(
                    f"{folder.path} is sent to {dest.topic}: files downloaded here would be "
                    "sent again. Choose a folder outside it, or another topic.")
    return errors


def _shared_groups(dest: Destination, settings: Settings) -> list[str]:
    """Other destinations of the same topic in the same consumer group."""
    return [f"{location_text(other)} already downloads {dest.topic} in consumer group "
            f"{dest.group_id}: the two would split the files between them. Use another "
            "consumer group."
            for other in settings.destinations
            if (other.id != dest.id and other.profile_id == dest.profile_id
                and other.topic == dest.topic and other.group_id == dest.group_id)]


def owner(dest: Destination) -> str:
    """The keychain owner name of a destination's secrets."""
    return f"destination:{dest.id}"


def s3_location(dest: Destination, secret: str = "") -> S3Location:
    """The S3 location ``dest`` describes, signed with ``secret``."""
    return S3Location(bucket=dest.bucket.strip(), prefix=dest.prefix.strip().strip("/"),
                      endpoint_url=dest.endpoint_url.strip(), region=dest.region.strip(),
                      access_key_id=dest.access_key_id.strip(), secret_access_key=secret)


def load_s3_location(dest: Destination, secret: SecretLookup) -> S3Location:
    """:func:`s3_location` with the secret from the keychain (blocking).

    Raises:
        KeychainError: if the keychain cannot be read.
    """
    return s3_location(dest, secret(owner(dest), SECRET) or "")


def location_text(dest: Destination) -> str:
    """Where a destination's files go, in one line (``s3://bucket/prefix`` for S3)."""
    if dest.kind is DestinationKind.PROCESS:
        return f"processing only: {dest.processor_spec().name or 'nothing chosen'}"
    return s3_location(dest).url if dest.kind is DestinationKind.S3 else dest.path


def key_layout(dest: Destination) -> str:
    """The object key a received file gets, as a pattern for the user."""
    prefix = dest.prefix.strip().strip("/")
    return "/".join(p for p in (prefix, dest.topic or "<topic>", "<subfolders>/<name>") if p)


def s3_problems(dest: Destination) -> list[str]:
    """What is wrong with the S3 fields of ``dest``, one sentence each ([] if nothing)."""
    errors: list[str] = []
    bucket = dest.bucket.strip()
    if not bucket:
        errors.append("Enter the bucket name.")
    else:
        try:
            check_bucket_name(bucket)
        except ValueError as exc:
            errors.append(sentence(str(exc)))
    prefix = dest.prefix.strip()
    if len(prefix.encode()) > MAX_PREFIX_LENGTH:
        errors.append(f"The key prefix is too long: use at most {MAX_PREFIX_LENGTH} bytes.")
    if any(ord(c) < 32 or c == "\\" for c in prefix):
        errors.append("The key prefix has a backslash or control character: separate its "
                      "parts with /.")
    if (problem := endpoint_problem(dest.endpoint_url)) is not None:
        errors.append(problem)
    region = dest.region.strip()
    if region and not _REGION.fullmatch(region):
        errors.append(f"{region!r} is not a region name: use one like us-east-1, or leave it "
                      "empty.")
    key = dest.access_key_id.strip()
    if key and (len(key) > 128 or not key.isprintable() or " " in key):
        errors.append("The access key id has spaces or unusual characters: copy it again.")
    return errors


def endpoint_problem(url: str) -> str | None:
    """Why ``url`` cannot be an S3 endpoint, or None ("" means AWS and is fine)."""
    url = url.strip()
    if not url:
        return None
    parts = urlsplit(url if "://" in url else f"https://{url}")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if (parts.scheme not in ("http", "https") or not parts.hostname or port == -1
            or " " in url or parts.query or parts.fragment):
        return (f"{url!r} is not an endpoint URL: use one like https://s3.example.org:9000, "
                "or leave it empty for AWS.")
    return None


def validate_s3_destination(dest: Destination, settings: Settings) -> list[str]:
    """Everything that stops ``dest`` from being saved as an S3 destination.

    Checks the broker and topic are chosen and the S3 fields are usable, and
    that no other S3 destination stores the same topic at the same place
    (the two would share one local staging folder).

    Args:
        dest: the destination as edited (kind ``s3``).
        settings: the saved settings (``dest`` itself may or may not be in them).
    """
    errors: list[str] = []
    if (problem := profile_problem(dest.profile_id, settings)) is not None:
        errors.append(problem)
    if not dest.topic.strip():
        errors.append("Choose or type a topic.")
    errors += s3_problems(dest)
    if dest.topic and dest.bucket:
        here = s3_location(dest)
        for other in settings.destinations:
            there = s3_location(other)
            if (other.id != dest.id and other.kind == "s3" and other.topic == dest.topic
                    and (there.endpoint, there.bucket, there.prefix)
                    == (here.endpoint, here.bucket, here.prefix)):
                errors.append(f"{there.url} already receives {dest.topic}: use another key "
                              "prefix.")
    return errors


def check_s3(location: S3Location) -> str:
    """Probe ``location`` (blocking); return what was found as a sentence for the user.

    Raises:
        S3Error: with a plain reason if the bucket cannot be used.
    """
    if location.access_key_id and not location.secret_access_key:
        raise S3Error(f"no secret access key is stored for the access key "
                      f"{location.access_key_id}: enter it and try again")
    probe_bucket(location)
    where = location.endpoint or "AWS S3"
    return f"OK: the bucket {location.bucket!r} at {where} can be used."
