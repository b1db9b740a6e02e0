"""`run_study`: a whole expansion study into an output folder, resumable, local or on Dask.

Folder layout (every table readable while the study runs, see `twin.study.store`)::

    DIR/study.json          the study as run (settings fingerprint: a resume must match it)
    DIR/results.csv|.parquet    one row per candidate
    DIR/status_quo.csv|.parquet one row per strategy and dispatch mode: the park without
                            any candidate, as dispatched and grid-aware
    DIR/hosting.csv|.parquet    one row per enterprise bus (if the study has [hosting])
    DIR/reinforcement.csv|.parquet  one row per strategy: the status quo's reinforcement
                            need and plan (`twin.study.reinforcement`)
    DIR/status_quo_samples.csv|.parquet  with [uncertainty]: one row per strategy and sample
    DIR/samples.csv|.parquet    with [uncertainty]: one row per candidate and sample
    DIR/spread.csv|.parquet     with [uncertainty]: P10/P50/P90 per candidate (at the end)
    DIR/*.png               figures (written at the end)

Order of work: the status quo of each strategy and the hosting bisections are submitted
first; the candidates of a strategy are submitted as soon as its status quo is in, in
every dispatch mode of the study (their savings are increments over it), so the workers
never idle on a dependency. A sample's candidates likewise follow that sample's status quo
(`twin.study.samples`; samples run in the study's first dispatch mode).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from grid.site import Reinforcements
from parktwin.errors import InputError
from parktwin.files import write_json
from parktwin.limits import GridLimits, grid_limits
from twin.study.candidates import Candidate, default_trafo_kva, expand_candidates, stable_key
from twin.study.execute import BASE_COLUMNS, RunCounts, TaskRunner, make_executor
from twin.study.growth import check_growth
from twin.study.hosting import HOSTING_COLUMNS, HostingTask, run_hosting
from twin.study.model import Study
from twin.study.reinforcement import (
    ReinforcementTask,
    reinforcement_columns,
    run_reinforcement,
)
from twin.study.samples import (
    SAMPLE_CANDIDATE_COLUMNS,
    SAMPLE_REFERENCE_COLUMNS,
    SampleCandidateTask,
    SampleReferenceTask,
    reference_key,
    run_sample_candidate,
    run_sample_reference,
    spread_frame,
)
from twin.study.store import ResultTable, study_lock, write_frame
from twin.study.tasks import (
    CANDIDATE_COLUMNS,
    REFERENCE_COLUMNS,
    CandidateTask,
    ReferenceTask,
    run_candidate,
    run_reference,
)
from twin.study.uncertainty import SampleInputs, draws, future_scheme
from twin.study.verdict import StatusQuo

STUDY_FORMAT = 4  # bump when the tables' columns or meaning change


@dataclass(frozen=True)
class UnitInfo:
    """What the driver needs of a unit type at a PCS rating."""

    e_kwh: float
    p_kw: float
    pcs_kva: float
    technology: str = "lfp"


@dataclass
class StudyPlan:
    """A study resolved against its site: candidates and hosting tasks, ready to submit."""

    study: Study
    candidates: list[Candidate]
    feeders: dict[str, str]  # enterprise -> feeder
    units: dict[tuple[str, float], UnitInfo]
    hosting: list[HostingTask] = field(default_factory=list)
    limits: GridLimits = field(default_factory=grid_limits)

    @property
    def strategies(self) -> list[str]:
        return list(dict.fromkeys(c.strategy for c in self.candidates))


def _unit_info(unit_type: str, pcs_kva: float | None) -> UnitInfo:
    from devices import load_unit_params

    p = load_unit_params(unit_type, pcs_kva=pcs_kva)
    return UnitInfo(e_kwh=p.e_nom_kwh, p_kw=p.p_max_kw, pcs_kva=p.pcs_kva, technology=p.technology)


def plan_study(study: Study) -> StudyPlan:
    """Resolve `study` against its site and unit types; every mistake is a one-line InputError."""
    from grid import default_site as builtin_site
    from grid import load_site
    from twin.scenario import Scenario

    settings = study.study
    site = load_site(settings.site) if settings.site is not None else builtin_site()
    names = [e.name for e in site.enterprises]
    feeders = {e.name: e.feeder for e in site.enterprises}
    mv_kv = site.mv_kv
    sizes = site.equipment.sizes(mv_kv, 0.69)  # the units' 0.69 kV step-up transformers
    check_growth(site, settings.load_growth, settings.start.year, settings.years)
    candidates = expand_candidates(study, names, lambda t: _unit_info(t, None).pcs_kva, sizes)
    units: dict[tuple[str, float], UnitInfo] = {}
    for c in candidates:
        if c.trafo_kva not in sizes:
            raise InputError(
                f"candidates: {c.label}: no {mv_kv:g}/0.69 kV transformer of {c.trafo_kva:g} kVA"
                f" in the site's catalogue (have {', '.join(f'{s:g}' for s in sizes)})"
            )
        if c.pcs_kva > c.trafo_kva:
            raise InputError(
                f"candidates: {c.label}: PCS {c.pcs_kva:g} kVA above its transformer's"
                f" {c.trafo_kva:g} kVA"
            )
        if (c.unit_type, c.pcs_kva) not in units:
            units[(c.unit_type, c.pcs_kva)] = _unit_info(c.unit_type, c.pcs_kva)
    for s in dict.fromkeys(c.strategy for c in candidates):
        try:
            Scenario(strategy=s)
        except ValueError as exc:
            raise InputError(
                f"candidates: strategy {s!r}: expected a built-in name or 'module.path:ClassName'"
            ) from exc
    unc = study.uncertainty
    if unc is not None and unc.scheme_change is not None:
        future_scheme(unc.scheme_change)  # a bad scheme or ratio stops before any work
    plan = StudyPlan(study, candidates, feeders, units, limits=site.limits or grid_limits())
    h = study.hosting
    if h is not None:
        if h.enterprises == "all":
            hosts = names
        else:
            hosts = list(h.enterprises)
            for n in hosts:
                if n not in names:
                    raise InputError(f"hosting.enterprises: unknown enterprise {n!r}")
        info = _unit_info(h.unit_type, h.pcs_kva)
        trafo = h.trafo_kva or default_trafo_kva(info.pcs_kva, sizes)
        plan.hosting = [
            HostingTask(
                enterprise=n,
                feeder=feeders[n],
                hosting=h,
                settings=settings,
                limits=plan.limits,
                pcs_kva=info.pcs_kva,
                trafo_kva=trafo,
                e_unit_kwh=info.e_kwh,
                p_unit_kw=info.p_kw,
            )
            for n in hosts
        ]
    return plan


def fingerprint(study: Study, limits: GridLimits) -> str:
    """Hash of everything but the candidate list and the number of samples (more samples
    extend the ones there): rows made under other settings differ."""
    data = study.model_dump(mode="json", exclude={"candidates", "uncertainty"})
    if study.uncertainty is not None:
        data["uncertainty"] = study.uncertainty.model_dump(mode="json", exclude={"samples"})
    data["limits"] = limits.model_dump(mode="json")
    data["format"] = STUDY_FORMAT
    return stable_key(data)


def _check_folder(out: Path, study: Study, limits: GridLimits) -> None:
    path = out / "study.json"
    fp = fingerprint(study, limits)
    if path.exists():
        try:
            old = json.loads(path.read_text("utf-8")).get("fingerprint")
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: unreadable ({exc}); use another --out folder") from exc
        if old != fp:
            raise InputError(
                f"{out}: holds a study run with other settings (years, days, finance, hosting "
                "or limits differ); use another --out folder to keep both"
            )
    write_json(
        path,
        {
            "fingerprint": fp,
            "format": STUDY_FORMAT,
            "study": study.model_dump(mode="json"),
            "limits": limits.model_dump(mode="json"),
            # each uncertain input's range, source and confidence, the shipped ones included
            **(
                {"uncertain_inputs": study.uncertainty.sources()}
                if study.uncertainty is not None
                else {}
            ),
        },
    )


def tables(out: Path) -> dict[str, ResultTable]:
    """The study's result tables in `out` (created empty if new; the sample tables only
    get rows with [uncertainty])."""
    return {
        "results": ResultTable(out / "results.csv", {**BASE_COLUMNS, **CANDIDATE_COLUMNS}),
        "status_quo": ResultTable(out / "status_quo.csv", {**BASE_COLUMNS, **REFERENCE_COLUMNS}),
        "hosting": ResultTable(out / "hosting.csv", {**BASE_COLUMNS, **HOSTING_COLUMNS}),
        "reinforcement": ResultTable(
            out / "reinforcement.csv", {**BASE_COLUMNS, **reinforcement_columns()}
        ),
        "status_quo_samples": ResultTable(
            out / "status_quo_samples.csv", {**BASE_COLUMNS, **SAMPLE_REFERENCE_COLUMNS}
        ),
        "samples": ResultTable(out / "samples.csv", {**BASE_COLUMNS, **SAMPLE_CANDIDATE_COLUMNS}),
    }


@dataclass
class StudyResult:
    """What a finished (or resumed) study holds."""

    out_dir: Path
    results: pd.DataFrame
    status_quo: pd.DataFrame
    hosting: pd.DataFrame
    counts: RunCounts
    figures: list[Path]
    workers: int
    status_quo_samples: pd.DataFrame = field(default_factory=pd.DataFrame)
    """With [uncertainty]: one row per strategy and sample, with its draw."""
    samples: pd.DataFrame = field(default_factory=pd.DataFrame)
    """With [uncertainty]: one row per candidate and sample (samples.csv)."""
    reinforcement: pd.DataFrame = field(default_factory=pd.DataFrame)
    """One row per strategy: the status quo's reinforcement need and plan."""
    spread: pd.DataFrame = field(default_factory=pd.DataFrame)
    """With [uncertainty]: one `CandidateSpread` row per candidate, ranked (spread.csv);
    its columns are also in `results`."""


def run_study(
    study: Study,
    out_dir: str | Path,
    workers: int | None = None,
    scheduler: str | None = None,
    retry_failed: bool = False,
    progress_factory: Callable[[], object] | None = None,
    figures: bool = True,
) -> StudyResult:
    """Run every candidate (and hosting bisection) of `study` not yet in `out_dir`.

    `workers`: local processes (default: one per core); `scheduler`: a Dask scheduler
    address instead. `retry_failed`: run candidates that failed before again.
    `progress_factory()` returns a context manager with ``add``/``advance`` (a rich bar).
    """
    return run_plan(
        plan_study(study), out_dir, workers, scheduler, retry_failed, progress_factory, figures
    )


def run_plan(
    plan: StudyPlan,
    out_dir: str | Path,
    workers: int | None = None,
    scheduler: str | None = None,
    retry_failed: bool = False,
    progress_factory: Callable[[], object] | None = None,
    figures: bool = True,
) -> StudyResult:
    """`run_study` of an already resolved plan (e.g. one cut to fewer candidates)."""
    study = plan.study
    out = Path(out_dir)
    with study_lock(out):
        # the executor first: a refused --workers/--scheduler must not leave study.json
        executor = make_executor(workers=workers, scheduler=scheduler)
        try:
            _check_folder(out, study, plan.limits)
        except BaseException:
            executor.close(cancel=True)
            raise
        tabs = tables(out)
        if retry_failed:
            for t in tabs.values():
                t.drop({r["key"] for r in t.rows() if r["status"] == "failed"})
        progress = progress_factory() if progress_factory is not None else None
        runner = TaskRunner(executor)
        try:
            if progress is not None:
                progress.__enter__()
                runner.progress = progress
            _submit(plan, runner, tabs)
            counts = runner.run()
        finally:
            for t in tabs.values():
                t.flush()
            if progress is not None:
                progress.__exit__(None, None, None)
        executor.close(cancel=False)
        result = StudyResult(
            out_dir=out,
            results=tabs["results"].frame(),
            status_quo=tabs["status_quo"].frame(),
            hosting=tabs["hosting"].frame(),
            reinforcement=tabs["reinforcement"].frame(),
            counts=counts,
            figures=[],
            workers=executor.workers,
        )
        if study.uncertainty is not None:
            result.status_quo_samples = tabs["status_quo_samples"].frame()
            _with_spread(result, tabs["samples"], study.uncertainty.samples)
        if figures:
            from twin.study.figures import write_figures

            result.figures = write_figures(result, plan.feeders, study.finance.discount_rate)
    return result


def _with_spread(result: StudyResult, samples: ResultTable, n: int) -> None:
    """The spread of each candidate over its first `n` samples, into ``spread.csv|.parquet``
    and the results' columns (a folder may hold more samples from a longer run before)."""
    frame = samples.frame()
    if not frame.empty:
        frame = frame[frame["sample"].astype(int) < n].reset_index(drop=True)
    spread = spread_frame(result.results, frame)
    write_frame(result.out_dir / "spread.csv", spread)
    result.samples = frame
    result.spread = spread
    if not spread.empty:
        result.results = result.results.merge(spread, on="key", how="left")


def _submit_samples(
    plan: StudyPlan, runner: TaskRunner, tabs: dict[str, ResultTable], by_strategy: dict
) -> None:
    """Every sample's status quo of each strategy, then that sample's candidates."""
    s = plan.study
    assert s.uncertainty is not None

    def candidates_after(strategy: str, inputs: SampleInputs) -> Callable[[dict | None], None]:
        def then(ref: dict | None) -> None:
            if ref is None or ref["status"] != "ok":
                return  # its candidates' samples wait for --retry-failed
            tasks = [
                SampleCandidateTask(
                    candidate=c,
                    settings=s.study,
                    finance=s.finance.for_technology(
                        plan.units[(c.unit_type, c.pcs_kva)].technology
                    ),
                    limits=plan.limits,
                    e_unit_kwh=plan.units[(c.unit_type, c.pcs_kva)].e_kwh,
                    inputs=inputs,
                    reference_savings_yuan=tuple(ref["savings_yuan_by_year"]),
                )
                for c in by_strategy[strategy]
            ]
            runner.add(run_sample_candidate, tasks, tabs["samples"])

        return then

    for inputs in draws(s.uncertainty, s.study.seed):
        for strategy in by_strategy:
            task = SampleReferenceTask(s.study, strategy, inputs, reference_key(strategy))
            runner.add(
                run_sample_reference,
                [task],
                tabs["status_quo_samples"],
                then=candidates_after(strategy, inputs),
            )


def _submit(plan: StudyPlan, runner: TaskRunner, tabs: dict[str, ResultTable]) -> None:
    s = plan.study
    by_strategy: dict[str, list[Candidate]] = {}
    for c in plan.candidates:
        by_strategy.setdefault(c.strategy, []).append(c)

    modes = s.study.dispatch_modes

    needs: list[bool | str] = [*modes, *(["reinforced"] if s.study.reinforce else [])]

    def candidates_after(strategy: str) -> Callable[[bool | str], Callable[[dict | None], None]]:
        refs: dict[bool | str, dict | None] = {}

        def then_mode(what: bool | str) -> Callable[[dict | None], None]:
            def then(ref: dict | None) -> None:
                refs[what] = ref
                if len(refs) == len(needs):  # the status quo is in, every way
                    plan_row = refs.get("reinforced")
                    if plan_row is not None and plan_row["status"] != "ok":
                        plan_row = None  # its error is in reinforcement.csv
                    submit(strategy, [refs[m] for m in modes], plan_row)

            return then

        return then_mode

    def submit(strategy: str, refs: list[dict | None], plan_row: dict | None) -> None:
        cands = by_strategy[strategy]
        bad = [r for r in refs if r is None or r["status"] != "ok"]
        if bad:
            err = (bad[0] or {}).get("error") or "no result"
            for c in cands:
                if c.key not in tabs["results"].keys:
                    tabs["results"].append(_failed_row(plan, c, f"status quo failed: {err}"))
            return
        tasks = [
            CandidateTask(
                candidate=c,
                settings=s.study,
                finance=s.finance.for_technology(plan.units[(c.unit_type, c.pcs_kva)].technology),
                limits=plan.limits,
                e_unit_kwh=plan.units[(c.unit_type, c.pcs_kva)].e_kwh,
                p_unit_kw=plan.units[(c.unit_type, c.pcs_kva)].p_kw,
                feeder=plan.feeders[c.enterprise],
                references=tuple(StatusQuo.from_row(r, c.enterprise) for r in refs),
                reinforced=(
                    StatusQuo.from_row(plan_row, c.enterprise) if plan_row is not None else None
                ),
                reinforcement=(
                    Reinforcements.model_validate(plan_row["reinforcement"])
                    if plan_row is not None
                    else None
                ),
            )
            for c in cands
        ]
        runner.add(run_candidate, tasks, tabs["results"])

    for strategy in by_strategy:
        after = candidates_after(strategy)
        for aware in modes:
            runner.add(
                run_reference,
                [ReferenceTask(settings=s.study, strategy=strategy, grid_aware=aware)],
                tabs["status_quo"],
                then=after(aware),
            )
        if s.study.reinforce:
            task = ReinforcementTask(
                settings=s.study, strategy=strategy, limits=plan.limits, grid_aware=modes[0]
            )
            runner.add(run_reinforcement, [task], tabs["reinforcement"], then=after("reinforced"))
    if plan.hosting:
        runner.add(run_hosting, plan.hosting, tabs["hosting"])
    if s.uncertainty is not None:
        _submit_samples(plan, runner, tabs, by_strategy)


def _failed_row(plan: StudyPlan, c: Candidate, error: str) -> dict:
    return {
        "key": c.key,
        "status": "failed",
        "error": error,
        "label": c.label,
        "enterprise": c.enterprise,
        "feeder": plan.feeders.get(c.enterprise, ""),
        "unit_type": c.unit_type,
        "units": c.units,
        "pcs_kva": c.pcs_kva,
        "trafo_kva": c.trafo_kva,
        "strategy": c.strategy,
    }


__all__ = ["StudyPlan", "StudyResult", "plan_study", "run_plan", "run_study", "tables"]
