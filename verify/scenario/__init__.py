"""Scenarios: realistic migrations with planted defects and their ground truth."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from verify.errors import SourceError, UsageError
from verify.sources.dialects import dialect_for
from verify.sources.urls import SourceURL

SCENARIOS = ("dfp_to_f1",)
OLD_FAMILIES = ("mysql", "sqlite")
NEW_FAMILIES = ("postgres", "sqlite")


@dataclass(frozen=True)
class BuildResult:
    """What a scenario build loaded, planted and wrote."""

    name: str
    old_url: str  # masked
    new_url: str  # masked
    rows: dict[str, dict[str, int]]
    planted: dict[str, int]
    truth_path: str
    seconds: float
    rates: dict[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        lines = [f"scenario {self.name} built in {self.seconds:.1f}s"]
        for side, url in (("old", self.old_url), ("new", self.new_url)):
            counts = ", ".join(f"{t} {n:,}" for t, n in self.rows[side].items())
            lines.append(f"  {side} {url}: {counts}")
        lines.append(
            "  planted defects: " + ", ".join(f"{name} {n:,}" for name, n in self.planted.items() if n)
        )
        lines.append(f"  ground truth: {self.truth_path}")
        return "\n".join(lines)


def parse_rates(items: tuple[str, ...] | list[str]) -> dict[str, float]:
    """Defect rates: the defaults, overridden by DEFECT=RATE items ('all=RATE' sets every one)."""
    from verify.scenario.dfp_to_f1 import DEFECTS

    rates = {name: d.rate for name, d in DEFECTS.items()}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--rate {item!r} must be DEFECT=RATE, e.g. --rate dropped=0.001")
        try:
            rate = float(value)
        except ValueError:
            raise UsageError(f"--rate {item}: {value!r} is not a number") from None
        if not 0 <= rate <= 1:
            raise UsageError(f"--rate {item}: a rate is a fraction between 0 and 1")
        if name == "all":
            rates = dict.fromkeys(rates, rate)
        elif name in rates:
            rates[name] = rate
        else:
            raise UsageError(f"--rate {item}: unknown defect '{name}'; defects: {', '.join(rates)} (or all)")
    if sum(r for n, r in rates.items() if DEFECTS[n].entity == "line_item") > 1:
        raise UsageError("the line item defect rates add up to more than 1: each row carries one at most")
    return rates


def default_truth_path(name: str, new: SourceURL) -> str:
    if new.sqlite_path not in (None, "", ":memory:"):
        return f"{new.sqlite_path}.truth.parquet"
    return f"{name}-truth.parquet"


def build(
    name: str,
    *,
    old_url: str,
    new_url: str,
    rows: int,
    seed: int,
    truth_path: str | None = None,
    rates: tuple[str, ...] | list[str] = (),
) -> BuildResult:
    """Generate a scenario, load the old store and the migrated new store, write the truth."""
    from verify.scenario import dfp_to_f1
    from verify.scenario.load import load

    if name not in SCENARIOS:
        raise UsageError(f"unknown scenario '{name}'; scenarios: {', '.join(SCENARIOS)}")
    old, new = SourceURL.parse(old_url, "old"), SourceURL.parse(new_url, "new")
    for url, side, allowed in ((old, "old", OLD_FAMILIES), (new, "new", NEW_FAMILIES)):
        if dialect_for(url).family not in allowed:
            raise SourceError(
                f"the {name} scenario cannot load its {side} store into "
                f"{url.backend} ({url.masked}); use one of: {', '.join(allowed)}",
                url.masked,
            )
    parsed = parse_rates(rates)
    start = time.monotonic()
    scenario = dfp_to_f1.generate(rows, seed, parsed)
    with ThreadPoolExecutor(2) as pool:  # each side waits on its own server
        jobs = [
            pool.submit(load, old, name, "old", scenario.old),
            pool.submit(load, new, name, "new", scenario.new),
        ]
        for job in jobs:
            job.result()
    truth = truth_path or default_truth_path(name, new)
    if os.path.dirname(truth):
        os.makedirs(os.path.dirname(truth), exist_ok=True)
    tmp = f"{truth}.tmp-{os.getpid()}"
    scenario.truth.write_parquet(tmp)
    _set_metadata(
        tmp,
        {
            "scenario": name,
            "seed": str(seed),
            "rows": str(rows),
            "rates": ",".join(f"{k}={v}" for k, v in parsed.items()),
        },
    )
    os.replace(tmp, truth)
    return BuildResult(
        name=name,
        old_url=old.masked,
        new_url=new.masked,
        rows={
            "old": {t: df.height for t, df in scenario.old.items()},
            "new": {t: df.height for t, df in scenario.new.items()},
        },
        planted=scenario.planted,
        truth_path=truth,
        seconds=time.monotonic() - start,
        rates=parsed,
    )


def _set_metadata(path: str, meta: dict[str, str]) -> None:
    """Keep seed, rows and rates in the truth file's own metadata."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    table = table.replace_schema_metadata(
        {**(table.schema.metadata or {}), **{k.encode(): v.encode() for k, v in meta.items()}}
    )
    pq.write_table(table, path)
