"""`verify diff --only-previous-mismatches RUN`: re-check only the keys that differed in RUN.

The keys come from RUN's mismatch parts. Each entity keeps only the segments that hold one
of them; an integer partition column is narrowed in SQL with `IN (...)` lists of at most
`IN_LIMIT` values, and after canonicalization a semi-join on the whole key keeps exactly the
keys asked for (so counts and rates are over those keys only).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import polars as pl

from verify.engine.plan import EntityPlan
from verify.engine.segments import Segment
from verify.errors import RunDirError, UsageError
from verify.results.history import StoredRun, read_run

IN_LIMIT = 1000  # partition values per segment's IN list


def previous_keys(run_dir: str, plans: list[EntityPlan]) -> tuple[dict[str, pl.DataFrame], StoredRun]:
    """The distinct keys that differed in `run_dir`, per planned entity (empty where none did)."""
    run = read_run(run_dir)
    if run.status not in ("complete", "partial"):
        raise RunDirError(
            f"--only-previous-mismatches {run_dir}: that run is {run.status}, so its mismatches are "
            "not known; give a complete run"
        )
    out = {}
    for plan in plans:
        keys = list(plan.keys)
        stored = run.key_columns(plan.name)
        if stored is not None and stored != keys:
            raise UsageError(
                f"--only-previous-mismatches {run_dir}: entity {plan.name} has the key "
                f"({', '.join(stored)}) there and ({', '.join(keys)}) in this mapping; "
                "re-check with the mapping of that run"
            )
        parts = run.parts(plan.name)
        if not parts:
            out[plan.name] = pl.DataFrame()
            continue
        try:
            out[plan.name] = pl.scan_parquet(parts).select(keys).unique().collect(engine="streaming")
        except Exception as exc:  # noqa: BLE001 - a corrupt part, whatever Polars raises
            raise RunDirError(
                f"--only-previous-mismatches {run_dir}: cannot read the mismatch parts of "
                f"{plan.name} ({exc}); give another run"
            ) from None
    return out, run


def restrict_plan(plan: EntityPlan, keys: pl.DataFrame) -> EntityPlan:
    """The plan with only the segments that hold one of `keys`, each carrying its keys."""
    if keys.is_empty():
        return dataclasses.replace(plan, segments=())
    part = plan.partition
    in_sql = part is not None and not plan.queries["old"].partition_bytes
    segments: list[Segment] = []
    for seg in plan.segments:
        inside = keys
        if part is not None:
            if seg.lo is not None:
                inside = inside.filter(pl.col(part) >= seg.lo)
            if seg.hi is not None:
                inside = inside.filter(pl.col(part) < seg.hi)
        if inside.is_empty():
            continue
        if not in_sql:
            segments.append(dataclasses.replace(seg, index=len(segments), keys=inside))
            continue
        assert part is not None
        values = inside.get_column(part).drop_nulls().unique().sort().to_list()
        nulls = inside.filter(pl.col(part).is_null())
        for start in range(0, len(values), IN_LIMIT):
            chunk = tuple(values[start : start + IN_LIMIT])
            chunk_keys = inside.filter(pl.col(part).is_in(list(chunk)))
            segments.append(dataclasses.replace(seg, index=len(segments), values=chunk, keys=chunk_keys))
        if not nulls.is_empty():  # NULL partition values cannot be listed in IN: read the range
            segments.append(dataclasses.replace(seg, index=len(segments), keys=nulls))
    return dataclasses.replace(plan, segments=tuple(segments))


def only_keys(df: pl.DataFrame, keys: Any, key_columns: tuple[str, ...]) -> pl.DataFrame:
    """The rows of a canonical frame whose key is one of `keys` (NULL matching NULL)."""
    cols = list(key_columns)
    wanted = keys.select(cols).cast({c: df.schema[c] for c in cols}, strict=False)
    return df.join(wanted, on=cols, how="semi", nulls_equal=True)
