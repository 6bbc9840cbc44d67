r"""Information sent with each file (metadata): its rules, its header, and a folder's source.

A watched folder may attach fields to every file it sends: fixed fields
(instrument, lab, operator), fields taken from the named groups of a regular
expression found in the file's relative path (``(?P<sample>S\d+)/``), and the
*current sample* a technician sets (sent as ``sample``). They travel as one
Kafka message header, :data:`HEADER`, on every chunk: a UTF-8 JSON object of
text to text. The chunk's key and msgpack value do not change, so OpenMSIStream
consumers (which ignore headers) still rebuild the files byte for byte.

On the way in the header is untrusted: :func:`decode_header` bounds it, refuses
anything but a flat object of text, and escapes every key and value
(:func:`~openmsi_gui.engine.untrusted.escaped`).

The bounds (:data:`MAX_FIELDS`, :data:`MAX_KEY_CHARS`, :data:`MAX_VALUE_CHARS`,
:data:`MAX_HEADER_BYTES`) and their one-sentence errors live here only; the CLI
and the forms use :func:`check_fields`, :func:`parse_field` and
:func:`compile_path_regex`.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from openmsi_gui.engine.untrusted import escaped

log = logging.getLogger(__name__)

HEADER = "openmsi_metadata"
"""The Kafka message header that carries a file's fields."""
SAMPLE_FIELD = "sample"
"""The field the current sample is sent as."""
MAX_FIELDS = 32
MAX_KEY_CHARS = 64
MAX_VALUE_CHARS = 1024
MAX_HEADER_BYTES = 8192
"""The largest header (its UTF-8 JSON), sent or read."""
WAITING_FOR_SAMPLE = "Waiting for the current sample: set it from the tray menu."

_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")

Fields = dict[str, str]


class MetadataError(ValueError):
    """Fields, a ``KEY=VALUE`` or a path pattern that cannot be used (one sentence)."""


def key_problem(key: str) -> str | None:
    """Why ``key`` cannot name a field, or None."""
    if not key:
        return "a field needs a name"
    if len(key) > MAX_KEY_CHARS:
        return f"the field name '{key[:20]}…' is longer than {MAX_KEY_CHARS} characters"
    if not _KEY.match(key):
        return (f"the field name '{escaped(key, 40)}' may only use letters, digits, '_', '-' "
                "and '.' (and not start with '-' or '.')")
    return None


def value_problem(key: str, value: str) -> str | None:
    """Why ``value`` cannot be the value of field ``key``, or None."""
    if len(value) > MAX_VALUE_CHARS:
        return f"the value of '{key}' is longer than {MAX_VALUE_CHARS} characters"
    if not value.isprintable():
        return f"the value of '{key}' contains a control character (a line break or a tab?)"
    return None


def check_fields(fields: Mapping[str, str]) -> Fields:
    """Return ``fields`` as a dict if they may be sent.

    Raises:
        MetadataError: with one sentence saying what to change.
    """
    if len(fields) > MAX_FIELDS:
        raise MetadataError(f"at most {MAX_FIELDS} fields can be sent with each file")
    for key, value in fields.items():
        problem = key_problem(key) or value_problem(key, value)
        if problem is not None:
            raise MetadataError(f"{problem}: change it")
    if len(encode_header(fields)) > MAX_HEADER_BYTES:
        raise MetadataError(f"the fields take more than {MAX_HEADER_BYTES} bytes: shorten them")
    return dict(fields)


def parse_field(text: str) -> tuple[str, str]:
    """``"operator=Ada"`` → ``("operator", "Ada")``.

    Raises:
        MetadataError: not ``KEY=VALUE``, or a bad name or value.
    """
    key, equals, value = text.partition("=")
    key = key.strip()
    if not equals:
        raise MetadataError(f"'{escaped(text, 40)}' is not KEY=VALUE: write e.g. "
                            "--meta operator=Ada")
    problem = key_problem(key) or value_problem(key, value)
    if problem is not None:
        raise MetadataError(f"{problem}: change it")
    return key, value


def parse_fields(items: Sequence[str]) -> Fields:
    """The fields of repeated ``KEY=VALUE`` texts (a later one wins), checked."""
    return check_fields(dict(parse_field(item) for item in items))


def compile_path_regex(text: str) -> re.Pattern[str] | None:
    """The compiled "fields from the path" pattern (None for "").

    Raises:
        MetadataError: it is not a regular expression, has no named group, or
            a group's name cannot be a field name.
    """
    if not text:
        return None
    try:
        pattern = re.compile(text)
    except re.error as exc:
        raise MetadataError(f"the path pattern is not a regular expression ({exc.msg}): "
                            "fix it") from exc
    if not pattern.groupindex:
        raise MetadataError("the path pattern has no named group: name the part to keep, "
                            "e.g. (?P<sample>[^/]+)/")
    for name in pattern.groupindex:
        problem = key_problem(name)
        if problem is not None:
            raise MetadataError(f"{problem}: rename the group")
    return pattern


def fields_from_path(pattern: re.Pattern[str] | None, relpath: str) -> Fields:
    """The named groups of ``pattern`` found in ``relpath`` (groups that matched nothing: none)."""
    if pattern is None:
        return {}
    found = pattern.search(relpath)
    if found is None:
        return {}
    return {k: v[:MAX_VALUE_CHARS] for k, v in found.groupdict().items() if v is not None}


def encode_header(fields: Mapping[str, str]) -> bytes:
    """The header value of ``fields``: compact UTF-8 JSON."""
    return json.dumps(dict(fields), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def to_json(fields: Mapping[str, str]) -> str:
    """``fields`` as JSON text, for the registry, receipts and sidecars ("" for none)."""
    return encode_header(fields).decode("utf-8") if fields else ""


def from_json(text: str) -> Fields:
    """The fields :func:`to_json` wrote (a bad or empty text: none)."""
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in data.items()}


Headers = (Sequence[tuple[str, bytes | str | None]] | Mapping[str, bytes | str | None]
           | None)
"""A consumed message's headers (confluent-kafka gives a list of pairs, or None)."""
ProducedHeaders = list[tuple[str, str | bytes | None]]
"""Headers as the producer takes them."""


def produced_headers(fields: Mapping[str, str]) -> ProducedHeaders | None:
    """The headers carrying ``fields`` on every chunk (None when there are none)."""
    return [(HEADER, encode_header(fields))] if fields else None


def header_value(headers: Headers) -> bytes | None:
    """The first :data:`HEADER` among a message's headers, or None."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
    for name, value in pairs:
        if name == HEADER:
            return value.encode("utf-8") if isinstance(value, str) else value
    return None


def decode_header(raw: bytes | None) -> Fields | str:
    """The fields in an untrusted header, escaped; or why it is ignored (one sentence).

    Never raises: oversized, non-UTF-8, non-JSON, nested or non-text content is
    refused whole, with a reason that is safe to log.
    """
    if raw is None:
        return {}
    if len(raw) > MAX_HEADER_BYTES:
        return f"its {len(raw)} bytes are more than {MAX_HEADER_BYTES}"
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return "it is not UTF-8 JSON"
    if not isinstance(data, dict):
        return "it is not a JSON object"
    if len(data) > MAX_FIELDS:
        return f"it has more than {MAX_FIELDS} fields"
    fields: Fields = {}
    for key, value in data.items():
        if not isinstance(value, str):
            return f"the field '{escaped(key, 40)}' is not text"
        if len(key) > MAX_KEY_CHARS or len(value) > MAX_VALUE_CHARS:
            return f"the field '{escaped(key, 40)}' is too long"
        fields[escaped(key, None)] = escaped(value, None)
    return fields


@dataclass
class FolderMetadata:
    """The fields a watched folder sends with each file, and its current sample.

    Thread-safe: the sample is set from the GUI's control thread while the
    uploader's workers read it.

    Attributes:
        fixed: fields sent with every file.
        path_pattern: named groups found in the relative path become fields.
        sample: the current sample ("" for none), sent as :data:`SAMPLE_FIELD`.
        require_sample: files wait (see :meth:`for_file`) while no sample is set.
    """

    fixed: Fields = field(default_factory=dict)
    path_pattern: re.Pattern[str] | None = None
    sample: str = ""
    require_sample: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _listeners: list[Callable[[], None]] = field(default_factory=list, repr=False,
                                                 compare=False)

    @property
    def sends_anything(self) -> bool:
        """Whether any file may carry fields (or wait for a sample)."""
        return bool(self.fixed or self.path_pattern or self.sample or self.require_sample)

    def for_file(self, relpath: str) -> Fields | None:
        """The fields of ``relpath``: fixed, then from the path, then the sample.

        Returns:
            None while a sample is required and not set: the file waits.
        """
        with self._lock:
            sample = self.sample
        if self.require_sample and not sample:
            return None
        fields = dict(self.fixed)
        from_path = fields_from_path(self.path_pattern, relpath)
        fields.update(from_path)
        if sample:
            fields[SAMPLE_FIELD] = sample
        if len(encode_header(fields)) > MAX_HEADER_BYTES or len(fields) > MAX_FIELDS:
            log.warning("the fields from the path of %s make the information too large; they "
                        "are left out", escaped(relpath))
            fields = dict(self.fixed)
            if sample:
                fields[SAMPLE_FIELD] = sample
        return fields

    def set_sample(self, sample: str) -> None:
        """Set the current sample ("" for none); files waiting for one go if one is set."""
        with self._lock:
            changed = sample != self.sample
            self.sample = sample
            listeners = list(self._listeners)
        if changed and sample:
            for listener in listeners:
                listener()

    def on_sample(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (in the setter's thread) when a sample is set."""
        with self._lock:
            self._listeners.append(listener)
