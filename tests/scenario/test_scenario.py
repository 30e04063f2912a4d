"""The DFP -> F1 scenario: deterministic per seed, defects at the requested counts, and a ground
truth that matches the data actually loaded, checked independently of the generator's code
(zoneinfo with fold=0, Decimal and unicodedata, one row at a time)."""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from decimal import Decimal
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from sqlalchemy import create_engine, text

from verify.errors import SourceError, UsageError
from verify.scenario import build, parse_rates
from verify.scenario.dfp_to_f1 import DEFECTS, generate

NY = ZoneInfo("America/New_York")
UTC = dt.UTC
STATES = ["DRAFT", "READY", "DELIVERING", "PAUSED", "COMPLETED", "CANCELED"]
# Raised so that every defect has several rows in a small build.
HIGH = (
    "dst_fallback=0.01",
    "money_float_rounding=0.01",
    "far_future_sentinel=0.01",
    "zero_date=0.01",
    "unknown_status=0.01",
    "nfd_normalized=0.02",
    "trailing_space_trimmed=0.01",
    "soft_deleted_not_migrated=0.01",
    "dropped=0.005",
    "duplicated=0.005",
    "phantom=0.005",
)


def test_same_seed_same_data_other_seed_other_data():
    rates = parse_rates(())
    a, b, c = generate(3000, 5, rates), generate(3000, 5, rates), generate(3000, 6, rates)
    for name in a.old:
        assert a.old[name].equals(b.old[name])
        assert not a.old[name].equals(c.old[name])
    for name in a.new:
        assert a.new[name].equals(b.new[name])
    assert a.truth.equals(b.truth)
    assert not a.truth.equals(c.truth)


@pytest.mark.parametrize("rows", [2000, 10_000])
def test_each_defect_is_planted_at_the_requested_count(rows):
    rates = parse_rates(HIGH)
    s = generate(rows, 3, rates)
    sizes = {"line_item": rows, "creative": s.old["creatives"].height}
    for name, defect in DEFECTS.items():
        truth = s.truth.filter((pl.col("entity") == defect.entity) & (pl.col("defect") == name))
        assert truth.height == round(rates[name] * sizes[defect.entity]), name
    # One defect per row: no key is planted twice.
    for entity in sizes:
        truth = s.truth.filter(pl.col("entity") == entity)
        assert truth["key"].n_unique() == truth.height


def test_rate_overrides_and_no_defects_at_all():
    assert parse_rates(("dropped=0.25",))["dropped"] == 0.25
    assert set(parse_rates(("all=0",)).values()) == {0.0}
    clean = generate(2000, 1, parse_rates(("all=0",)))
    assert clean.truth.height == 0
    assert clean.new["line_item"].height == clean.old["line_items"].height


@pytest.mark.parametrize(
    ("rates", "needle"),
    [
        (("nope=0.1",), "unknown defect 'nope'"),
        (("dropped=2",), "between 0 and 1"),
        (("dropped",), "must be DEFECT=RATE"),
        (("all=0.2",), "add up to more than 1"),
    ],
)
def test_bad_rates_are_clear_errors(rates, needle):
    with pytest.raises(UsageError, match=needle):
        parse_rates(rates)


def test_unsupported_backends_are_refused(tmp_path):
    with pytest.raises(SourceError, match="cannot load its old store into postgresql"):
        build(
            "dfp_to_f1",
            old_url="postgresql+psycopg://u@127.0.0.1/x",
            new_url=f"sqlite:///{tmp_path}/n.db",
            rows=10,
            seed=1,
        )


# -- the truth against the data actually loaded ------------------------------------------------


def rows(url: str, sql: str) -> list[dict]:
    engine = create_engine(url)
    with engine.connect() as conn:
        out = [dict(r._mapping) for r in conn.execute(text(sql))]
    engine.dispose()
    return out


def as_utc(value) -> dt.datetime | None:
    """A new-store timestamp (aware datetime, or text with offset in SQLite) in UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.astimezone(UTC)


def local_to_utc(text_value: str | None, zone: ZoneInfo) -> dt.datetime | None:
    """Legacy local text to UTC, the earlier instant when ambiguous; zero dates are no date."""
    if text_value is None or text_value.startswith("0000-00-00"):
        return None
    naive = dt.datetime.fromisoformat(str(text_value))
    return naive.replace(tzinfo=zone, fold=0).astimezone(UTC)


def money(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.000001"))


def extras(row: dict) -> dict:
    """A line item's settings, targeting, geo and flags as plain values, from either store."""
    settings = row["settings"]
    targeting = row["targeting"]
    if isinstance(targeting, str):  # MySQL's SET text or SQLite's text; PostgreSQL gives a list
        targeting = targeting.split(",") if targeting else []
    geo = row["geo"]
    if geo is not None:  # 'POINT(x y)' or '(x,y)'
        geo = tuple(float(v) for v in geo.replace("POINT", "").strip("() ").replace(",", " ").split())
    return {
        "settings": json.loads(settings) if isinstance(settings, str) else settings,
        "targeting": set(targeting),
        "geo": geo,
        "flags": int(row["flags"]),
    }


def check_truth_against_stores(old_url: str, new_url: str, tmp_path, old_is_mysql: bool) -> None:
    truth_path = tmp_path / "truth.parquet"
    build(
        "dfp_to_f1",
        old_url=old_url,
        new_url=new_url,
        rows=3000,
        seed=21,
        truth_path=str(truth_path),
        rates=HIGH,
    )
    truth = pl.read_parquet(truth_path)
    planted = {(r["entity"], r["key"]): r for r in truth.iter_rows(named=True)}
    as_text = "CAST({} AS CHAR)" if old_is_mysql else "{}"
    old = rows(
        old_url,
        "SELECT id, order_id, advertiser_id, name, status_code, line_type, "
        f"{as_text.format('start_time')} AS start_time, "
        f"{as_text.format('end_time')} AS end_time, budget_micros, "
        "cost_per_unit_micros, units_bought, deleted, "
        f"{as_text.format('updated_at')} AS updated_at, "
        f"{as_text.format('settings')} AS settings, {as_text.format('targeting')} AS targeting, "
        f"{'ST_AsText(geo)' if old_is_mysql else 'geo'} AS geo, "
        f"{'CAST(flags AS UNSIGNED)' if old_is_mysql else 'flags'} AS flags FROM line_items",
    )
    new = rows(new_url, "SELECT * FROM line_item")
    new_by_key: dict[str, list[dict]] = {}
    for r in new:
        key = json.dumps([r["advertiser_id"], r["campaign_id"], r["line_item_id"]], separators=(",", ":"))
        new_by_key.setdefault(key, []).append(r)
    seen = 0
    for o in old:
        key = json.dumps([o["advertiser_id"], o["order_id"], o["id"]], separators=(",", ":"))
        got = new_by_key.get(key, [])
        want = {
            "name": o["name"],
            "state": STATES[o["status_code"]] if 0 <= o["status_code"] < 6 else str(o["status_code"]),
            "start_time": local_to_utc(o["start_time"], NY),
            "end_time": local_to_utc(o["end_time"], NY),
            "budget": money(Decimal(o["budget_micros"]) / 10**6),
            "cost_per_unit": money(Decimal(o["cost_per_unit_micros"]) / 10**6),
        }
        p = planted.get(("line_item", key))
        if p is None:
            assert len(got) == 1, key
            g = got[0]
            actual = {
                "name": g["name"],
                "state": g["state"],
                "start_time": as_utc(g["start_time"]),
                "end_time": as_utc(g["end_time"]),
                "budget": money(g["budget"]),
                "cost_per_unit": money(g["cost_per_unit"]),
            }
            assert actual == want, key
            assert bool(g["archived"]) is (o["deleted"] == 1)
            assert int(g["units_bought"]) == int(o["units_bought"])
            assert extras(g) == extras(o), key
            seen += 1
            continue
        defect = p["defect"]
        if defect in ("soft_deleted_not_migrated", "dropped"):
            assert got == [], key
            assert (o["deleted"] == 1) is (defect == "soft_deleted_not_migrated")
            continue
        if defect == "duplicated":
            assert len(got) == 2 and got[0] == got[1], key
            continue
        g = got[0]
        if defect == "dst_fallback":
            assert as_utc(g["start_time"]) == want["start_time"] + dt.timedelta(hours=1)
            naive = dt.datetime.fromisoformat(o["start_time"])
            assert (
                naive.replace(tzinfo=NY, fold=0).utcoffset() != naive.replace(tzinfo=NY, fold=1).utcoffset()
            )
        elif defect == "money_float_rounding":
            assert o["budget_micros"] % 10_000 != 0
            assert money(g["budget"]) == money(round(o["budget_micros"] / 1e6, 2)) != want["budget"]
        elif defect == "far_future_sentinel":
            assert o["end_time"] is None
            assert as_utc(g["end_time"]) == dt.datetime(2038, 1, 19, 3, 14, 7, tzinfo=UTC)
        elif defect == "zero_date":
            assert o["end_time"].startswith("0000-00-00")
            assert as_utc(g["end_time"]) == dt.datetime(1970, 1, 1, tzinfo=UTC)
        elif defect == "unknown_status":
            assert o["status_code"] in (7, 9) and g["state"] == "UNKNOWN"
        elif defect == "nfd_normalized":
            assert o["name"] != unicodedata.normalize("NFC", o["name"]) == g["name"]
        elif defect == "trailing_space_trimmed":
            assert o["name"].endswith(" ") and g["name"] == o["name"].rstrip(" ")
        elif defect == "json_null_dropped":
            old_settings = json.loads(o["settings"])
            assert old_settings["frequency_cap"] is None
            assert extras(g)["settings"] == {k: v for k, v in old_settings.items() if v is not None}
        elif defect == "targeting_flag_lost":
            assert "ctv" in extras(o)["targeting"] and extras(g)["targeting"] == extras(o)["targeting"] - {
                "ctv"
            }
        elif defect == "geo_swapped":
            lon, lat = extras(o)["geo"]
            assert extras(g)["geo"] == (lat, lon) and lon != lat
        elif defect == "flags_high_bit_lost":
            assert o["flags"] >= 128 and g["flags"] == o["flags"] - 128
        else:
            pytest.fail(f"unexpected defect {defect}")
        assert p["column"] == DEFECTS[defect].column
    assert seen > 2500
    # Phantoms: keys only in the new store, and exactly those.
    old_keys = {json.dumps([o["advertiser_id"], o["order_id"], o["id"]], separators=(",", ":")) for o in old}
    phantom_keys = {k for (e, k), r in planted.items() if r["defect"] == "phantom"}
    assert set(new_by_key) - old_keys == phantom_keys and phantom_keys
    # Advertisers: only the planted names differ, by normalization alone.
    adv_old = {r["id"]: r["name"] for r in rows(old_url, "SELECT id, name FROM advertisers")}
    adv_new = {
        r["advertiser_id"]: r["name"] for r in rows(new_url, "SELECT advertiser_id, name FROM advertiser")
    }
    differing = {json.dumps([k]) for k in adv_old if adv_old[k] != adv_new[k]}
    assert differing == {k for (e, k) in planted if e == "advertiser"}
    assert all(unicodedata.normalize("NFC", adv_old[k]) == adv_new[k] for k in adv_old)
    # Creatives: only the planted assets differ, cut to the 48 bytes the new system keeps.
    cr_old = {
        (r["advertiser_id"], r["id"]): bytes(r["asset"]) for r in rows(old_url, "SELECT * FROM creatives")
    }
    cr_new = {
        (r["advertiser_id"], r["creative_id"]): bytes(r["asset"])
        for r in rows(new_url, "SELECT * FROM creative")
    }
    cut = {json.dumps(list(k), separators=(",", ":")) for k in cr_old if cr_old[k] != cr_new[k]}
    assert cut == {k for (e, k) in planted if e == "creative"} and cut
    assert all(cr_new[k] == cr_old[k][:48] and len(cr_old[k]) > 48 for k in cr_old if cr_old[k] != cr_new[k])


def test_truth_matches_the_loaded_sqlite_stores(tmp_path):
    check_truth_against_stores(
        f"sqlite:///{tmp_path / 'old.db'}", f"sqlite:///{tmp_path / 'new.db'}", tmp_path, old_is_mysql=False
    )


@pytest.mark.mysql
@pytest.mark.postgres
def test_truth_matches_the_loaded_mariadb_and_postgres_stores(mysql_db, postgres_db, tmp_path):
    check_truth_against_stores(mysql_db.url, postgres_db.url, tmp_path, old_is_mysql=True)


@pytest.mark.mysql
@pytest.mark.postgres
def test_the_same_seed_loads_the_same_rows_into_every_backend(mysql_db, postgres_db, tmp_path):
    build(
        "dfp_to_f1",
        old_url=mysql_db.url,
        new_url=postgres_db.url,
        rows=1500,
        seed=4,
        truth_path=str(tmp_path / "a.parquet"),
    )
    build(
        "dfp_to_f1",
        old_url=f"sqlite:///{tmp_path}/o.db",
        new_url=f"sqlite:///{tmp_path}/n.db",
        rows=1500,
        seed=4,
        truth_path=str(tmp_path / "b.parquet"),
    )
    assert pl.read_parquet(tmp_path / "a.parquet").equals(pl.read_parquet(tmp_path / "b.parquet"))
    sql = "SELECT id, name, budget_micros, status_code FROM line_items ORDER BY id"
    assert rows(mysql_db.url, sql) == rows(f"sqlite:///{tmp_path}/o.db", sql)
    sql_new = "SELECT line_item_id, name, state FROM line_item ORDER BY line_item_id, name"
    assert rows(postgres_db.url, sql_new) == rows(f"sqlite:///{tmp_path}/n.db", sql_new)


def test_per_row_zones_convert_times_that_do_not_exist_in_other_zones():
    from verify.scenario.dfp_to_f1 import _to_utc

    # 02:24 on 2023-10-01 does not exist in Sydney (clocks jump to 03:00) but does in New York.
    local = pl.Series([dt.datetime(2023, 10, 1, 2, 24), dt.datetime(2023, 10, 1, 12, 0)])
    zones = pl.Series(["America/New_York", "Australia/Sydney"])
    assert _to_utc(local, zones).to_list() == [
        dt.datetime(2023, 10, 1, 6, 24, tzinfo=UTC),
        dt.datetime(2023, 10, 1, 1, 0, tzinfo=UTC),
    ]
