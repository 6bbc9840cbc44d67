"""Store rebuilt files in an S3 bucket, streamed, verified and resumable.

A :class:`S3Store` puts one verified local file at a time under
``<prefix>/<topic>/<relpath>`` (OpenMSIStream's layout is ``<topic>/<relpath>``,
which is what an empty prefix gives). Files larger than one part go up as a
multipart upload read part by part from disk, so memory stays bounded by
``part_size * workers`` whatever the file size.

Every request carries a Content-MD5 the server checks, and after the upload the
object's ETag (MD5, or MD5 of the part MD5s for multipart) and size are
compared with what was sent. Servers whose ETag is not an MD5 (SSE-KMS) get the
object read back and its SHA-512 compared instead. Any mismatch or failed
request raises :class:`S3Error`: the caller keeps the file and retries.

The object carries ``sha512`` (hex) and ``mtime`` user metadata.

A multipart upload in progress is described by a sidecar file next to the
local file (``<file>.s3upload``, written before the first part). After a crash
the next :meth:`S3Store.put` of the same file resumes it, checking every part
the server already has against the local bytes; :meth:`S3Store.recover` aborts
those whose local file is gone, so no upload is left orphaned.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openmsi_gui.engine.bandwidth import Pacer
from openmsi_gui.engine.metadata_stores import s3_metadata
from openmsi_gui.engine.untrusted import escaped

log = logging.getLogger(__name__)

MIN_PART_SIZE = 5 * 1024 * 1024  # S3's minimum for every part but the last
DEFAULT_PART_SIZE = 8 * 1024 * 1024
MAX_PARTS = 10_000
DEFAULT_WORKERS = 2
READ_BLOCK = 1 << 20
SIDECAR_SUFFIX = ".s3upload"
# Uploads under our prefix that no sidecar knows of (a crash between creating
# the upload and writing its sidecar) are aborted once they are this old; a
# younger one may belong to another consumer of the same group.
STRAY_UPLOAD_SECONDS = 24 * 3600.0

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_ETAG_MD5 = re.compile(r'^"?([0-9a-f]{32})(?:-(\d+))?"?$')


class S3Error(RuntimeError):
    """S3 cannot be used or refused a file; the message says why and what to do."""


class _UploadGone(Exception):
    """The multipart upload a sidecar names no longer exists on the server."""


@dataclass(frozen=True)
class S3Location:
    """Where files go: a bucket, a key prefix and how to reach and sign in.

    Attributes:
        bucket: bucket name.
        prefix: key prefix ("" for OpenMSIStream's ``<topic>/<relpath>`` layout).
        endpoint_url: S3-compatible endpoint ("" for AWS); ``https://`` is
            assumed when it has no scheme.
        region: region name ("" for the SDK default).
        access_key_id: access key; "" uses the SDK's usual sources (env, profile).
        secret_access_key: secret for ``access_key_id``.
    """

    bucket: str
    prefix: str = ""
    endpoint_url: str = ""
    region: str = ""
    access_key_id: str = ""
    secret_access_key: str = field(default="", repr=False)

    @property
    def url(self) -> str:
        """``s3://bucket/prefix``, for logs, history and the registry."""
        prefix = self.prefix.strip("/")
        return f"s3://{self.bucket}/{prefix}" if prefix else f"s3://{self.bucket}"

    @property
    def endpoint(self) -> str | None:
        """The endpoint URL with a scheme, or None for AWS."""
        url = self.endpoint_url.strip()
        if not url:
            return None
        return url if "://" in url else f"https://{url}"

    def object_key(self, topic: str, relpath: str) -> str:
        """The key of ``relpath`` received from ``topic``."""
        return "/".join(p for p in (self.prefix.strip("/"), topic, relpath) if p)


def check_bucket_name(name: str) -> str:
    """Return ``name`` if it is a valid bucket name, else raise ValueError."""
    if not _BUCKET.match(name) or ".." in name:
        raise ValueError(f"{name!r} is not a valid bucket name: use 3 to 63 lower-case "
                         "letters, digits, dots and hyphens")
    return name


def make_client(location: S3Location) -> Any:
    """A boto3 S3 client for ``location`` (imported lazily: boto3 is slow to import)."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=10, read_timeout=120,
        retries={"max_attempts": 5, "mode": "standard"},
        # Custom endpoints (SeaweedFS, MinIO, Ceph) mostly want path-style URLs.
        s3={"addressing_style": "path" if location.endpoint else "auto"},
        # We send Content-MD5 ourselves; newer SDK checksum defaults are not
        # understood by every S3-compatible server.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    kwargs: dict[str, Any] = {"config": config}
    if location.endpoint:
        kwargs["endpoint_url"] = location.endpoint
    if location.region:
        kwargs["region_name"] = location.region
    if location.access_key_id:
        kwargs["aws_access_key_id"] = location.access_key_id
        kwargs["aws_secret_access_key"] = location.secret_access_key
    return boto3.session.Session().client("s3", **kwargs)


def explain(exc: BaseException, location: S3Location) -> str:
    """Turn a boto3/botocore error into a sentence a lab user can act on."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        SSLError,
    )

    where = location.endpoint or "AWS S3"
    if isinstance(exc, NoCredentialsError):
        return "no S3 access key is set: enter the access key and secret for the bucket"
    if isinstance(exc, SSLError):
        return (f"the secure connection to the S3 endpoint {where} failed (its certificate is "
                "not trusted or has expired): check the endpoint URL")
    if isinstance(exc, EndpointConnectionError):
        return f"cannot reach the S3 endpoint {where}: check the URL and the network"
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("SignatureDoesNotMatch",):
            return "S3 refused the secret key: check the secret for this access key"
        if code in ("InvalidAccessKeyId", "InvalidClientTokenId"):
            return f"S3 does not know the access key: check it for {where}"
        if code in ("NoSuchBucket",) or (status == 404 and code in ("404", "NotFound")):
            return f"the bucket {location.bucket!r} does not exist at {where}: create it or " \
                   "check its name"
        if code in ("AccessDenied", "403", "Forbidden", "AllAccessDisabled"):
            return (f"S3 denied access to the bucket {location.bucket!r}: the access key "
                    "needs read and write rights on it")
        if code == "RequestTimeTooSkewed":
            return ("S3 refused the request because this computer's clock is wrong by more "
                    "than 15 minutes: set its date and time")
        if code in ("ExpiredToken", "TokenRefreshRequired", "InvalidToken"):
            return "the S3 credentials have expired: enter a new access key and secret"
        if code == "AuthorizationHeaderMalformed":
            return f"the bucket {location.bucket!r} is in another region: set its region"
        if code in ("BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch"):
            return "S3 received different bytes than were sent (checksum mismatch)"
        if code == "PermanentRedirect" or status == 301:
            return f"the bucket {location.bucket!r} is in another region: set its region"
        message = exc.response.get("Error", {}).get("Message", "") or str(exc)
        return f"S3 refused the request ({code or status}): {message}"
    if isinstance(exc, BotoCoreError):
        return f"S3 request failed: {exc}"
    return str(exc)


def probe_bucket(location: S3Location, client: Any = None) -> None:
    """Check that the bucket exists and the keys may use it (raises :class:`S3Error`)."""
    try:
        check_bucket_name(location.bucket)
    except ValueError as exc:
        raise S3Error(str(exc)) from None
    client = client or make_client(location)
    try:
        # A GET, not head_bucket: HEAD responses carry no error code, so a wrong
        # secret and a missing right would both be a bare 403.
        client.list_objects_v2(Bucket=location.bucket, Prefix=location.prefix, MaxKeys=1)
    except Exception as exc:
        raise S3Error(explain(exc, location)) from exc


@dataclass(frozen=True)
class _Part:
    number: int
    offset: int
    length: int


def _parts(size: int, part_size: int) -> list[_Part]:
    part_size = max(part_size, MIN_PART_SIZE, -(-size // MAX_PARTS))
    return [_Part(i + 1, offset, min(part_size, size - offset))
            for i, offset in enumerate(range(0, size, part_size))]


def _read(path: Path, offset: int, length: int) -> bytes:
    with path.open("rb", buffering=0) as handle:
        handle.seek(offset)
        return handle.read(length)


def _md5(data: bytes) -> bytes:
    return hashlib.md5(data, usedforsecurity=False).digest()


def _multipart_etag(path: Path, parts: list[_Part]) -> str:
    """The ETag S3 gives a multipart upload of ``path`` in ``parts``: MD5 of the part MD5s."""
    digests = b"".join(_md5(_read(path, p.offset, p.length)) for p in parts)
    return f"{hashlib.md5(digests, usedforsecurity=False).hexdigest()}-{len(parts)}"


class S3Store:
    """Put verified files into one bucket location.

    Args:
        location: bucket, prefix, endpoint and keys.
        topic: the topic the files come from (part of every key).
        part_size: multipart part size (raised as needed for huge files).
        workers: parts uploaded at once.
        client: a boto3 client (made from ``location`` if None).
        pacer: the bandwidth limits uploads go under; each PUT waits for its bytes
            (None: no limit).
    """

    def __init__(self, location: S3Location, topic: str, part_size: int = DEFAULT_PART_SIZE,
                 workers: int = DEFAULT_WORKERS, client: Any = None,
                 pacer: Pacer | None = None) -> None:
        self.location = location
        self.pacer = pacer
        self.topic = topic
        self.part_size = max(part_size, MIN_PART_SIZE)
        self.workers = max(1, workers)
        self._client = client
        self._client_lock = threading.Lock()

    @property
    def client(self) -> Any:
        """The boto3 client, made on first use (boto3 clients are thread-safe)."""
        with self._client_lock:
            if self._client is None:
                self._client = make_client(self.location)
            return self._client

    @property
    def url(self) -> str:
        """``s3://bucket/prefix``."""
        return self.location.url

    def key(self, relpath: str) -> str:
        """The object key for ``relpath``."""
        return self.location.object_key(self.topic, relpath)

    def check(self) -> None:
        """Raise :class:`S3Error` if the bucket cannot be used."""
        probe_bucket(self.location, self.client)

    def exists(self, relpath: str, size: int, sha512: bytes) -> bool:
        """Whether the object for ``relpath`` holds exactly this file already."""
        try:
            head = self.client.head_object(Bucket=self.location.bucket, Key=self.key(relpath))
        except Exception:
            return False
        return bool(head.get("ContentLength") == size and
                    head.get("Metadata", {}).get("sha512") == sha512.hex())

    def put(self, path: Path, relpath: str, sha512: bytes, mtime: float,
            stopping: Callable[[], bool] = lambda: False,
            fields: Mapping[str, str] | None = None) -> str:
        """Upload ``path`` as ``relpath`` and verify the object; return its URL.

        Args:
            path: the complete, verified local file.
            relpath: its path relative to the destination ("/"-separated).
            sha512: the file's SHA-512, stored as metadata.
            mtime: the file's modification time, stored as metadata.
            stopping: polled between parts; True keeps the upload for later.
            fields: the file's information, as user metadata too (see
                :mod:`.metadata_stores`).

        Raises:
            S3Error: the upload or its verification failed (nothing is lost:
                the local file stays and a retry resumes).
        """
        key = self.key(relpath)
        size = path.stat().st_size
        metadata = s3_metadata(fields or {}, {"sha512": sha512.hex(), "mtime": f"{mtime:.6f}"},
                               relpath)
        try:
            if size <= self.part_size:
                if self.pacer is not None and not self.pacer.pace_polled(size, stopping):
                    raise S3Error("stopped before the upload started; it starts on restart")
                etag, expected = self._put_single(path, key, size, metadata)
            else:
                etag, expected = self._put_multipart(path, key, size, sha512, metadata, stopping)
            self._verify(key, size, sha512, etag, expected)
        except S3Error:
            raise
        except Exception as exc:
            raise S3Error(explain(exc, self.location)) from exc
        return f"s3://{self.location.bucket}/{key}"

    # -- uploads -----------------------------------------------------------

    def _put_single(self, path: Path, key: str, size: int,
                    metadata: dict[str, str]) -> tuple[str, str]:
        """One PUT; return the object's ETag and the one expected (the MD5 sent)."""
        data = _read(path, 0, size)
        digest = _md5(data)
        response = self.client.put_object(
            Bucket=self.location.bucket, Key=key, Body=data, Metadata=metadata,
            ContentMD5=base64.b64encode(digest).decode())
        return str(response.get("ETag", "")), digest.hex()

    def _put_multipart(self, path: Path, key: str, size: int, sha512: bytes,
                       metadata: dict[str, str],
                       stopping: Callable[[], bool]) -> tuple[str, str]:
        sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
        parts = _parts(size, self.part_size)
        upload_id = self._resumable(sidecar, key, sha512, parts[0].length)
        done: dict[int, str] = {}  # part number -> ETag
        digests: dict[int, bytes] = {}  # part number -> MD5
        gone = False
        if upload_id is not None:
            try:
                verified = self._verified_parts(path, key, upload_id, parts)
            except _UploadGone:
                # Completed just before a crash, or aborted meanwhile (a bucket rule):
                # either way the sidecar is stale, and keeping it would fail every retry.
                sidecar.unlink(missing_ok=True)
                upload_id, gone = None, True
            else:
                for number, (etag, digest) in verified.items():
                    done[number], digests[number] = etag, digest
                log.info("resuming the S3 upload of %s: %d of %d parts already there",
                         escaped(key), len(done), len(parts))
        if upload_id is None:
            # Stored already (a crash after the upload, before its record was removed): done.
            stored = self._stored_etag(key, size, sha512)
            if stored is not None:
                log.info("%s is already stored in S3 with the same content", escaped(key))
                return stored, _multipart_etag(path, parts)
            if gone:
                log.warning("the interrupted S3 upload of %s had expired; it starts again",
                            escaped(key))
            response = self.client.create_multipart_upload(
                Bucket=self.location.bucket, Key=key, Metadata=metadata)
            upload_id = str(response["UploadId"])
            _write_sidecar(sidecar, {"bucket": self.location.bucket, "key": key,
                                     "upload_id": upload_id, "sha512": sha512.hex(),
                                     "part_size": parts[0].length})

        def upload(part: _Part) -> None:
            if part.number in done:
                return
            if stopping():
                raise S3Error("stopped before the upload finished; it resumes on restart")
            if self.pacer is not None and not self.pacer.pace_polled(part.length, stopping):
                raise S3Error("stopped before the upload finished; it resumes on restart")
            data = _read(path, part.offset, part.length)
            digest = _md5(data)
            digests[part.number] = digest
            response = self.client.upload_part(
                Bucket=self.location.bucket, Key=key, UploadId=upload_id,
                PartNumber=part.number, Body=data,
                ContentMD5=base64.b64encode(digest).decode())
            done[part.number] = str(response["ETag"])

        with ThreadPoolExecutor(self.workers, thread_name_prefix="s3-part") as pool:
            # list() re-raises the first failure; the sidecar keeps the upload resumable.
            list(pool.map(upload, parts))
        response = self.client.complete_multipart_upload(
            Bucket=self.location.bucket, Key=key, UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": done[n]}
                                       for n in sorted(done)]})
        sidecar.unlink(missing_ok=True)
        combined = hashlib.md5(b"".join(digests[n] for n in sorted(digests)),
                               usedforsecurity=False).hexdigest()
        return str(response.get("ETag", "")), f"{combined}-{len(parts)}"

    def _resumable(self, sidecar: Path, key: str, sha512: bytes, part_size: int) -> str | None:
        """The upload id of an interrupted upload of this very file, else None."""
        info = _read_sidecar(sidecar)
        if info is None:
            return None
        if (info.get("key") == key and info.get("sha512") == sha512.hex() and
                info.get("part_size") == part_size and info.get("bucket") == self.location.bucket):
            return str(info["upload_id"])
        self._abort(str(info.get("bucket", "")), str(info.get("key", "")),
                    str(info.get("upload_id", "")))
        sidecar.unlink(missing_ok=True)
        return None

    def _verified_parts(self, path: Path, key: str, upload_id: str,
                        parts: list[_Part]) -> dict[int, tuple[str, bytes]]:
        """Parts the server holds whose ETag matches the local bytes: their ETag and MD5."""
        from botocore.exceptions import ClientError

        by_number = {p.number: p for p in parts}
        found: dict[int, tuple[str, bytes]] = {}
        try:
            paginator = self.client.get_paginator("list_parts")
            for page in paginator.paginate(Bucket=self.location.bucket, Key=key,
                                           UploadId=upload_id):
                for item in page.get("Parts", []):
                    part = by_number.get(int(item["PartNumber"]))
                    if part is None or int(item.get("Size", -1)) != part.length:
                        continue
                    etag = str(item["ETag"])
                    digest = _md5(_read(path, part.offset, part.length))
                    if etag.strip('"') == digest.hex():
                        found[part.number] = (etag, digest)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchUpload":
                raise _UploadGone(upload_id) from exc
            raise
        return found

    def _stored_etag(self, key: str, size: int, sha512: bytes) -> str | None:
        """The ETag of the object at ``key`` if it has this size and SHA-512, else None."""
        try:
            head = self.client.head_object(Bucket=self.location.bucket, Key=key)
        except Exception:
            return None
        if (head.get("ContentLength") == size and
                head.get("Metadata", {}).get("sha512") == sha512.hex()):
            return str(head.get("ETag", ""))
        return None

    def _verify(self, key: str, size: int, sha512: bytes, etag: str, expected: str) -> None:
        head = self.client.head_object(Bucket=self.location.bucket, Key=key)
        if head.get("ContentLength") != size:
            raise S3Error(f"the stored object has {head.get('ContentLength')} bytes, not "
                          f"{size}; it will be sent again")
        if head.get("Metadata", {}).get("sha512") != sha512.hex():
            raise S3Error("the stored object lacks its SHA-512 metadata; it will be sent again")
        match = _ETAG_MD5.match(etag.strip())
        if match and (match.group(2) is not None) == ("-" in expected):
            if etag.strip().strip('"') != expected:
                raise S3Error("the stored object's checksum (ETag) does not match the file; "
                              "it will be sent again")
            return
        # The ETag is not an MD5 (e.g. SSE-KMS): read the object back.
        body = self.client.get_object(Bucket=self.location.bucket, Key=key)["Body"]
        hasher = hashlib.sha512()
        for block in body.iter_chunks(READ_BLOCK):
            hasher.update(block)
        if hasher.digest() != sha512:
            raise S3Error("the stored object does not match the file's SHA-512; it will be "
                          "sent again")

    def _abort(self, bucket: str, key: str, upload_id: str) -> None:
        if not (bucket and key and upload_id):
            return
        try:
            self.client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            log.info("aborted the interrupted S3 upload of %s", escaped(key))
        except Exception as exc:
            log.warning("could not abort the S3 upload of %s: %s", escaped(key),
                        explain(exc, self.location))

    # -- recovery ----------------------------------------------------------

    def recover(self, staging: Path) -> int:
        """Abort interrupted uploads that cannot resume; return how many.

        An upload whose local file is still in ``staging`` is kept: the file
        finishes arriving, and :meth:`put` resumes the upload. Uploads under
        this location's keys that no sidecar describes and are older than
        :data:`STRAY_UPLOAD_SECONDS` are aborted too.
        """
        aborted = 0
        known: set[str] = set()
        for sidecar in staging.rglob("*" + SIDECAR_SUFFIX):
            info = _read_sidecar(sidecar)
            local = sidecar.with_name(sidecar.name.removesuffix(SIDECAR_SUFFIX))
            if info is not None and local.is_file():
                known.add(str(info.get("upload_id")))
                continue
            if info is not None:
                self._abort(str(info.get("bucket", "")), str(info.get("key", "")),
                            str(info.get("upload_id", "")))
                aborted += 1
            sidecar.unlink(missing_ok=True)
        try:
            prefix = self.location.object_key(self.topic, "") + "/"
            paginator = self.client.get_paginator("list_multipart_uploads")
            now = time.time()
            for page in paginator.paginate(Bucket=self.location.bucket, Prefix=prefix):
                for upload in page.get("Uploads", []):
                    if str(upload["UploadId"]) in known:
                        continue
                    initiated = upload.get("Initiated")
                    age = now - initiated.timestamp() if initiated else 0.0
                    if age > STRAY_UPLOAD_SECONDS:
                        self._abort(self.location.bucket, str(upload["Key"]),
                                    str(upload["UploadId"]))
                        aborted += 1
        except Exception as exc:
            log.warning("could not list interrupted S3 uploads: %s", explain(exc, self.location))
        return aborted


def staging_dir(location: S3Location, topic: str, data_dir: Path) -> Path:
    """The local folder where files for ``location`` are rebuilt before upload."""
    ident = "\n".join((location.endpoint or "", location.bucket, location.prefix, topic))
    return data_dir / "s3-staging" / hashlib.sha256(ident.encode()).hexdigest()[:16]


def _write_sidecar(path: Path, info: dict[str, Any]) -> None:
    temp = path.with_name(path.name + ".tmp")
    with temp.open("w", encoding="utf-8") as handle:
        json.dump(info, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def _read_sidecar(path: Path) -> dict[str, Any] | None:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None
