"""Loading a run directory into a RunReport: counts, verdicts, samples, history, comparison."""

from __future__ import annotations

import json
import shutil

import pytest
from report_fixtures import RUN_IDS, write_run

from verify.errors import RunDirError
from verify.report.load import load_report


def rules_of(report, entity):
    return {r.name: r for e in report.entities if e.name == entity for r in e.rules}


def test_verdicts_rules_and_metadata(runs):
    report = load_report(str(runs[2]))
    verdicts = {e.name: e.verdict for e in report.entities}
    assert verdicts == {"line_item": "block", "campaign": "warn", "creative": "clean"}
    assert report.verdict == "block"
    li = rules_of(report, "line_item")
    # blocking rules first, then warn, then accept
    assert [r.name for e in report.entities if e.name == "line_item" for r in e.rules] == [
        "unexplained",
        "money_rounding",
        "far_future",
    ]
    assert (li["unexplained"].rows, li["unexplained"].cells) == (3, 4)
    assert li["unexplained"].rate == pytest.approx(0.3)
    assert (li["far_future"].owner, li["far_future"].ticket, li["far_future"].expired) == (
        "ads-core",
        "MIG-142",
        True,
    )


def test_samples_are_the_first_keys_in_key_order_with_all_their_cells(runs):
    report = load_report(str(runs[2]), sample_rows=2)
    samples = rules_of(report, "line_item")["unexplained"].samples
    # keys (1,3), (2,5), (NULL,6): the first two in key order, NULLs last
    assert [s.key for s in samples] == [(1, 3), (2, 5)]
    assert samples[0].kind == "missing_in_new"
    assert {c.column: (c.old, c.new) for c in samples[1].cells} == {
        "name": ("<script>alert('x')</script>", "a|b"),
        "state": ("Cafe\u0301", "Café"),
    }


def test_history_holds_the_earlier_runs_and_this_one(runs):
    report = load_report(str(runs[2]))
    assert [p.run_id for p in report.history] == RUN_IDS
    assert [p.current for p in report.history] == [False, False, True]
    assert [p.rates["line_item"].get("unexplained", 0) for p in report.history] == [0.1, 0.2, 0.3]


def test_compare_to_the_previous_run_by_default(runs):
    report = load_report(str(runs[0].parent / "latest"))
    c = report.comparison
    assert c is not None and c.other.id == RUN_IDS[1] and c.chosen_by == "previous run"
    li = next(e for e in c.entities if e.entity == "line_item")
    assert (li.total.fixed, li.total.new, li.total.still) == (1, 2, 3)
    assert li.total.fixed_keys == ((1, 1),)
    assert li.total.new_keys == ((2, 5), (None, 6))
    by_rule = {k.rule: k for k in li.rules}
    assert (by_rule["unexplained"].fixed, by_rule["unexplained"].new, by_rule["unexplained"].still) == (
        1,
        2,
        1,
    )
    assert by_rule["unexplained"].fixed_keys == ((1, 1),)
    assert (by_rule["money_rounding"].still, by_rule["far_future"].still) == (1, 1)
    camp = next(e for e in c.entities if e.entity == "campaign")
    assert (camp.total.new, camp.total.new_keys) == (1, ((7,),))


def test_compare_to_an_explicit_run_and_no_previous_run(runs):
    report = load_report(str(runs[2]), compare_to=str(runs[0]))
    assert report.comparison is not None and report.comparison.other.id == RUN_IDS[0]
    li = next(e for e in report.comparison.entities if e.entity == "line_item")
    assert li.total.fixed_keys == ((1, 1),) and li.total.new == 4
    first = load_report(str(runs[0]))
    assert first.comparison is None
    assert any("nothing to compare with" in n for n in first.notes)


def test_previous_run_skips_partial_runs_and_other_mappings(runs):
    for path, change in ((runs[1], {"status": "partial"}), (runs[0], {"mapping": {"path": "other.yaml"}})):
        info = json.loads((path / "run.json").read_text())
        info.update(change)
        (path / "run.json").write_text(json.dumps(info))
    report = load_report(str(runs[2]))
    assert report.comparison is None
    assert [p.run_id for p in report.history] == [RUN_IDS[2]]


def test_a_moved_key_is_neither_fixed_nor_still(runs, tmp_path):
    home = runs[0].parent
    write_run(
        home / "20250104T100000_000000Z",
        "2025-01-04T10:00:00.000000+00:00",
        [("line_item", (1, 2), "value", "budget", "10.005000", "10.010000", "unexplained")],
    )
    report = load_report(str(home / "20250104T100000_000000Z"))
    li = next(e for e in report.comparison.entities if e.entity == "line_item")
    by_rule = {k.rule: k for k in li.rules}
    assert (by_rule["money_rounding"].moved, by_rule["money_rounding"].fixed) == (1, 0)
    assert (by_rule["unexplained"].new, li.total.new, li.total.still) == (1, 0, 1)


@pytest.mark.parametrize(
    ("breakage", "needle"),
    [
        ("missing", "does not exist"),
        ("no_run_json", "is not a verify run directory (no run.json)"),
        ("corrupt_summary", "summary.json is corrupt (invalid JSON"),
        ("no_entities", "no 'entities' object"),
        ("corrupt_part", "cannot read the mismatch parts"),
    ],
)
def test_a_broken_run_directory_is_one_clear_error(runs, breakage, needle):
    run = runs[2]
    if breakage == "missing":
        shutil.rmtree(run)
    elif breakage == "no_run_json":
        (run / "run.json").unlink()
    elif breakage == "corrupt_summary":
        (run / "summary.json").write_text('{"entities": {')
    elif breakage == "no_entities":
        (run / "summary.json").write_text('{"status": "complete"}')
    else:
        (run / "mismatches" / "line_item" / "part-000001.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(RunDirError) as err:
        load_report(str(run), compare=False)
    assert needle in str(err.value)


def test_a_full_run_skips_rechecks_and_a_recheck_compares_with_its_run(runs):
    home = runs[0].parent
    recheck = write_run(
        home / "20250104T100000_000000Z",
        "2025-01-04T10:00:00.000000+00:00",
        [("line_item", (1, 2), "value", "budget", "10.005000", "10.010000", "money_rounding")],
        options={"only_previous_mismatches": f"runs/{RUN_IDS[1]}"},
    )
    report = load_report(str(recheck))
    assert report.comparison is not None and report.comparison.other.id == RUN_IDS[1]
    assert any(f"re-checked only the keys that differed in runs/{RUN_IDS[1]}" in n for n in report.notes)
    assert not any("count as fixed" in n for n in report.comparison.notes)
    other = load_report(str(recheck), compare_to=str(runs[0]))
    assert other.comparison is not None
    assert any("were not re-checked and count as fixed" in n for n in other.comparison.notes)
    full = write_run(home / "20250105T100000_000000Z", "2025-01-05T10:00:00.000000+00:00", [])
    report = load_report(str(full))
    assert report.comparison is not None and report.comparison.other.id == RUN_IDS[2]
    assert "20250104T100000_000000Z" not in [p.run_id for p in report.history]  # re-checks are not charted


@pytest.mark.parametrize(
    "change, why",
    [
        ({"new_url": "postgresql+psycopg://app:***@staging-db/shop"}, "it read other stores"),
        ({"mapping": {"sha256": "cd" * 32}}, "its mapping file differs"),
        ({"options": {"entities": ["line_item"]}}, "it compared other entities (line_item)"),
    ],
)
def test_a_run_of_other_stores_mapping_or_entities_is_no_previous_run(runs, change, why):
    # The two earlier runs read other stores (or another mapping, or other entities): keys they
    # had would show as "fixed" or "new" though nothing changed. Neither is compared with.
    for path in runs[:2]:
        info = json.loads((path / "run.json").read_text())
        info.update({k: ({**info[k], **v} if isinstance(v, dict) else v) for k, v in change.items()})
        (path / "run.json").write_text(json.dumps(info))
    report = load_report(str(runs[2]))
    assert report.comparison is None
    note = next(n for n in report.notes if "nothing to compare with" in n)
    assert why in note and RUN_IDS[1] in note and "--compare-to" in note
    assert [p.run_id for p in report.history] == [RUN_IDS[2]]  # the trend leaves them out too
