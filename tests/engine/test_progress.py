"""The progress a run tells `DiffOptions.on_progress`: segments read of the run's total and the
rows read by them, and on Ctrl-C how many segments in flight the executor waits for."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from verify.engine import executors
from verify.engine.progress import ProgressEvent, SegmentsRead, Stopping
from verify.engine.run import DiffOptions, Interrupted, run_diff

MAPPING = """version: 1
entities:
  items:
    old: {table: items}
    new: {table: items}
    key: [id]
    columns: {qty: {type: int}}
"""

ROWS = 40  # ids 1..40 old; new lacks id 40 (39 rows): 79 rows read in all
SEGMENT_ROWS = 10  # 4 segments


@pytest.fixture()
def stores(tmp_path: Path) -> tuple[str, str, str]:
    for name, rows in (("old", ROWS), ("new", ROWS - 1)):
        with sqlite3.connect(tmp_path / f"{name}.db") as c:
            c.execute("CREATE TABLE items (id INTEGER, qty INTEGER)")
            c.executemany("INSERT INTO items VALUES (?, ?)", [(i, i) for i in range(1, rows + 1)])
    (tmp_path / "m.yaml").write_text(MAPPING)
    return str(tmp_path / "m.yaml"), f"sqlite:///{tmp_path / 'old.db'}", f"sqlite:///{tmp_path / 'new.db'}"


@pytest.mark.parametrize("workers", [1, 3])
def test_the_callback_hears_each_segment_and_the_rows_read(stores, tmp_path, workers):
    mapping, old, new = stores
    events: list[ProgressEvent] = []
    result = run_diff(
        DiffOptions(
            mapping,
            old,
            new,
            out_dir=str(tmp_path / "run"),
            workers=workers,
            segment_rows=SEGMENT_ROWS,
            on_progress=events.append,
        )
    )
    assert result.status == "complete" and result.entities["items"].missing_in_new == 1
    total = result.entities["items"].segments
    assert total == 4
    assert events[0] == SegmentsRead(0, total, 0)  # the reads start
    steps = events[1:-1]
    assert [e.done for e in steps] == list(range(1, total + 1))
    assert all(isinstance(e, SegmentsRead) and e.total == total and not e.ended for e in steps)
    rows = [e.rows for e in steps]  # type: ignore[union-attr]
    assert rows == sorted(rows) and rows[-1] == 2 * ROWS - 1
    assert events[-1] == SegmentsRead(total, total, 2 * ROWS - 1, ended=True)


def test_a_failed_segment_is_not_read_and_a_resume_counts_only_what_it_reads(stores, tmp_path):
    """A segment that fails does not advance the count; the resume that reads it again counts
    only it (the segments finished earlier are in neither number)."""
    mapping, old, new = stores
    with sqlite3.connect(tmp_path / "old.db") as c:  # id 15, in the second segment, cannot be an int
        c.execute("UPDATE items SET qty = 'fifteen' WHERE id = 15")
    out = tmp_path / "run"
    events: list[ProgressEvent] = []
    first = run_diff(
        DiffOptions(mapping, old, new, out_dir=str(out), segment_rows=SEGMENT_ROWS, on_progress=events.append)
    )
    assert first.status == "partial"
    assert [(e.done, e.total, e.ended) for e in events] == [  # type: ignore[union-attr]
        (0, 4, False),
        (1, 4, False),
        (2, 4, False),
        (3, 4, False),
        (3, 4, True),
    ]
    with sqlite3.connect(tmp_path / "old.db") as c:
        c.execute("UPDATE items SET qty = 15 WHERE id = 15")
    events.clear()
    done = run_diff(DiffOptions(mapping, old, new, out_dir=str(out), resume=True, on_progress=events.append))
    assert done.status == "complete"
    assert events == [SegmentsRead(0, 1, 0), SegmentsRead(1, 1, 20), SegmentsRead(1, 1, 20, ended=True)]


def test_ctrl_c_tells_how_many_segments_in_flight_are_waited_for(monkeypatch):
    """The local pool of 3, stopped by Ctrl-C after its first segment, waits for the 3 segments
    then running and says so once through `on_stop` (the run turns it into a Stopping event)."""
    release = threading.Event()

    def segment(task: int) -> int:
        if task:  # the first finishes at once; the others run until released
            release.wait(10)
        return task

    monkeypatch.setattr(executors, "guarded", segment)
    told: list[int] = []

    def on_stop(in_flight: int) -> None:
        told.append(in_flight)
        release.set()  # the segments in flight finish

    pool = executors.make_executor("local", 3, on_stop=on_stop)
    running = pool.run([0, 1, 2, 3, 4])  # type: ignore[list-item]
    assert next(running)[0] == 0
    time.sleep(0.2)  # tasks 1, 2 and 3 are running; 4 waits for a thread
    with pytest.raises(KeyboardInterrupt):
        running.throw(KeyboardInterrupt)
    assert told == [3]


def test_ctrl_c_outside_the_executors_wait_still_waits_for_the_running(stores, tmp_path, monkeypatch):
    """Ctrl-C can land in the run's own loop (here: in the progress callback) rather than in
    the executor's wait for the next segment. The executor must still wait for the segments
    running and say so, so that the run's record counts every segment written."""
    mapping, old, new = stores
    real = executors.guarded

    def slow_but_the_first(task):  # 0 ends at once; 1 and 2 run at Ctrl-C, 3 waits for a thread
        if task.segment.index:
            time.sleep(0.5)
        return real(task)

    monkeypatch.setattr(executors, "guarded", slow_but_the_first)
    events: list[ProgressEvent] = []

    def hear(event: ProgressEvent) -> None:
        events.append(event)
        if isinstance(event, SegmentsRead) and event.done == 1 and not event.ended:
            raise KeyboardInterrupt

    out = tmp_path / "run"
    options = DiffOptions(
        mapping, old, new, out_dir=str(out), workers=2, segment_rows=SEGMENT_ROWS, on_progress=hear
    )
    with pytest.raises(Interrupted):
        run_diff(options)
    assert Stopping(2) in events
    records = sorted(out.glob("segments/*/*.json"))
    assert len(records) == 3  # segment 0, and the two that were running; segment 3 never started
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "partial" and run["segments"]["done"] == 3, run["segments"]
    time.sleep(0.7)
    assert sorted(out.glob("segments/*/*.json")) == records  # nothing is written after the run ended
