"""Expansion studies: where and how much storage to add, what it earns, what the feeders take.

    from twin.study import load_study, run_study
    study = load_study("examples/study-next-20mwh.toml").with_days(14)
    result = run_study(study, "out/next20", workers=2)          # local processes
    result = run_study(study, "out/next20", scheduler="tcp://10.0.0.5:8786")   # Dask
    result.results      # DataFrame, one row per candidate (also results.csv / .parquet)
    result.hosting      # DataFrame, one row per enterprise bus (hosting.csv / .parquet)

Layers: `model` (the study file), `candidates` (expansion, stable keys), `finance` (NPV,
IRR, paybacks), `years` (a candidate's years of closed-loop twin runs), `verdict` (what
it breaks beyond the status quo, its margins), `tasks` (what a worker runs and the typed
rows it returns), `hosting` (hosting-capacity bisection), `execute` + `store`
(local/Dask execution, resumable result tables),
`runner` (the study as a whole), `report` and `figures`; with ``[uncertainty]``,
`uncertainty` (the inputs and each sample's draws) and `samples` (sampled tasks, the spread).
"""

from twin.study.candidates import Candidate, expand_candidates
from twin.study.finance import irr, npv, payback_years
from twin.study.model import Finance, Study, default_finance, load_study
from twin.study.runner import StudyResult, plan_study, run_study

__all__ = [
    "Candidate",
    "Finance",
    "Study",
    "StudyResult",
    "default_finance",
    "expand_candidates",
    "irr",
    "load_study",
    "npv",
    "payback_years",
    "plan_study",
    "run_study",
]
