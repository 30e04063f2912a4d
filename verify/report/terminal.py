"""Terminal rendering of `verify diff` and `verify check` results, and of a diff's progress."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from verify.engine.progress import ProgressEvent, Stopping
from verify.report.explanations import summary_lines
from verify.report.text import VERDICT_LABEL, pct
from verify.results.summary import RunResult

if TYPE_CHECKING:
    from verify.engine.check import CheckResult

_SEVERITY = {"block": 0, "warn": 1, "accept": 2}  # blocking rules first


def render_diff(result: RunResult, fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps(result.to_dict(), indent=2)
    lines = []
    for name, e in result.entities.items():
        if e.segments_failed or result.status != "complete":
            verdict = "incomplete"  # segments failed or not run: a clean count proves nothing
        elif e.blocking_rows:
            verdict = "block"
        else:
            verdict = "warn" if e.warning_rows else "clean"
        lines.append(
            f"{name}: {e.compared:,} rows compared ({e.rows_old:,} old, {e.rows_new:,} new) "
            f"- {VERDICT_LABEL[verdict]}, blocking rate {pct(e.blocking_rate)}"
        )
        details = [
            ("missing in new", e.missing_in_new),
            ("extra in new", e.extra_in_new),
            ("duplicate keys", e.duplicate_keys),
            ("rows with differing values", e.value_mismatch_rows),
            ("left out, changed just now", e.skipped_unsettled),
        ]
        for label, n in details:
            if n:
                lines.append(f"    {label:<28}{n:>10,}")
        if e.by_rule:
            lines.append("    by rule:")
        rules = sorted(
            e.by_rule.items(), key=lambda kv: (_SEVERITY.get(kv[1].severity, 0), -kv[1].rows, kv[0])
        )
        width = max((len(rule) for rule in e.by_rule), default=0)
        for rule, rc in rules:
            extra = [str(v) for v in (rc.owner, rc.ticket) if v]
            if rc.expired:
                extra.append(f"EXPIRED {rc.expires}")
            tail = f"  ({', '.join(extra)})" if extra else ""
            label = f"[{rc.severity}]"
            lines.append(f"      {label:<9}{rule:<{width}}{rc.rows:>10,} rows  {rc.cells:>8,} cells{tail}")
        if e.by_rule:
            lines.append(
                f"    rows by worst severity: {e.blocking_rows:,} block, {e.warning_rows:,} warn, "
                f"{e.accepted_rows:,} accept"
            )
        if e.by_column:
            lines.append("    by column:")
        for col, n in e.by_column.items():
            lines.append(f"      {col:<28}{n:>10,} cells")
        if e.segments_failed:
            lines.append(f"    segments failed: {e.segments_failed} of {e.segments + e.segments_failed}")
        lines.extend(unpaired_lines(e.unpaired_columns))
    lines += summary_lines(result.explanations)
    for note in result.notes:
        lines.append(f"note: {note}")
    for failure in result.failures:
        lines.append(f"failed: {failure}")
    status = {"complete": "complete", "partial": "PARTIAL (some segments failed)", "failed": "FAILED"}[
        result.status
    ]
    lines.append(
        f"run {status} in {result.seconds:.1f}s; {result.blocking_rows:,} blocking rows; "
        f"details in {result.run_dir}"
    )
    if result.status == "partial":
        lines.append(
            f"finish it, once the cause is fixed, with verify diff --resume {result.run_dir} "
            "--old URL --new URL"
        )
    return "\n".join(lines)


def unpaired_lines(unpaired: Mapping[str, Sequence[str]]) -> list[str]:
    """The columns "*" left uncompared, a side's own names: renamed ones need a `columns:` entry."""
    return [
        f"    not compared, only on the {side} side: {', '.join(cols)} "
        "(map them under columns:, or ignore them)"
        for side, cols in unpaired.items()
    ]


def render_check(result: CheckResult) -> str:
    """Each entity's plan: key, canonical types, segments, checksums and what to know."""
    lines = []
    for p in result.entities:
        cols = ", ".join(f"{name} {t}" for name, t in p.types.items())
        lines.append(
            f"{p.name}: ok - key ({', '.join(p.keys)}), {len(p.checks)} compared "
            f"columns, {len(p.segments)} segment(s) on "
            f"{p.partition or 'no partition column'}"
        )
        lines.append(f"    canonical: {cols}")
        if p.checksum is not None:
            lines.append("    checksums: yes (--algorithm checksum summarizes key ranges in SQL)")
        else:
            lines.append("    checksums: no, read as rows, because:")
            lines.extend(f"      {why}" for why in p.checksum_notes)
        for note in (*p.type_notes, *p.notes):
            lines.append(f"    note: {note}")
        lines.extend(unpaired_lines(p.unpaired))
    return "\n".join(lines)


class ProgressDisplay:
    """Draws a diff's progress events on stderr: where `bar` (stderr is a terminal), a one-line
    progress bar (segments, rows per second, ETA); always, on Ctrl-C, what verify waits for."""

    WIDTH = 24

    def __init__(self, bar: bool, clock: Callable[[], float] = time.monotonic) -> None:
        self.bar, self.clock = bar, clock
        self.start = clock()

    def __call__(self, event: ProgressEvent) -> None:
        if isinstance(event, Stopping):
            # Why verify does not stop at once: the segments in flight finish first, so that
            # each is written whole and `--resume` can count on it.
            self._write(
                f"\nstopping: waiting for the {event.in_flight} segment(s) being read to finish (they are "
                "kept, and --resume reads the rest)\n"
            )
        elif not self.bar or event.total == 0:
            return
        elif event.ended:
            self._write("\n")
        elif event.done == 0:
            self.start = self.clock()  # the reads start: rates and ETA count from here
        else:
            elapsed = max(self.clock() - self.start, 1e-9)
            rate = event.rows / elapsed
            eta = elapsed / event.done * (event.total - event.done)
            filled = int(self.WIDTH * event.done / event.total)
            self._write(
                f"\r[{'#' * filled}{'.' * (self.WIDTH - filled)}] {event.done}/{event.total} "
                f"segments  {rate:,.0f} rows/s  ETA {eta:4.0f}s "
            )

    @staticmethod
    def _write(text: str) -> None:
        sys.stderr.write(text)
        sys.stderr.flush()
