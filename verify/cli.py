"""The `verify` command line: parse options, call the library, render, pick the exit code."""

from __future__ import annotations

import atexit
import functools
import gc
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from verify import __version__
from verify.errors import EXIT_DIFFERENCES, EXIT_INTERRUPTED, EXIT_OK, UsageError, VerifyError
from verify.sources import READERS

F = TypeVar("F", bound=Callable[..., Any])

# At exit, the interpreter's last collection would walk every object that Polars, the readers
# and their imports made (0.1-0.2 s); the work is done and written by then, so they are left
# out of it. Refcounting still closes files and sockets. (atexit runs before that collection.)
atexit.register(gc.freeze)


def reports_errors(fn: F) -> F:
    """Turn a VerifyError into one clear message and its exit code; --debug re-raises."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except VerifyError as exc:
            if click.get_current_context().find_root().params.get("debug"):
                raise
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="verify")
@click.option("--debug", is_flag=True, help="Show the full traceback of an error (for bug reports).")
def main(debug: bool) -> None:
    """Verify that a migrated store holds exactly the data of the old one.

    \b
    verify init     draft a mapping from the two live schemas
    verify check    hold a mapping against the live schemas, reading no rows
    verify diff     compare the old and the new store through a mapping
    verify explain  say what a run's unexplained differences have in common
    verify gate     turn a run into a pass/fail verdict for a rollout stage
    verify report   render a run for reviewers
    verify scenario build   load the DFP -> F1 demo scenario into two stores
    """
    # verify does no linear algebra, but pyarrow (the SQLAlchemy reader's, the history's) loads
    # numpy, whose OpenBLAS starts a thread per core that polls while idle: about 1% of a diff's
    # client CPU (perf, 1M rows). Before numpy.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if not debug:
        # A reader's Rust panic or pool log becomes one clear error below; they are for --debug.
        os.environ["RUST_BACKTRACE"] = "0"
        os.environ["RUST_LOG"] = "off"


class _EnvOption(click.Option):
    """An option that may come from the environment; its errors say so ('--old' or VERIFY_OLD_URL)."""

    def get_error_hint(self, ctx: click.Context | None) -> str:
        return f"{super().get_error_hint(ctx)} (or {self.envvar})"


OLD_URL = click.option(
    "--old",
    "old_url",
    cls=_EnvOption,
    envvar="VERIFY_OLD_URL",
    required=True,
    metavar="URL",
    help="Old store (SQLAlchemy URL; or VERIFY_OLD_URL).",
)
NEW_URL = click.option(
    "--new",
    "new_url",
    cls=_EnvOption,
    envvar="VERIFY_NEW_URL",
    required=True,
    metavar="URL",
    help="New store (SQLAlchemy URL; or VERIFY_NEW_URL).",
)
RUN_DIR = click.option(
    "--run",
    "run_dir",
    required=True,
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Run directory written by verify diff (e.g. .verify/runs/latest).",
)
MAPPING = click.option(
    "--mapping",
    "mapping_path",
    required=True,
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Mapping YAML file.",
)


@main.command()
@click.option(
    "--mapping",
    "mapping_path",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Mapping YAML file (required, except with --resume, which reuses the run's).",
)
@OLD_URL
@NEW_URL
@click.option(
    "--entity",
    "entities",
    multiple=True,
    metavar="NAME",
    help="Only this entity (repeatable). Default: every entity of the mapping.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Run directory to write. Default: .verify/runs/<timestamp>.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    metavar="N",
    help="Segments diffed at once by the local executor (threads). Default: the number of cores.",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="Where segments run: threads in this process, or tasks on a Dask cluster (--scheduler).",
)
@click.option(
    "--scheduler",
    envvar="VERIFY_DASK_SCHEDULER",
    metavar="ADDRESS",
    help="The Dask scheduler for --executor dask, e.g. tcp://HOST:8786 (or VERIFY_DASK_SCHEDULER). "
    "Its workers need verify installed, access to both stores, and --out on shared storage.",
)
@click.option(
    "--segment-rows",
    type=click.IntRange(min=1),
    default=50_000,
    show_default=True,
    metavar="N",
    help="Target rows per segment (the unit of memory and of work).",
)
@click.option(
    "--reader",
    type=click.Choice(READERS),
    default="auto",
    show_default=True,
    help="How to read the sources: auto takes each store's fastest reader (ADBC for PostgreSQL, "
    "ConnectorX for MySQL/MariaDB and SQLite); adbc, connectorx or sqlalchemy force one for both.",
)
@click.option(
    "--sample",
    type=click.FloatRange(0, 1, min_open=True),
    metavar="FRACTION",
    help="Compare only this fraction of the keys (e.g. 0.01), the same keys every time for the same "
    "seed; integer keys are sampled in the sources' SQL. `verify gate` judges a sample on the upper "
    "bound of its rate's confidence interval.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Which keys --sample picks (same seed, same keys)."
)
@click.option(
    "--stage",
    type=float,
    metavar="PERCENT",
    help="Compare only the rows rollout stage PERCENT serves: the cohort of --policy.",
)
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Rollout policy whose 'cohort:' says who each stage serves (with --stage).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Print the summary as text or as JSON.",
)
@click.option(
    "--only-previous-mismatches",
    "previous_run",
    type=click.Path(file_okay=False),
    metavar="RUN",
    help="Re-check only the keys that differed in the earlier run directory RUN "
    "(e.g. .verify/runs/latest): the quick fix-and-rerun loop.",
)
@click.option(
    "--resume",
    "resume_dir",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Finish the partial run in DIR (interrupted, or with failed segments): its mapping, "
    "entities and segments are reused and finished segments are not read again.",
)
@click.option(
    "--max-connections",
    type=click.IntRange(min=1),
    metavar="N",
    help="At most N reads at a time from each store. Default: --workers.",
)
@click.option(
    "--max-rows-per-second",
    type=click.FloatRange(min=0, min_open=True),
    metavar="R",
    help="Read at most R rows a second from each store, on average (to spare a live store).",
)
@click.option(
    "--settle-column",
    metavar="COLUMN",
    help="Live data: a compared timestamp column holding each row's last change. With "
    "--settle-seconds, keys changed that recently on either side are left out (counted as "
    "skipped_unsettled).",
)
@click.option(
    "--settle-seconds",
    type=click.FloatRange(min=0),
    default=0.0,
    metavar="N",
    help="How recent a change must be to leave its key out (with --settle-column).",
)
@click.option(
    "--recheck-after",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="Live data: read the differing keys again after SECONDS; what matches then is counted "
    "as the rule 'transient' (accepted), what still differs keeps its first finding.",
)
@click.option(
    "--algorithm",
    type=click.Choice(["rows", "checksum", "auto"]),
    default="rows",
    show_default=True,
    help="rows: read every row. checksum: ask both databases for checksums of key ranges and "
    "read rows only where they differ (entities whose columns cannot be rendered exactly in "
    "SQL are read as rows; verify check says which). auto: checksums when the previous run of "
    "this mapping found under 1% of rows differing.",
)
@reports_errors
def diff(
    mapping_path: str | None,
    old_url: str,
    new_url: str,
    entities: tuple[str, ...],
    out_dir: str | None,
    workers: int | None,
    executor: str,
    scheduler: str | None,
    segment_rows: int,
    reader: str,
    sample: float | None,
    seed: int,
    stage: float | None,
    policy_path: str | None,
    fmt: str,
    previous_run: str | None,
    resume_dir: str | None,
    max_connections: int | None,
    max_rows_per_second: float | None,
    settle_column: str | None,
    settle_seconds: float,
    recheck_after: float | None,
    algorithm: str,
) -> None:
    """Compare the old and the new store through a mapping and write a run directory.

    Exit 0: no blocking difference; 1: blocking differences; 2: bad input;
    3: the run could not complete.
    """
    from verify.engine.memory import limit_allocator_growth
    from verify.engine.run import DiffOptions, run_diff
    from verify.engine.subset import make_subset
    from verify.report.terminal import ProgressDisplay, render_diff

    limit_allocator_growth()
    if resume_dir:
        from verify.results.rundir import read_resumable

        if out_dir and os.path.abspath(out_dir) != os.path.abspath(resume_dir):
            raise UsageError("--resume DIR writes into DIR; leave out --out")
        out_dir = resume_dir
        mapping_path = mapping_path or read_resumable(resume_dir).mapping_path
    if not mapping_path:
        raise UsageError("give --mapping FILE (or --resume DIR of a run, whose mapping is reused)")
    if executor == "dask" and workers:
        raise UsageError(
            "--workers sizes the local executor's thread pool; on Dask the cluster's workers "
            "and their threads run the segments: leave --workers out"
        )
    given = click.get_current_context().get_parameter_source("scheduler")
    if executor == "local" and scheduler and given == click.core.ParameterSource.COMMANDLINE:
        raise UsageError("--scheduler is the Dask scheduler's address: give it with --executor dask")
    options = DiffOptions(
        mapping_path=mapping_path,
        old_url=old_url,
        new_url=new_url,
        entities=entities,
        out_dir=out_dir,
        workers=workers or os.cpu_count() or 1,
        segment_rows=segment_rows,
        reader=reader,
        only_previous_mismatches=previous_run,
        resume=bool(resume_dir),
        max_connections=max_connections,
        max_rows_per_second=max_rows_per_second,
        settle_column=settle_column,
        settle_seconds=settle_seconds,
        recheck_after=recheck_after,
        algorithm=algorithm,
        subset=make_subset(sample, seed, stage, policy_path),
        executor=executor,
        scheduler=scheduler if executor == "dask" else None,
        on_progress=ProgressDisplay(bar=sys.stderr.isatty()),
    )
    result = run_diff(options)
    click.echo(render_diff(result, fmt))
    sys.exit(result.exit_code)


@main.command()
@MAPPING
@OLD_URL
@NEW_URL
@reports_errors
def check(mapping_path: str, old_url: str, new_url: str) -> None:
    """Hold a mapping against the live schemas of both stores, reading no rows.

    Exit 0: the mapping fits both schemas; 2: it does not (every problem is listed).
    """
    from verify.engine.check import check_mapping
    from verify.report.terminal import render_check

    click.echo(render_check(check_mapping(mapping_path, old_url, new_url)))


@main.command()
@click.option(
    "--run",
    "run_dir",
    required=True,
    metavar="DIR",
    help="Run directory of verify diff (e.g. .verify/runs/latest).",
)
@click.option(
    "--policy",
    "policy_path",
    required=True,
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Rollout policy YAML.",
)
@click.option(
    "--stage", required=True, type=float, metavar="PERCENT", help="The rollout stage to gate, e.g. 25."
)
@click.option(
    "--mapping",
    "mapping_path",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="The mapping to hold against the run's sha256. Default: the path in run.json.",
)
@click.option(
    "--inconclusive",
    type=click.Choice(["fail", "pass"]),
    default="fail",
    show_default=True,
    help="Exit code of INCONCLUSIVE (too few rows compared).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "prometheus"]),
    default="text",
    show_default=True,
    help="text for people, json for machines, prometheus for a node_exporter textfile collector.",
)
@reports_errors
def gate(
    run_dir: str, policy_path: str, stage: float, mapping_path: str | None, inconclusive: str, fmt: str
) -> None:
    """Turn a run into a PASS, FAIL or INCONCLUSIVE verdict for one rollout stage.

    Fails closed: a partial or running run, a missing or corrupt file, a changed mapping,
    results older than the policy allows, a run of another cohort, or an entity the policy
    names but the run lacks is a FAIL that says why. A sampled run is judged on the upper
    bound of its rate's confidence interval. Also prints the highest stage the run passes.

    Exit 0: PASS; 1: FAIL (INCONCLUSIVE too, unless --inconclusive pass); 2: bad input.
    """
    from verify.gate.render import render_verdict
    from verify.gate.verdict import INCONCLUSIVE, PASS, gate_run

    verdict = gate_run(run_dir, policy_path, stage, mapping_path)
    click.echo(render_verdict(verdict, fmt), nl=fmt != "prometheus")
    passed = verdict.verdict == PASS or (verdict.verdict == INCONCLUSIVE and inconclusive == "pass")
    sys.exit(EXIT_OK if passed else EXIT_DIFFERENCES)


@main.command()
@RUN_DIR
@click.option("--html", type=click.Path(dir_okay=False), metavar="FILE", help="Self-contained HTML page.")
@click.option(
    "--markdown",
    type=click.Path(dir_okay=False, allow_dash=True),
    metavar="FILE",
    help="Markdown for a pull request or a CI job summary ('-' for stdout).",
)
@click.option(
    "--junit",
    type=click.Path(dir_okay=False, allow_dash=True),
    metavar="FILE",
    help="JUnit XML: one test case per entity and rule; blocking rules fail.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, allow_dash=True),
    metavar="FILE",
    help="JSON: the summary plus samples, history and the comparison.",
)
@click.option(
    "--compare-to",
    "compare_to",
    type=click.Path(file_okay=False),
    metavar="RUN",
    help="Earlier run directory to compare with. Default: the previous complete run of the same "
    "mapping next to DIR.",
)
@click.option("--no-compare", is_flag=True, help="Leave the comparison with an earlier run out.")
@click.option(
    "--samples",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    metavar="N",
    help="Sample rows per rule.",
)
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="A rollout policy: the reports show the gate's verdict at --stage beside their own.",
)
@click.option("--stage", type=float, metavar="PERCENT", help="The rollout stage to gate (with --policy).")
@reports_errors
def report(
    run_dir: str,
    html: str | None,
    markdown: str | None,
    junit: str | None,
    json_path: str | None,
    compare_to: str | None,
    no_compare: bool,
    samples: int,
    policy_path: str | None,
    stage: float | None,
) -> None:
    """Render a run for reviewers: HTML, Markdown, JSON, JUnit XML.

    With no output option the Markdown goes to stdout. Per entity and rule the report also says
    which keys were fixed, are new and are still there since an earlier run (--compare-to,
    default the previous run). Exit 0: written; 2: bad input (a missing or corrupt run directory).
    """
    from verify.report.load import load_report
    from verify.report.output import renderers, write_text

    if compare_to and no_compare:
        raise UsageError("--compare-to and --no-compare exclude each other; give one")
    outputs = {"html": html, "markdown": markdown, "junit": junit, "json": json_path}
    if not any(outputs.values()):
        outputs["markdown"] = "-"
    if sum(1 for v in outputs.values() if v == "-") > 1:
        raise UsageError("only one report can go to stdout ('-'); give the others a file")
    if (policy_path is None) != (stage is None):
        raise UsageError("--policy and --stage go together: give both, or neither")
    result = load_report(run_dir, compare_to=compare_to, compare=not no_compare, sample_rows=samples)
    if policy_path is not None and stage is not None:
        import dataclasses

        from verify.gate.render import render_text
        from verify.gate.verdict import gate_run
        from verify.report.model import GateView

        verdict = gate_run(run_dir, policy_path, stage, None)
        gate = GateView(verdict.verdict, stage, tuple(render_text(verdict).splitlines()))
        result = dataclasses.replace(result, gate=gate)
    render = renderers()
    for fmt, path in outputs.items():
        if not path:
            continue
        text = render[fmt](result)
        if path == "-":
            click.echo(text, nl=False)
        else:
            write_text(path, text, f"--{fmt}")
            click.echo(f"{fmt} report: {path}", err=True)
    if result.comparison:
        c = result.comparison
        click.echo(f"compared with {c.other.id} ({c.chosen_by})", err=True)


@main.command()
@RUN_DIR
@reports_errors
def explain(run_dir: str) -> None:
    """Print what the run's unexplained differences have in common, as YAML to merge into the
    mapping: column keys (normalize, timezone, map_old, an expression) and rules.

    Each snippet says how many rows it would explain and how many of its column it would not.
    A suggestion changes no verdict: review it, merge it, run verify diff again. Exit 0; 2: bad
    input (a missing or corrupt run directory).
    """
    from verify.report.explanations import render_yaml
    from verify.results.history import read_run

    click.echo(render_yaml(read_run(run_dir).summary.explanations), nl=False)


@main.command()
@OLD_URL
@NEW_URL
@click.option(
    "--table",
    "tables",
    multiple=True,
    metavar="OLD[=NEW]",
    help="A table pair to draft (repeatable); default: every table whose name pairs.",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, allow_dash=True),
    default="-",
    metavar="FILE",
    help="Where to write the draft ('-', the default: stdout); an existing file is not overwritten.",
)
@reports_errors
def init(old_url: str, new_url: str, tables: tuple[str, ...], out_path: str) -> None:
    """Draft a mapping from the two live schemas: tables paired by name, keys from primary keys
    and unique indexes, columns by name and by likely renames, each with a comment saying why.

    Review the draft, then run verify check on it. Exit 0: drafted; 2: bad input (a URL, a
    table that is not there, a file that exists).
    """
    from verify.draft import draft
    from verify.report.output import write_text
    from verify.sources.open import reader_for

    if out_path != "-" and os.path.exists(out_path):
        raise UsageError(f"--out {out_path} exists; verify init does not overwrite it: give another file")
    text = draft(reader_for(old_url, "auto", "old"), reader_for(new_url, "auto", "new"), tables)
    if out_path == "-":
        click.echo(text, nl=False)
    else:
        write_text(out_path, text, "--out")
        click.echo(
            f"drafted {out_path}; review it, then: verify check --mapping {out_path} --old URL --new URL",
            err=True,
        )


@main.group()
def scenario() -> None:
    """Demo and test scenarios with planted defects and ground truth."""


@scenario.command("build")
@click.argument("name", type=click.Choice(["dfp_to_f1"]))
@OLD_URL
@NEW_URL
@click.option(
    "--rows",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Number of line items (the other tables scale with it).",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same data.")
@click.option(
    "--truth",
    "truth_path",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Where to write the ground truth (Parquet). "
    "Default: next to the new SQLite file, else ./<name>-truth.parquet.",
)
@click.option(
    "--rate",
    "rates",
    multiple=True,
    metavar="DEFECT=RATE",
    help="Override one planted defect's rate, e.g. --rate dropped=0.001 (repeatable); "
    "--rate all=0 plants none.",
)
@reports_errors
def scenario_build(
    name: str,
    old_url: str,
    new_url: str,
    rows: int,
    seed: int,
    truth_path: str | None,
    rates: tuple[str, ...],
) -> None:
    """Generate the scenario and load the old data into --old, the migrated data into --new."""
    from verify.scenario import build

    result = build(
        name, old_url=old_url, new_url=new_url, rows=rows, seed=seed, truth_path=truth_path, rates=rates
    )
    click.echo(result.describe())


if __name__ == "__main__":
    main()
