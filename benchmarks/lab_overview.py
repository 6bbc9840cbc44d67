"""What the lab overview's model costs with many programs: taking beats, rows, table text.

No broker, no Qt. ``--programs`` of ours beat every ``--interval`` seconds for
an hour and ``--extra`` minutes (simulated clock); :class:`LabOverview` takes
each beat and is asked for every row once per simulated ``--rows-every``
seconds, as the Lab view does each second. Prints the cost of one beat, of one
``rows()`` call (median and worst), of ``changes()``, of sorting the rows and of
the CLI's table text, plus the memory of the hour's sums.

    python benchmarks/lab_overview.py                   # 500 programs, 10 s beats
    python benchmarks/lab_overview.py --programs 2000 --interval 5
    python benchmarks/lab_overview.py --memory          # its peak memory (slower)
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
import tracemalloc

from openmsi_gui.app import lab_table
from openmsi_gui.app.lab import LabOverview
from openmsi_gui.engine.lab_wire import Counters, Heartbeat, ReportedState, ReportKind

T0 = dt.datetime(2026, 12, 6, 8, 0, tzinfo=dt.UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=500)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--extra", type=float, default=10.0, help="minutes after the hour")
    parser.add_argument("--rows-every", type=float, default=10.0,
                        help="simulated seconds between two rows() calls")
    parser.add_argument("--memory", action="store_true",
                        help="also trace the memory (slows everything down: a separate run)")
    args = parser.parse_args()

    beats = [Heartbeat(f"pc{i:04d}_watch", None, Counters(messages_produced=3,
                                                          bytes_produced=3 * 2**20, files=1),
                       interval=args.interval, host=f"pc{i:04d}", app_version="3.1.0",
                       kind=ReportKind.WATCH, job="raw", state=ReportedState.WORKING,
                       files_waiting=0, files_failed=0, free_bytes=2**40)
             for i in range(args.programs)]
    if args.memory:
        tracemalloc.start()
    overview = LabOverview()
    beat_seconds = 0.0
    n_beats = 0
    row_times: list[float] = []
    change_times: list[float] = []
    next_rows = 0.0
    end = 3600 + args.extra * 60
    second = 0.0
    while second <= end:
        seen = T0 + dt.timedelta(seconds=second)
        started = time.perf_counter()
        for beat in beats:
            overview.add_beat(beat, seen)
        beat_seconds += time.perf_counter() - started
        n_beats += len(beats)
        if second >= next_rows:
            started = time.perf_counter()
            rows = overview.rows(seen)
            row_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            overview.changes(seen)
            change_times.append(time.perf_counter() - started)
            next_rows = second + args.rows_every
        second += args.interval
    peak = tracemalloc.get_traced_memory()[1] if args.memory else 0
    tracemalloc.stop()
    now = T0 + dt.timedelta(seconds=end)
    started = time.perf_counter()
    rows = overview.rows(now)
    rows.sort(key=lambda row: lab_table.sort_key(row, lab_table.Column.BYTES_HOUR, now))
    sort_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    cells = [lab_table.cell_text(row, column, now) for row in rows for column in lab_table.Column]
    cells_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    lab_table.table_text(rows, now)
    table_ms = (time.perf_counter() - started) * 1000

    print(f"{args.programs} programs, a beat every {args.interval:g} s, "
          f"{end / 60:.0f} simulated minutes: {n_beats:,} beats")
    print(f"  add_beat:            {beat_seconds / n_beats * 1e6:.1f} µs per beat "
          f"({n_beats / beat_seconds:,.0f} beats/s)")
    print(f"  rows():              median {statistics.median(row_times) * 1000:.2f} ms, "
          f"worst {max(row_times) * 1000:.2f} ms ({len(row_times)} calls)")
    print(f"  changes():           median {statistics.median(change_times) * 1000:.2f} ms")
    print(f"  rows() + sort:       {sort_ms:.2f} ms;  every cell's text: {cells_ms:.2f} ms "
          f"({len(cells):,} cells);  CLI table text: {table_ms:.2f} ms")
    if args.memory:
        print(f"  peak memory while beating (tracemalloc): {peak / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
