"""The rows a run compares: a deterministic key-hashed sample, and a rollout stage's cohort.

The sample keeps a row when the hash of its canonical key is below `fraction` of the hash
range. The hash is the same on both sides and in every database, so the same keys are kept
every time for the same fraction and seed, and a row is never missing only because one side
sampled it out. Integer keys are hashed in the source's SQL (a 1% sample reads about 1% of
the rows); other keys after canonicalization, in Polars, by the same function.

    r(k)  = ((k mod M) + M) mod M                        an integer key column; other types:
                                                         blake2b of the canonical value, mod M
    h     = B(seed); then for each key column: h = ((h + r(k)) * A) mod M
    keep  = h < floor(fraction * M)

M = 2^31 - 1 (prime) and A < 2^31, so (h + r) * A < 2^63: no dialect overflows, and BIGINT
UNSIGNED keys above 2^63 reduce mod M first. A is M times the golden ratio's fraction
(Fibonacci hashing), which spreads consecutive keys evenly over the range.

A cohort is a SQL condition over canonical columns (the policy's `cohort` with the stage's
percentage for :percent), evaluated by Polars on both sides' canonical rows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from verify.errors import UsageError

if TYPE_CHECKING:
    import polars as pl

    from verify.sources.dialects import Dialect

M = 2_147_483_647
A = 1_327_217_885


@dataclass(frozen=True)
class Subset:
    """Which rows a run compares; the whole table when both are None."""

    fraction: float | None = None  # key-hashed sample, 0 < fraction < 1
    seed: int = 0
    stage: float | None = None  # the rollout stage whose cohort this is
    cohort: str | None = None  # SQL over canonical columns, percentage in place

    @property
    def threshold(self) -> int:
        return M if self.fraction is None else int(self.fraction * M)

    @property
    def offset(self) -> int:
        """B(seed): where the hash starts, so different seeds keep different keys."""
        digest = hashlib.blake2b(f"verify-sample:{self.seed}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") % M

    def options(self) -> dict[str, Any]:
        """What run.json records under `options`."""
        return {
            "sample": self.fraction,
            "seed": self.seed if self.fraction is not None else None,
            "stage": self.stage,
            "cohort": self.cohort,
        }

    def summary(self) -> dict[str, Any]:
        """What the run's summary records: the gate judges a sample on its confidence bound."""
        return {
            "sample": None if self.fraction is None else {"fraction": self.fraction, "seed": self.seed},
            "cohort": None if self.cohort is None else {"stage": self.stage, "expression": self.cohort},
        }


def make_subset(
    fraction: float | None, seed: int, stage: float | None, policy_path: str | None
) -> Subset | None:
    """The subset `verify diff --sample/--seed/--stage/--policy` asks for (None: every row)."""
    if (stage is None) != (policy_path is None):
        raise UsageError(
            "--stage and --policy go together: the policy's cohort says who stage PERCENT serves"
        )
    cohort = None
    if stage is not None and policy_path is not None:
        from verify.gate.policy import load_policy

        policy = load_policy(policy_path)
        policy.stage(stage)
        if policy.cohort is None:
            raise UsageError(
                f"{policy_path} has no 'cohort:', so stage {stage:g} serves no particular rows; "
                'add e.g. cohort: "advertiser_id % 100 < :percent", or diff without --stage'
            )
        cohort = policy.cohort_sql(stage)
    if fraction is not None and fraction >= 1:
        fraction = None
    if fraction is None and cohort is None:
        return None
    return Subset(fraction, seed, stage, cohort)


def sample_sql(subset: Subset, columns: list[str], dialect: Dialect) -> str | None:
    """The sample as a condition in a source's SQL over its integer key columns, or None."""
    if subset.fraction is None or not dialect.sample_in_sql:
        return None
    h = str(subset.offset)
    for col in columns:
        k = dialect.sample_key(col)
        r = f"(((COALESCE({k}, 0) % {M}) + {M}) % {M})"
        h = f"((({h}) + {r}) * {A}) % {M}"
    return f"{h} < {subset.threshold}"


def restrict(frame: pl.DataFrame, subset: Subset | None, keys: tuple[str, ...]) -> pl.DataFrame:
    """One side's canonical rows of a segment, narrowed to the cohort and the sample.

    Rows already sampled in SQL pass the same test again; it costs little and keeps one rule.
    """
    if subset is None:
        return frame
    import polars as pl

    if subset.cohort is not None:
        frame = frame.filter(pl.sql_expr(subset.cohort).fill_null(False))
    if subset.fraction is not None and frame.height:
        frame = frame.filter(sample_hash(frame, keys, subset) < subset.threshold)
    return frame


def sample_hash(frame: pl.DataFrame, keys: tuple[str, ...], subset: Subset) -> pl.Series:
    """h of every row, as defined above."""
    import polars as pl

    h = pl.Series("h", [subset.offset] * frame.height, dtype=pl.Int64)
    for key in keys:
        h = ((h + _residues(frame.get_column(key))) * A) % M
    return h


def _residues(col: pl.Series) -> pl.Series:
    """r(k) of every value: integers (and decimals of scale 0) by arithmetic, others by blake2b."""
    import polars as pl

    dtype = col.dtype
    if not (dtype.is_integer() or (isinstance(dtype, pl.Decimal) and not dtype.scale)):
        return pl.Series([_value_hash(v) for v in col.to_list()], dtype=pl.Int64)
    # up to 2^64 - 1 (BIGINT UNSIGNED) reduces in UInt64; negatives in Int64
    unsigned = (col.cast(pl.UInt64, strict=False) % M).cast(pl.Int64)
    signed = (col.cast(pl.Int64, strict=False) % M + M) % M
    r = unsigned.fill_null(signed)
    beyond = r.is_null() & col.is_not_null()  # decimals past 64 bits: exact, in Python
    if beyond.any():
        exact = pl.Series([int(v) % M if v is not None else None for v in col.to_list()], dtype=pl.Int64)
        r = r.fill_null(exact)
    return r.fill_null(0)


def _value_hash(value: Any) -> int:
    if value is None:
        return 0
    digest = hashlib.blake2b(str(value).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % M


def cohort_problem(subset: Subset | None, entity: str, columns: list[str]) -> str | None:
    """Why an entity's canonical rows cannot be held to the cohort, or None."""
    if subset is None or subset.cohort is None:
        return None
    import polars as pl

    missing = [c for c in pl.sql_expr(subset.cohort).meta.root_names() if c not in columns]
    if missing:
        return (
            f"the cohort '{subset.cohort}' needs column(s) {', '.join(missing)}, which entity "
            f"'{entity}' does not compare; its canonical columns: {', '.join(columns)}"
        )
    return None
