"""The DFP -> F1 scenario: the legacy store's data, the new system's migration, planted defects.

`generate` makes the old store's tables, runs `migrate` (the "new system", with its edge-case
defects) and returns both stores and the ground truth: exactly which keys and columns each
planted defect touched. Everything is vectorized (numpy, Polars) and fixed by the seed.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import unicodedata
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

NETWORK_ZONE = "America/New_York"
ZONES = [
    "America/New_York",
    "America/Los_Angeles",
    "Europe/Berlin",
    "Asia/Tokyo",
    "UTC",
    "America/Sao_Paulo",
    "Australia/Sydney",
]
SENTINEL = dt.datetime(2038, 1, 19, 3, 14, 7, tzinfo=dt.UTC)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
ZERO_DATE = "0000-00-00 00:00:00"
ORDER_STATES = ["DRAFT", "PENDING_APPROVAL", "APPROVED", "PAUSED", "CANCELED", "ARCHIVED"]
LINE_STATES = ["DRAFT", "READY", "DELIVERING", "PAUSED", "COMPLETED", "CANCELED"]
LINE_TYPES = ["STANDARD", "SPONSORSHIP", "PRICE_PRIORITY", "HOUSE"]
SIZES = [(300, 250), (728, 90), (160, 600), (320, 50), (970, 250), (300, 600)]
# Names: plain, accented (NFC), and CJK; the NFD defect needs an accent to decompose.
WORDS = [
    "Acme",
    "Café",
    "Müller",
    "Niño",
    "Søren",
    "Zoë",
    "Crème",
    "東京",
    "Ålborg",
    "Bistro",
    "Nordic",
    "Señor",
    "Łódź",
    "Straße",
    "Öko",
]
ACCENTED = ["Café", "Müller", "Niño", "Zoë", "Crème", "Ålborg", "Señor", "Öko"]
FALL_BACK = {2023: dt.date(2023, 11, 5), 2024: dt.date(2024, 11, 3), 2025: dt.date(2025, 11, 2)}


@dataclass(frozen=True)
class Defect:
    """A planted defect: where it shows, as what kind of difference, and its default rate."""

    entity: str
    kind: str
    column: str | None
    rate: float


DEFECTS: dict[str, Defect] = {
    "dst_fallback": Defect("line_item", "value", "start_time", 0.002),
    "money_float_rounding": Defect("line_item", "value", "budget", 0.01),
    "far_future_sentinel": Defect("line_item", "value", "end_time", 0.01),
    "zero_date": Defect("line_item", "value", "end_time", 0.002),
    "unknown_status": Defect("line_item", "value", "state", 0.002),
    "nfd_normalized": Defect("line_item", "value", "name", 0.005),  # and advertiser.name
    "trailing_space_trimmed": Defect("line_item", "value", "name", 0.005),
    "soft_deleted_not_migrated": Defect("line_item", "missing_in_new", None, 0.01),
    "dropped": Defect("line_item", "missing_in_new", None, 0.0005),
    "duplicated": Defect("line_item", "duplicate_key", None, 0.0005),
    "phantom": Defect("line_item", "extra_in_new", None, 0.0002),
    "json_null_dropped": Defect("line_item", "value", "settings", 0.002),
    "targeting_flag_lost": Defect("line_item", "value", "targeting", 0.002),
    "geo_swapped": Defect("line_item", "value", "geo", 0.002),
    "flags_high_bit_lost": Defect("line_item", "value", "flags", 0.002),
    "asset_truncated": Defect("creative", "value", "asset", 0.005),
}
TARGETING = ["mobile", "desktop", "tablet", "ctv"]  # the legacy SET; the new system knows no 'ctv'
PACING = ["EVEN", "ASAP", "FRONTLOADED"]
ASSET_LIMIT = 48  # bytes: the new system keeps no more of a creative's asset


@dataclass(frozen=True)
class Scenario:
    """Both stores' tables (old: legacy text for dates; new: typed) and the ground truth."""

    old: dict[str, pl.DataFrame]
    new: dict[str, pl.DataFrame]
    truth: pl.DataFrame
    planted: dict[str, int]


def sizes(rows: int) -> dict[str, int]:
    return {
        "advertisers": max(10, rows // 1000),
        "orders": max(20, rows // 20),
        "line_items": rows,
        "creatives": max(10, rows // 10),
    }


def _ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """Dense-ish ids from 1, with a gap now and then, as a long-lived table has."""
    return np.cumsum(1 + (rng.random(n) < 0.02).astype(np.int64))


def _names(rng: np.random.Generator, prefix: str, ids: np.ndarray) -> list[str]:
    a = rng.integers(0, len(WORDS), len(ids))
    b = rng.integers(0, len(WORDS), len(ids))
    return [f"{prefix} {WORDS[x]} {WORDS[y]} {i}" for x, y, i in zip(a, b, ids, strict=True)]


def _local_times(rng: np.random.Generator, n: int, zones: pl.Series | str) -> pl.Series:
    """Naive local times in 2023-2025, none in a DST gap or fall-back hour of their zone."""
    start = np.datetime64("2023-01-01T00:00:00")
    secs = rng.integers(0, 3 * 365 * 86400, n)
    return _unambiguous(
        pl.Series("t", (start + secs.astype("timedelta64[s]")).astype("datetime64[us]")), zones
    )


def _unambiguous(times: pl.Series, zones: pl.Series | str) -> pl.Series:
    """Local times moved 3 hours on where they fall in a DST gap or a repeated hour."""
    n = len(times)
    zone_list = [zones] * n if isinstance(zones, str) else zones.to_list()
    frame = pl.DataFrame({"t": times, "z": zone_list})
    for _ in range(4):  # move invalid local times 3 hours on, until none is left
        bad = pl.Series([False] * n)
        for zone in frame["z"].unique().to_list():
            mask = frame["z"] == zone
            local = frame["t"].dt.replace_time_zone(zone, ambiguous="null", non_existent="null")
            bad = bad | (mask & local.is_null())
        if not bad.any():
            break
        frame = frame.with_columns(
            pl.when(bad).then(pl.col("t") + dt.timedelta(hours=3)).otherwise(pl.col("t")).alias("t")
        )
    return frame["t"]


def _to_utc(
    local: pl.Series, zones: pl.Series | str, ambiguous: Literal["earliest", "latest"] = "earliest"
) -> pl.Series:
    if isinstance(zones, str):
        return local.dt.replace_time_zone(zones, ambiguous=ambiguous).dt.convert_time_zone("UTC")
    out = pl.Series(local.name, [None] * len(local), dtype=pl.Datetime("us", "UTC"))
    for zone in zones.unique().to_list():
        # Other zones' rows may not exist in this zone; they are discarded below.
        conv = local.dt.replace_time_zone(
            zone, ambiguous=ambiguous, non_existent="null"
        ).dt.convert_time_zone("UTC")
        out = pl.select(pl.when(zones == zone).then(conv).otherwise(out)).to_series()
    return out.alias(local.name)


def _legacy_text(times: pl.Expr) -> pl.Expr:
    return times.dt.to_string("%Y-%m-%d %H:%M:%S")


def _money_text(micros: pl.Series) -> pl.Series:
    """Exact decimal text with six places from non-negative micros."""
    return (micros // 1_000_000).cast(pl.String) + "." + (micros % 1_000_000).cast(pl.String).str.zfill(6)


def generate(rows: int, seed: int, rates: dict[str, float]) -> Scenario:
    """The old store, the migrated new store and the ground truth for `rows` line items."""
    rng = np.random.default_rng(seed)
    n = sizes(rows)

    # -- advertisers ---------------------------------------------------------------------
    adv_ids = _ids(rng, n["advertisers"])
    adv_zone = pl.Series([ZONES[i] for i in rng.integers(0, len(ZONES), len(adv_ids))])
    advertisers = pl.DataFrame(
        {
            "id": adv_ids,
            "name": _names(rng, "Advertiser", adv_ids),
            "time_zone": adv_zone,
            "currency": [["USD", "EUR", "JPY", "GBP"][i] for i in rng.integers(0, 4, len(adv_ids))],
            "status": [["ACTIVE", "INACTIVE", "BLOCKED"][i] for i in rng.integers(0, 3, len(adv_ids))],
            "created_local": _local_times(rng, len(adv_ids), adv_zone),
            "deleted": np.zeros(len(adv_ids), dtype=np.int8),
        }
    )

    # -- orders (campaigns): ids ascend with their advertiser, as they were created --------
    ord_ids = _ids(rng, n["orders"])
    ord_adv = np.sort(rng.choice(adv_ids, len(ord_ids)))
    ord_start = _local_times(rng, len(ord_ids), NETWORK_ZONE)
    orders = pl.DataFrame(
        {
            "id": ord_ids,
            "advertiser_id": ord_adv,
            "name": _names(rng, "Order", ord_ids),
            "status_code": rng.integers(0, 6, len(ord_ids)).astype(np.int8),
            "start_local": ord_start,
            "budget_micros": rng.integers(1, 5_000_000, len(ord_ids)) * 10_000,
            "deleted": np.zeros(len(ord_ids), dtype=np.int8),
        }
    ).with_columns(_valid_end(ord_start, rng).alias("end_local"))

    # -- line items ----------------------------------------------------------------------
    li_ids = _ids(rng, n["line_items"])
    pick = np.sort(rng.integers(0, len(ord_ids), len(li_ids)))
    li_start = _local_times(rng, len(li_ids), NETWORK_ZONE)
    updated = pl.Series(
        (
            np.datetime64("2025-06-01T00:00:00")
            + rng.integers(0, 180 * 86400, len(li_ids)).astype("timedelta64[s]")
        ).astype("datetime64[us]")
    )
    items = pl.DataFrame(
        {
            "id": li_ids,
            "order_id": ord_ids[pick],
            "advertiser_id": ord_adv[pick],
            "name": _names(rng, "Line", li_ids),
            "status_code": rng.integers(0, 6, len(li_ids)).astype(np.int8),
            "line_type": [LINE_TYPES[i] for i in rng.integers(0, len(LINE_TYPES), len(li_ids))],
            "start_local": li_start,
            "budget_micros": rng.integers(1, 2_000_000, len(li_ids)) * 10_000,
            "cost_per_unit_micros": rng.integers(1, 50_000, len(li_ids)) * 10_000,
            "units_bought": rng.integers(1_000, 10_000_000, len(li_ids)),
            "deleted": np.zeros(len(li_ids), dtype=np.int8),
            "updated_at": updated,
            **_line_item_extras(rng, len(li_ids)),
        }
    ).with_columns(_valid_end(li_start, rng).alias("end_local"), pl.lit(None, pl.String).alias("end_text"))

    creatives = _creatives(rng, n["creatives"], adv_ids)

    # -- plant the traits each defect needs, on disjoint rows ------------------------------
    order = rng.permutation(len(li_ids))
    chosen: dict[str, np.ndarray] = {}
    at = 0
    for name, defect in DEFECTS.items():
        count = round(rates[name] * len(li_ids))
        if defect.entity == "line_item":
            chosen[name] = np.sort(order[at : at + count])
            at += count
    items = _plant(items, chosen, rng)
    creatives, chosen["asset_truncated"] = _plant_assets(creatives, rates["asset_truncated"], rng)
    adv_nfd = np.sort(rng.permutation(len(adv_ids))[: round(rates["nfd_normalized"] * len(adv_ids))])
    advertisers = advertisers.with_columns(
        pl.Series(
            "name",
            [
                unicodedata.normalize("NFD", f"{ACCENTED[i % len(ACCENTED)]} {nm}")
                if i in set(adv_nfd)
                else nm
                for i, nm in enumerate(advertisers["name"])
            ],
        )
    )

    phantoms = _phantoms(items, len(chosen["phantom"]), rng)
    new = migrate(advertisers, orders, items, creatives, chosen, phantoms)
    old = _legacy_tables(advertisers, orders, items, creatives)
    truth = _truth(items, advertisers, creatives, chosen, adv_nfd, phantoms)
    planted = {name: len(idx) for name, idx in chosen.items()}
    planted["nfd_normalized"] += len(adv_nfd)
    return Scenario(old, new, truth, planted)


def _creatives(rng: np.random.Generator, count: int, adv_ids: np.ndarray) -> pl.DataFrame:
    """The creatives: a size, a local creation time and the asset's bytes each."""
    cr_ids = _ids(rng, count)
    size = rng.integers(0, len(SIZES), len(cr_ids))
    return pl.DataFrame(
        {
            "id": cr_ids,
            "advertiser_id": np.sort(rng.choice(adv_ids, len(cr_ids))),
            "name": _names(rng, "Creative", cr_ids),
            "width": np.array([SIZES[i][0] for i in size], dtype=np.int32),
            "height": np.array([SIZES[i][1] for i in size], dtype=np.int32),
            "created_local": _local_times(rng, len(cr_ids), NETWORK_ZONE),
            "deleted": np.zeros(len(cr_ids), dtype=np.int8),
            "asset": [rng.bytes(int(k)) for k in rng.integers(8, ASSET_LIMIT + 1, len(cr_ids))],
        }
    )


def _valid_end(start: pl.Series, rng: np.random.Generator) -> pl.Series:
    """An end some weeks after the start, moved off any invalid local time (whole days keep it)."""
    days = rng.integers(7, 365, len(start))
    return _unambiguous(
        start + pl.Series(days.astype("timedelta64[D]").astype("timedelta64[us]")), NETWORK_ZONE
    )


def _line_item_extras(rng: np.random.Generator, n: int) -> dict[str, object]:
    """What an ad system of that age also kept per line item: JSON settings, SET targeting
    flags, a POINT geo target (a third have none) and BIT(8) feature flags."""
    caps = rng.integers(1, 20, n)
    pacing = rng.integers(0, len(PACING), n)
    priority = rng.integers(1, 17, n)
    members = rng.random((n, 3)) < 0.5  # 'ctv' is planted only (targeting_flag_lost)
    lon = np.round(rng.uniform(-180, 180, n), 6)
    lat = np.round(rng.uniform(-85, 85, n), 6)
    has_geo = rng.random(n) < 0.67
    return {
        "frequency_cap": caps,
        "pacing": [PACING[i] for i in pacing],
        "priority": priority,
        "targeting": [[t for t, on in zip(TARGETING, row, strict=False) if on] for row in members],
        "lon": np.where(has_geo, lon, np.nan),
        "lat": np.where(has_geo, lat, np.nan),
        "flags": rng.integers(0, 128, n),  # bit 7 is planted only (flags_high_bit_lost)
        "geo_swapped": np.zeros(n, dtype=bool),
    }


def _plant_assets(
    creatives: pl.DataFrame, rate: float, rng: np.random.Generator
) -> tuple[pl.DataFrame, np.ndarray]:
    """Creatives whose asset is longer than the new system keeps (asset_truncated)."""
    chosen = np.sort(rng.permutation(creatives.height)[: round(rate * creatives.height)])
    assets = creatives["asset"].to_list()
    for i in chosen:
        assets[i] = rng.bytes(int(rng.integers(ASSET_LIMIT + 1, 4 * ASSET_LIMIT)))
    return creatives.with_columns(pl.Series("asset", assets, dtype=pl.Binary)), chosen


def _plant(items: pl.DataFrame, chosen: dict[str, np.ndarray], rng: np.random.Generator) -> pl.DataFrame:
    """Give the chosen rows of the old store the trait their defect needs."""
    n = items.height

    def mask(name: str) -> pl.Series:
        m = np.zeros(n, dtype=bool)
        m[chosen[name]] = True
        return pl.Series(m)

    # DST fall-back: a start time inside the repeated hour 01:00-01:59:59 of a first Sunday in Nov.
    dst = mask("dst_fallback")
    years = rng.choice(list(FALL_BACK), n)
    ambiguous = pl.Series([dt.datetime.combine(FALL_BACK[int(y)], dt.time(1)) for y in years]) + pl.Series(
        rng.integers(0, 3600, n).astype("timedelta64[s]").astype("timedelta64[us]")
    )
    sub_cent = pl.Series(rng.integers(1, 10_000, n))
    status = pl.Series(rng.choice([7, 9], n).astype(np.int8))
    spaces = pl.Series([" " * k for k in rng.integers(1, 4, n)])
    accent = pl.Series([ACCENTED[i] for i in rng.integers(0, len(ACCENTED), n)])
    items = items.with_columns(
        pl.when(dst).then(ambiguous).otherwise(pl.col("start_local")).alias("start_local"),
        pl.when(mask("money_float_rounding"))
        .then(pl.col("budget_micros") + sub_cent)
        .otherwise(pl.col("budget_micros"))
        .alias("budget_micros"),
        pl.when(mask("far_future_sentinel") | mask("zero_date"))
        .then(None)
        .otherwise(pl.col("end_local"))
        .alias("end_local"),
        pl.when(mask("zero_date")).then(pl.lit(ZERO_DATE)).otherwise(None).alias("end_text"),
        pl.when(mask("unknown_status")).then(status).otherwise(pl.col("status_code")).alias("status_code"),
        pl.when(mask("trailing_space_trimmed"))
        .then(pl.col("name") + spaces)
        .when(mask("nfd_normalized"))
        .then(accent + " " + pl.col("name"))
        .otherwise(pl.col("name"))
        .alias("name"),
        pl.when(mask("soft_deleted_not_migrated"))
        .then(1)
        .otherwise(pl.col("deleted"))
        .cast(pl.Int8)
        .alias("deleted"),
        # A frequency cap of null, which the new system drops from the JSON with the key.
        pl.when(mask("json_null_dropped"))
        .then(None)
        .otherwise(pl.col("frequency_cap"))
        .alias("frequency_cap"),
        pl.when(mask("targeting_flag_lost"))
        .then(pl.col("targeting").list.concat(pl.lit(["ctv"])))
        .otherwise(pl.col("targeting"))
        .alias("targeting"),
        pl.when(mask("flags_high_bit_lost"))
        .then(pl.col("flags") | 128)
        .otherwise(pl.col("flags"))
        .alias("flags"),
        # A geo target read back in the wrong axis order (lat, lon): it needs one to be read.
        mask("geo_swapped").alias("geo_swapped"),
        pl.when(mask("geo_swapped")).then(pl.col("lon").fill_nan(12.5)).otherwise(pl.col("lon")).alias("lon"),
        pl.when(mask("geo_swapped"))
        .then(pl.col("lat").fill_nan(-33.25))
        .otherwise(pl.col("lat"))
        .alias("lat"),
    )
    # The DST rows' end must stay after their new start and valid: a month on, at noon.
    items = items.with_columns(
        pl.when(dst)
        .then((pl.col("start_local") + dt.timedelta(days=30)).dt.truncate("1d") + dt.timedelta(hours=12))
        .otherwise(pl.col("end_local"))
        .alias("end_local")
    )
    nfd = mask("nfd_normalized").to_numpy()
    names = items["name"].to_list()
    for i in np.flatnonzero(nfd):
        names[i] = unicodedata.normalize("NFD", names[i])
    return items.with_columns(pl.Series("name", names))


def _phantoms(items: pl.DataFrame, count: int, rng: np.random.Generator) -> pl.DataFrame:
    """Rows the new system invents: copies of real rows under ids the old store never had."""
    base = (
        items.filter(pl.col("deleted") == 0).sample(count, seed=int(rng.integers(1 << 31)))
        if count
        else items.head(0)
    )
    top = int(items["id"].max() or 0)  # type: ignore[arg-type]
    return base.with_columns(
        pl.Series("id", np.arange(top + 1, top + 1 + base.height, dtype=np.uint64)).cast(items["id"].dtype)
    )


def migrate(
    advertisers: pl.DataFrame,
    orders: pl.DataFrame,
    items: pl.DataFrame,
    creatives: pl.DataFrame,
    chosen: dict[str, np.ndarray],
    phantoms: pl.DataFrame,
) -> dict[str, pl.DataFrame]:
    """What the new system writes for the old rows, edge-case defects included.

    Its defects: ambiguous local times resolved to the later instant, budgets rounded to cents
    through a float, open end dates written as the 2038 sentinel and zero dates as the epoch,
    unknown status codes as 'UNKNOWN', names NFC-normalized and right-trimmed, soft-deleted
    rows skipped, some rows dropped, some written twice, and some invented.
    """
    advertiser = pl.DataFrame(
        {
            "advertiser_id": advertisers["id"],
            "name": [unicodedata.normalize("NFC", s) for s in advertisers["name"]],
            "time_zone": advertisers["time_zone"],
            "currency_code": advertisers["currency"],
            "state": advertisers["status"],
            "created_at": _to_utc(advertisers["created_local"], advertisers["time_zone"]),
            "archived": advertisers["deleted"] == 1,
        }
    )
    campaign = pl.DataFrame(
        {
            "advertiser_id": orders["advertiser_id"],
            "campaign_id": orders["id"],
            "name": orders["name"],
            "state": orders["status_code"].map_elements(lambda c: ORDER_STATES[c], return_dtype=pl.String),
            "start_time": _to_utc(orders["start_local"], NETWORK_ZONE),
            "end_time": _to_utc(orders["end_local"], NETWORK_ZONE),
            "budget": _money_text(orders["budget_micros"]),
            "archived": orders["deleted"] == 1,
        }
    )
    dropped = np.zeros(items.height, dtype=bool)
    dropped[chosen["dropped"]] = True
    kept = items.filter(~pl.Series(dropped) & (pl.col("deleted") == 0))
    kept = pl.concat([kept, phantoms])
    states = dict(enumerate(LINE_STATES))
    end = _to_utc(kept["end_local"], NETWORK_ZONE, ambiguous="latest")
    line_item = pl.DataFrame(
        {
            "advertiser_id": kept["advertiser_id"],
            "campaign_id": kept["order_id"],
            "line_item_id": kept["id"],
            "name": [unicodedata.normalize("NFC", s).rstrip(" ") for s in kept["name"]],
            "state": kept["status_code"].replace_strict(states, default="UNKNOWN", return_dtype=pl.String),
            "line_type": kept["line_type"],
            "start_time": _to_utc(kept["start_local"], NETWORK_ZONE, ambiguous="latest"),
            "end_time": pl.select(
                pl.when(kept["end_text"] == ZERO_DATE)
                .then(pl.lit(EPOCH))
                .when(end.is_null())
                .then(pl.lit(SENTINEL))
                .otherwise(end)
            ).to_series(),
            # Money through a float, rounded to cents: exact only for whole cents.
            "budget": [f"{round(m / 1e6, 2):.6f}" for m in kept["budget_micros"]],
            "cost_per_unit": _money_text(kept["cost_per_unit_micros"]),
            "units_bought": kept["units_bought"],
            "archived": kept["deleted"] == 1,
            "updated_at": kept["updated_at"].dt.replace_time_zone("UTC"),
            # Settings without the keys whose value is null.
            "settings": _settings(kept, new=True),
            # Targeting as an array, in its own order, without the 'ctv' it does not know.
            "targeting": kept["targeting"]
            .list.eval(pl.element().filter(pl.element() != "ctv"))
            .list.reverse(),
            "geo": _point_text(kept),
            "flags": kept["flags"] & 127,  # a signed TINYINT on the way: the high bit is lost
        }
    )
    dup = np.zeros(items.height, dtype=bool)
    dup[chosen["duplicated"]] = True
    dup_keys = items.filter(pl.Series(dup)).select(
        pl.col("advertiser_id"), pl.col("order_id").alias("campaign_id"), pl.col("id").alias("line_item_id")
    )
    line_item = pl.concat([line_item, line_item.join(dup_keys, on=list(dup_keys.columns), how="semi")])
    line_item = line_item.sort("advertiser_id", "campaign_id", "line_item_id", maintain_order=True)
    creative = pl.DataFrame(
        {
            "advertiser_id": creatives["advertiser_id"],
            "creative_id": creatives["id"],
            "name": creatives["name"],
            "size": creatives["width"].cast(pl.String) + "x" + creatives["height"].cast(pl.String),
            "created_at": _to_utc(creatives["created_local"], NETWORK_ZONE),
            "archived": creatives["deleted"] == 1,
            "asset": creatives["asset"].bin.slice(0, ASSET_LIMIT) if creatives.height else creatives["asset"],
        }
    )
    return {"advertiser": advertiser, "campaign": campaign, "line_item": line_item, "creative": creative}


def _settings(items: pl.DataFrame, new: bool) -> pl.Series:
    """Each line item's JSON settings, as the legacy app wrote them or as the new store holds them.

    Both write keys in the order JSONB keeps them (by length, then bytes), with ", " and ": "; a
    legacy admin tool wrote one line item in fifty (by id) compactly, keys sorted alphabetically.
    The same value either way: no difference. The new system drops keys whose value is null.
    """
    out = []
    for li, cap, pacing, priority in items.select("id", "frequency_cap", "pacing", "priority").iter_rows():
        value = {
            "pacing": pacing,
            "priority": priority,
            "frequency_cap": None if cap is None else {"per_day": cap},
        }
        if new:
            out.append(json.dumps({k: v for k, v in value.items() if v is not None}))
        elif li % 50 == 0:
            out.append(json.dumps(value, sort_keys=True, separators=(",", ":")))
        else:
            out.append(json.dumps(value))
    return pl.Series("settings", out, dtype=pl.String)


def _point_text(items: pl.DataFrame) -> pl.Series:
    """The geo target as PostgreSQL's point text '(x,y)', swapped where the defect is planted."""
    out: list[str | None] = []
    for lon, lat, swapped in items.select("lon", "lat", "geo_swapped").iter_rows():
        if lon is None or math.isnan(lon):
            out.append(None)
        else:
            out.append(f"({lat!r},{lon!r})" if swapped else f"({lon!r},{lat!r})")
    return pl.Series("geo", out, dtype=pl.String)


def _legacy_tables(
    advertisers: pl.DataFrame, orders: pl.DataFrame, items: pl.DataFrame, creatives: pl.DataFrame
) -> dict[str, pl.DataFrame]:
    """The old store's rows, dates in the legacy text form (zero dates included)."""
    return {
        "advertisers": advertisers.with_columns(
            _legacy_text(pl.col("created_local")).alias("created_at")
        ).select("id", "name", "time_zone", "currency", "status", "created_at", "deleted"),
        "orders": orders.with_columns(
            _legacy_text(pl.col("start_local")).alias("start_date"),
            _legacy_text(pl.col("end_local")).alias("end_date"),
        ).select(
            "id", "advertiser_id", "name", "status_code", "start_date", "end_date", "budget_micros", "deleted"
        ),
        "line_items": items.with_columns(
            _legacy_text(pl.col("start_local")).alias("start_time"),
            pl.coalesce(pl.col("end_text"), _legacy_text(pl.col("end_local"))).alias("end_time"),
            _legacy_text(pl.col("updated_at")).alias("updated_at"),
            _settings(items, new=False),
            pl.col("targeting")
            .list.eval(pl.element().sort_by(pl.element().replace_strict(TARGETING, range(4))))
            .list.join(",")
            .alias("targeting"),
            pl.when(pl.col("lon").is_nan())
            .then(None)
            .otherwise(pl.format("POINT({} {})", pl.col("lon"), pl.col("lat")))
            .alias("geo"),
        ).select(
            "id",
            "order_id",
            "advertiser_id",
            "name",
            "status_code",
            "line_type",
            "start_time",
            "end_time",
            "budget_micros",
            "cost_per_unit_micros",
            "units_bought",
            "deleted",
            "updated_at",
            "settings",
            "targeting",
            "geo",
            "flags",
        ),
        "creatives": creatives.with_columns(_legacy_text(pl.col("created_local")).alias("created_at")).select(
            "id", "advertiser_id", "name", "width", "height", "created_at", "deleted", "asset"
        ),
    }


def _truth(
    items: pl.DataFrame,
    advertisers: pl.DataFrame,
    creatives: pl.DataFrame,
    chosen: dict[str, np.ndarray],
    adv_nfd: np.ndarray,
    phantoms: pl.DataFrame,
) -> pl.DataFrame:
    rows: list[dict[str, object]] = []
    keys = {
        "line_item": items.select("advertiser_id", "order_id", "id").to_numpy(),
        "creative": creatives.select("advertiser_id", "id").to_numpy(),
    }
    for name, idx in chosen.items():
        defect = DEFECTS[name]
        if name == "phantom":
            idx_keys = phantoms.select("advertiser_id", "order_id", "id").to_numpy()
        else:
            idx_keys = keys[defect.entity][idx]
        for k in idx_keys:
            rows.append(
                {
                    "entity": defect.entity,
                    "defect": name,
                    "kind": defect.kind,
                    "column": defect.column,
                    "key": json.dumps([int(x) for x in k], separators=(",", ":")),
                }
            )
    for i in adv_nfd:
        rows.append(
            {
                "entity": "advertiser",
                "defect": "nfd_normalized",
                "kind": "value",
                "column": "name",
                "key": json.dumps([int(advertisers["id"][int(i)])]),
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "entity": pl.String,
            "defect": pl.String,
            "kind": pl.String,
            "column": pl.String,
            "key": pl.String,
        },
    )
