"""Integration tests: hostile and malformed messages against a real broker and Downloader.

All cases go into ONE single-partition topic and are consumed by ONE Downloader
(a group join costs seconds), in a module-scoped scenario. The bad messages come
first, then the good files; once the good files have arrived every bad one has
been handled. Each case is then checked by its own parametrized test, so an
engine bug shows up as one failing (or xfail) case rather than hiding the rest.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import msgpack
import pytest
from helpers import Recorder, chunks_of, produce_chunks, produce_raw, tree_files, wait_until

from openmsi_gui.engine import admin, wire
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.downloader import Downloader, temp_name
from openmsi_gui.engine.events import EventBus, FileCompleted, FileFailed
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.registry import Registry

Message = tuple[str | bytes, bytes | None]


def key_of(chunk: wire.Chunk) -> str:
    return wire.make_key(chunk.subdir, chunk.filename, chunk.chunk_i, chunk.n_chunks)


def msgs(chunks: list[wire.Chunk]) -> list[Message]:
    return [(key_of(c), wire.encode_chunk(c)) for c in chunks]


def blob(tag: str, size: int) -> bytes:
    """Deterministic, distinct content of ``size`` bytes."""
    out = b""
    counter = 0
    while len(out) < size:
        out += hashlib.sha512(f"{tag}-{counter}".encode()).digest()
        counter += 1
    return out[:size]


def renamed(chunks: list[wire.Chunk], subdir: str, filename: str) -> list[wire.Chunk]:
    return [dataclasses.replace(c, subdir=subdir, filename=filename) for c in chunks]


@dataclasses.dataclass
class Case:
    """One hostile file or message, and what the Downloader must report for it."""

    id: str
    reported_as: str            # FileFailed.relpath: the chunk's relpath, or the message key
    keyword: str                # must appear in FileFailed.reason
    messages: list[Message]
    file_hash: bytes | None = None  # for the temp-file check, when the path is valid
    outside: list[Path] = dataclasses.field(default_factory=list)  # must never exist
    after_good: bool = False    # produced after the good files instead of before
    # Other FileFailed.relpath values that are just as right (e.g. a bad chunk may be
    # rejected as a message, keyed by its Kafka key, or fail its file, by relpath).
    also_reported_as: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.reported_as, *self.also_reported_as)


@dataclasses.dataclass
class Scenario:
    root: Path
    dest: Path
    outside_dir: Path
    victim: Path
    cases: dict[str, Case]
    good: dict[str, bytes]
    planted: dict[str, bytes]
    before: set[str]
    events: Recorder
    downloader: Downloader
    registry: Registry
    topic: str


def build_cases(root: Path) -> dict[str, Case]:
    cases: list[Case] = []

    # -- names that escape or that some OS cannot store ----------------------------
    data = blob("escape", 2000)
    cases.append(Case("dotdot-subdir", "../escape.txt", "unsafe file name",
                      msgs(chunks_of(data, "../escape.txt")), outside=[root / "escape.txt"]))
    data = blob("dotdot-filename", 100)
    cases.append(Case("dotdot-filename", "../x.txt", "unsafe file name",
                      msgs(renamed(chunks_of(data, "x.txt"), "", "../x.txt")),
                      outside=[root / "x.txt"]))
    data = blob("deep", 100)
    cases.append(Case("dotdot-deep", "a/../../escape_deep.txt", "unsafe file name",
                      msgs(renamed(chunks_of(data, "x"), "a", "../../escape_deep.txt")),
                      outside=[root / "escape_deep.txt"]))
    data = blob("append", 100)
    cases.append(Case("dotdot-filename-append", "x/../../escape_append.txt", "unsafe file name",
                      msgs([dataclasses.replace(c, filename="x",
                                                filename_append="/../../escape_append.txt")
                            for c in chunks_of(data, "x")]),
                      outside=[root / "escape_append.txt"]))
    data = blob("abs", 1500)
    absolute = root / "abs_target.txt"
    cases.append(Case("absolute-subdir", str(absolute), "absolute",
                      msgs(chunks_of(data, str(absolute))), outside=[absolute]))
    data = blob("drive", 100)
    cases.append(Case("drive-letter", "C:/drive.txt", "drive letter",
                      msgs(chunks_of(data, "C:/drive.txt"))))
    data = blob("unc", 100)
    cases.append(Case("unc", "\\\\srv\\share/unc.txt", "absolute",
                      msgs(chunks_of(data, "\\\\srv\\share/unc.txt"))))
    data = blob("nul", 100)
    cases.append(Case("nul-in-name", "nul\\x00byte.txt", "forbidden",
                      msgs(chunks_of(data, "nul\x00byte.txt"))))
    data = blob("con", 100)
    cases.append(Case("reserved-name", "CON.txt", "reserved", msgs(chunks_of(data, "CON.txt"))))
    data = blob("symlink-dir", 100)
    cases.append(Case("symlink-dir", "link/evil.txt", "outside the destination",
                      msgs(chunks_of(data, "link/evil.txt")),
                      outside=[root / "outside" / "evil.txt"]))
    data = blob("symlink-file", 100)
    cases.append(Case("symlink-file", "planted.txt", "symbolic link",
                      msgs(chunks_of(data, "planted.txt"))))
    data = blob("under-a-file", 100)
    cases.append(Case("parent-is-a-file", "plainfile/inner.txt", "cannot write",
                      msgs(chunks_of(data, "plainfile/inner.txt"))))
    data = blob("target-is-dir", 100)
    cases.append(Case("target-is-a-folder", "isdir.txt", "folder with the same name",
                      msgs(chunks_of(data, "isdir.txt")),
                      file_hash=hashlib.sha512(data).digest()))

    # -- content that does not add up -------------------------------------------
    data = blob("tampered", 300)
    (chunk,) = chunks_of(data, "tampered.txt")
    forged = dataclasses.replace(chunk, data=b"X" + data[1:])  # hashes computed before tampering
    cases.append(Case("bad-chunk-hash", "tampered.txt", "SHA-512", msgs([forged]),
                      file_hash=chunk.file_hash, also_reported_as=(key_of(forged),)))

    data = blob("tampered-multi", 3000)
    c1, c2, c3 = chunks_of(data, "tampered_multi.bin")
    c2 = dataclasses.replace(c2, data=bytes(len(c2.data)))
    cases.append(Case("bad-chunk-hash-multi", "tampered_multi.bin", "SHA-512",
                      msgs([c1, c2, c3]), file_hash=c1.file_hash,
                      also_reported_as=(key_of(c2),)))

    data = blob("file-hash", 2500)
    wrong = hashlib.sha512(b"some other content").digest()
    chunks = [dataclasses.replace(c, file_hash=wrong) for c in chunks_of(data, "filehash.bin")]
    cases.append(Case("file-hash-mismatch", "filehash.bin", "does not match its SHA-512",
                      msgs(chunks), file_hash=wrong))

    data = blob("count", 3000)
    c1, c2, c3 = chunks_of(data, "count.bin")
    cases.append(Case("inconsistent-count", "count.bin", "inconsistent chunk count",
                      msgs([c1, dataclasses.replace(c2, n_chunks=4), c3]),
                      file_hash=c1.file_hash))

    data = blob("offsets", 2048)
    c1, c2 = chunks_of(data, "offsets.bin")
    cases.append(Case("inconsistent-offsets", "offsets.bin", "different offsets",
                      msgs([c1, dataclasses.replace(c1, offset=5), c2]), file_hash=c1.file_hash))

    data = blob("gap", 2048)
    c1, c2 = chunks_of(data, "gap.bin")
    cases.append(Case("offset-gap", "gap.bin", "do not tile",
                      msgs([c1, dataclasses.replace(c2, offset=4096)]), file_hash=c1.file_hash))

    data = blob("overlap", 2048)
    c1, c2 = chunks_of(data, "overlap.bin")
    cases.append(Case("offset-overlap", "overlap.bin", "do not tile",
                      msgs([c1, dataclasses.replace(c2, offset=512)]), file_hash=c1.file_hash))

    data = blob("huge", 100)
    (chunk,) = chunks_of(data, "huge.bin")
    cases.append(Case("huge-offset", "huge.bin", "limit",
                      msgs([dataclasses.replace(chunk, offset=2**50)]),
                      file_hash=chunk.file_hash))

    # -- values that are not chunks at all ---------------------------------------
    cases.append(Case("garbage", "garbage_chunk_1_of_1", "not msgpack",
                      [("garbage_chunk_1_of_1", b"\xc1\xc1 this is not msgpack \xff")]))
    cases.append(Case("empty-value", "tombstone_empty", "empty", [("tombstone_empty", b"")]))
    cases.append(Case("null-value", "tombstone_null", "empty", [("tombstone_null", None)]))
    cases.append(Case("dict-value", "dict_chunk_1_of_1", "list of 9 or 10",
                      [("dict_chunk_1_of_1", msgpack.packb({"filename": "dict.txt"}))]))
    eight = msgpack.packb(msgpack.unpackb(msgs(chunks_of(b"x", "eight.txt"))[0][1])[:8])
    cases.append(Case("eight-fields", "eight_chunk_1_of_1", "list of 9 or 10",
                      [("eight_chunk_1_of_1", eight)]))

    # -- a forged newer generation of a file that already arrived: must not replace it
    data = blob("forged-newer", 5000)
    wrong = hashlib.sha512(b"not this content").digest()
    chunks = [dataclasses.replace(c, file_hash=wrong, file_mtime=c.file_mtime + 100)
              for c in chunks_of(data, "after/the/bad/ones.txt")]
    cases.append(Case("forged-newer-generation", "after/the/bad/ones.txt",
                      "does not match its SHA-512", msgs(chunks), file_hash=wrong,
                      after_good=True))

    by_id = {case.id: case for case in cases}
    assert len(by_id) == len(cases)
    return by_id


def nine_field_messages(data: bytes, relpath: str) -> list[Message]:
    out: list[Message] = []
    for c in chunks_of(data, relpath):
        fields = [c.filename, c.file_hash, c.chunk_hash, c.offset, c.chunk_i, c.n_chunks,
                  c.subdir, c.filename_append, c.data]
        out.append((key_of(c), msgpack.packb(fields, use_bin_type=True)))
    return out


def snapshot(root: Path, skip: set[str]) -> set[str]:
    """Every path under ``root`` except the skipped top-level entries."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if p.relative_to(root).parts[0] not in skip}


SKIP = {"dest", "registry"}


@pytest.fixture(scope="module")
def scenario(broker: EmbeddedBroker,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    """Produce every hostile case plus good files to one topic, consume it once."""
    config = KafkaConfig.for_bootstrap(broker.bootstrap_servers)
    topic = f"t-hostile-{uuid.uuid4().hex[:12]}"
    admin.create_topic(config, topic, 1)

    root = tmp_path_factory.mktemp("hostile")
    dest = root / "dest"
    dest.mkdir()
    outside_dir = root / "outside"
    outside_dir.mkdir()
    victim = root / "victim.txt"
    victim.write_bytes(b"must not change")
    (dest / "link").symlink_to(outside_dir, target_is_directory=True)
    (dest / "planted.txt").symlink_to(victim)
    (dest / "isdir.txt").mkdir()
    (dest / "plainfile").write_bytes(b"a regular file where a folder is expected")
    planted = {"plainfile": (dest / "plainfile").read_bytes(),
               "planted.txt": victim.read_bytes()}  # tree_files follows the file symlink

    cases = build_cases(root)

    good = {
        "interleaved.bin": blob("interleaved", 3 * 1024 + 17),
        "shuffled/dup.bin": blob("shuffled", 4 * 1024),
        "nine.txt": blob("nine", 1500),
        "empty.txt": b"",
        "after/the/bad/ones.txt": blob("after", 5000),
        "ünïcödé name.txt": blob("unicode", 10),
    }
    interleaved = msgs(chunks_of(good["interleaved.bin"], "interleaved.bin"))
    s1, s2, s3, s4 = msgs(chunks_of(good["shuffled/dup.bin"], "shuffled/dup.bin"))
    messages: list[Message] = [interleaved[0], s3]  # two good files open before the attack
    for case in cases.values():
        if not case.after_good:
            messages += case.messages
    messages += [
        s1, s3, s4, s1, *interleaved[1:], s2, s4, s2,  # duplicates and disorder
        *nine_field_messages(good["nine.txt"], "nine.txt"),
        *msgs(chunks_of(good["empty.txt"], "empty.txt")),
        *msgs(chunks_of(good["after/the/bad/ones.txt"], "after/the/bad/ones.txt")),
        *msgs(chunks_of(good["ünïcödé name.txt"], "ünïcödé name.txt")),
    ]
    for case in cases.values():
        if case.after_good:
            messages += case.messages
    produce_raw(config, topic, messages)  # type: ignore[arg-type]  # None = tombstone

    before = snapshot(root, SKIP)
    bus = EventBus()
    events = Recorder()
    bus.subscribe(events)
    registry = Registry(root / "registry" / "registry.sqlite3")
    downloader = Downloader(config, topic, dest, bus, registry,
                            group_id=f"hostile-{uuid.uuid4().hex[:8]}")
    try:
        downloader.start()
        # Do not fail here: a dead or stuck downloader should show up in the
        # individual tests below (test_downloader_survived names the error).
        with contextlib.suppress(pytest.fail.Exception):
            wait_until(lambda: downloader.files_received >= len(good) or downloader.error,
                       timeout=60, message="the good files")
            wait_until(lambda: len(events.of(FileFailed)) >= len(cases) or downloader.error,
                       timeout=10, message="a FileFailed event per hostile case")
        time.sleep(0.3)  # let any (unexpected) extra events arrive
    finally:
        downloader.stop()
    try:
        yield Scenario(root, dest, outside_dir, victim, cases, good, planted, before, events,
                       downloader, registry, topic)
    finally:
        registry.close()


CASE_IDS = list(build_cases(Path("/nonexistent")))


def failures_for(scenario: Scenario, case: Case) -> list[FileFailed]:
    return [e for e in scenario.events.of(FileFailed)
            if isinstance(e, FileFailed) and e.relpath in case.names]


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_hostile_case_fails_with_reason(scenario: Scenario, case_id: str) -> None:
    case = scenario.cases[case_id]
    failed = failures_for(scenario, case)
    assert len(failed) == 1, [e.reason for e in failed]
    assert case.keyword in failed[0].reason, failed[0].reason
    completed = [e for e in scenario.events.of(FileCompleted)
                 if isinstance(e, FileCompleted) and e.relpath in case.names
                 and e.relpath not in scenario.good]
    assert not completed


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_hostile_case_leaves_nothing_behind(scenario: Scenario, case_id: str) -> None:
    case = scenario.cases[case_id]
    for path in case.outside:
        assert not os.path.lexists(path), path
    if case.file_hash is not None:
        target = Path(os.path.realpath(scenario.dest)) / case.reported_as
        temp = temp_name(target, case.file_hash)
        assert not temp.exists(), temp
        if case.reported_as in scenario.good:
            assert target.read_bytes() == scenario.good[case.reported_as]
        else:
            assert not target.is_file(), target


@pytest.mark.parametrize("case_id", [
    c for c in CASE_IDS
    if c not in ("garbage", "empty-value", "null-value", "dict-value", "eight-fields")])
def test_hostile_case_not_left_receiving_in_registry(scenario: Scenario, case_id: str) -> None:
    # A failed generation must not stay "receiving" (the history would show it
    # in progress forever, and a restart would try to resume it).
    case = scenario.cases[case_id]
    value = next(v for _, v in case.messages if v is not None)
    chunk = wire.decode_chunk(value, verify=False)
    record = scenario.registry.find_download(scenario.topic, scenario.downloader.group_id,
                                             str(scenario.dest), chunk.relpath, chunk.file_hash)
    assert record is None or record.status == "failed", record


def test_no_file_written_outside_dest(scenario: Scenario) -> None:
    assert snapshot(scenario.root, SKIP) == scenario.before
    assert list(scenario.outside_dir.iterdir()) == []
    assert scenario.victim.read_bytes() == b"must not change"
    for name in ("escape.txt", "x.txt", "escape_deep.txt", "escape_append.txt", "abs_target.txt",
                 "evil.txt"):
        assert not list(scenario.root.parent.rglob(name)), name


def test_no_partial_files_left(scenario: Scenario) -> None:
    leftovers = [p for p in scenario.root.rglob("*") if p.name.startswith(".openmsi-")]
    assert leftovers == []


def test_dest_holds_exactly_the_good_files(scenario: Scenario) -> None:
    assert tree_files(scenario.dest) == {**scenario.good, **scenario.planted}
    assert (scenario.dest / "link").is_symlink()
    assert (scenario.dest / "planted.txt").is_symlink()
    assert (scenario.dest / "isdir.txt").is_dir()
    assert list((scenario.dest / "isdir.txt").iterdir()) == []


@pytest.mark.parametrize("relpath", ["interleaved.bin", "shuffled/dup.bin", "nine.txt",
                                     "empty.txt", "after/the/bad/ones.txt", "ünïcödé name.txt"])
def test_good_file_arrives_byte_exact(scenario: Scenario, relpath: str) -> None:
    assert (scenario.dest / relpath).read_bytes() == scenario.good[relpath]
    completed = [e for e in scenario.events.of(FileCompleted)
                 if isinstance(e, FileCompleted) and e.relpath == relpath]
    assert len(completed) == 1
    assert completed[0].size == len(scenario.good[relpath])
    assert completed[0].sha512_hex == hashlib.sha512(scenario.good[relpath]).hexdigest()


def test_downloader_survived(scenario: Scenario) -> None:
    assert scenario.downloader.error is None
    assert scenario.downloader.files_received == len(scenario.good)
    assert scenario.downloader.incomplete() == []


def test_no_unexpected_failures(scenario: Scenario) -> None:
    expected = {name for case in scenario.cases.values() for name in case.names}
    unexpected = [(e.relpath, e.reason) for e in scenario.events.of(FileFailed)
                  if isinstance(e, FileFailed) and e.relpath not in expected]
    assert unexpected == []


def test_undecodable_messages_counted(scenario: Scenario) -> None:
    rejected = [e for e in scenario.events.of(FileFailed)
                if isinstance(e, FileFailed) and e.reason.startswith("rejected message")]
    assert {e.relpath for e in rejected} >= {
        "garbage_chunk_1_of_1", "tombstone_empty", "tombstone_null", "dict_chunk_1_of_1",
        "eight_chunk_1_of_1"}
    assert scenario.downloader.messages_rejected == len(rejected)



# -- a sender that names a file after another file's temporary file ----------------


def test_file_named_like_a_temp_file_cannot_replace_another_file(
        kafka_config: KafkaConfig, make_topic: Callable[..., str], bus: EventBus,
        recorder: Recorder, registry: Registry, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    good = blob("victim", 3 * 1024)
    forged = blob("forged", 3 * 1024)  # same size, so no truncation gives it away
    g1, g2, g3 = chunks_of(good, "victim.bin")
    temp = temp_name(Path(os.path.realpath(tmp_path)) / "dest" / "victim.bin", g1.file_hash)
    attack = chunks_of(forged, temp.name)  # a complete, self-consistent file
    sentinel = blob("sentinel", 10)
    topic = make_topic(1)
    produce_raw(kafka_config, topic, [
        *msgs([g1]), *msgs(attack), *msgs([g2, g3]), *msgs(chunks_of(sentinel, "sentinel.txt")),
    ])
    downloader = Downloader(kafka_config, topic, dest, bus, registry,
                            group_id=f"tempname-{uuid.uuid4().hex[:8]}")
    try:
        downloader.start()
        wait_until(lambda: (dest / "sentinel.txt").exists() or downloader.error, timeout=60,
                   message="the sentinel file")
    finally:
        downloader.stop()
    assert downloader.error is None
    # Whatever happens to the file named like a temp file, the one announced with
    # SHA-512(good) must either be exactly `good` or not be there at all.
    victim = dest / "victim.bin"
    if victim.exists():
        assert victim.read_bytes() == good
    for event in recorder.of(FileCompleted):
        assert isinstance(event, FileCompleted)
        if event.path and os.path.isfile(event.path) and event.relpath == "victim.bin":
            assert hashlib.sha512(Path(event.path).read_bytes()).hexdigest() == event.sha512_hex


def test_a_flood_of_unfinished_files_is_bounded(
        kafka_config: KafkaConfig, make_topic: Callable[..., str], bus: EventBus,
        registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from openmsi_gui.engine.download import receiving

    monkeypatch.setattr(receiving, "MAX_INCOMPLETE_FILES", 5)
    topic = make_topic(1)
    # 20 files that each claim 1000 chunks but send only one, then a good file.
    flood = [chunks_of(b"x" * 10, f"flood/{i}.bin")[0] for i in range(20)]
    flood = [wire.Chunk(c.filename, c.file_hash, c.chunk_hash, 0, 1, 1000, c.subdir, "",
                        c.data, c.file_mtime) for c in flood]
    good = chunks_of(b"good data" * 100, "good.txt")
    produce_chunks(kafka_config, topic, flood + good)
    dest = tmp_path / "dest"
    downloader = Downloader(kafka_config, topic, dest, bus, registry, group_id="flood")
    downloader.start()
    try:
        wait_until(lambda: downloader.files_received == 1, message="the good file")
        assert len(downloader.incomplete()) <= 5
    finally:
        downloader.stop()
    assert (dest / "good.txt").read_bytes() == b"good data" * 100
