"""The sampled runs of a study with ``[uncertainty]``: tasks, their typed rows, the spread.

Each sample ``i`` is the study run again with the inputs drawn for ``i``
(`twin.study.uncertainty`): the status quo of each strategy first, then every candidate of
that strategy against that sample's status quo, so a candidate's sample NPV is its
increment over the park as it is *under the same draws*. One row per (status quo or
candidate, sample) goes to its table as it finishes: a stopped study resumes per sample.

The spread of each candidate (`CandidateSpread`): P10 / P50 / P90 of NPV, IRR and simple
payback over its samples (`twin.spread.percentiles`); the probability that it beats the
status quo (NPV > 0: it is an increment over the status quo) and that it beats the
candidate ranked next below it (its NPV above that one's in the same sample).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from parktwin.errors import InputError
from parktwin.limits import GridLimits
from twin.spread import percentiles
from twin.study.candidates import Candidate, stable_key
from twin.study.model import Finance, StudySettings
from twin.study.tasks import as_row, candidate_finance, columns_of
from twin.study.uncertainty import SampleInputs
from twin.study.years import candidate_group, simulate_years


def sample_key(base: str, sample: int) -> str:
    """The results-table key of `base`'s (a status quo's or a candidate's key) sample."""
    return f"{base}-s{sample:05d}"


# --- the status quo of a sample --------------------------------------------------------------
@dataclass(frozen=True)
class SampleReferenceTask:
    """The park as it is under `strategy`, over the study's years, with sample inputs."""

    settings: StudySettings
    strategy: str
    inputs: SampleInputs
    reference_key: str  # the nominal status quo's key

    @property
    def key(self) -> str:
        return sample_key(self.reference_key, self.inputs.draw.sample)

    def identity(self) -> dict:
        return {"strategy": self.strategy, **self.inputs.draw.flat()}


@dataclass(frozen=True)
class SampleReferenceRow:
    """The status quo under one strategy in one sample: its draw and the park's savings."""

    strategy: str
    sample: int
    profile_seed: int
    load_growth_per_year: float  # [1/yr] (NaN: the study's)
    availability: float  # [0..1] (NaN: the scenario's own draw)
    price_x_deep_valley: float  # price multipliers per period [-]
    price_x_valley: float
    price_x_flat: float
    price_x_peak: float
    price_x_sharp: float
    scheme_change: str  # the future scheme's first day (ISO), "" if none within the study
    degradation: float  # multiplier of the cells' fade [-]
    savings_yuan_by_year: tuple[float, ...]  # the park's savings [yuan/yr]


SAMPLE_REFERENCE_COLUMNS = columns_of(SampleReferenceRow)


def run_sample_reference(task: SampleReferenceTask) -> dict:
    """Row of a sample's status quo (a worker's entry point)."""
    years = simulate_years(task.inputs.settings(task.settings), task.strategy, sample=task.inputs)
    row = SampleReferenceRow(
        strategy=task.strategy,
        **task.inputs.draw.flat(),
        savings_yuan_by_year=tuple(y.savings_yuan for y in years),
    )
    return as_row(row)


# --- a candidate in a sample -------------------------------------------------------------------
@dataclass(frozen=True)
class SampleCandidateTask:
    """A candidate in one sample, with that sample's status-quo savings per year."""

    candidate: Candidate
    settings: StudySettings
    finance: Finance
    limits: GridLimits
    e_unit_kwh: float
    inputs: SampleInputs
    reference_savings_yuan: tuple[float, ...]

    @property
    def key(self) -> str:
        return sample_key(self.candidate.key, self.inputs.draw.sample)

    def identity(self) -> dict:
        c = self.candidate
        return {"candidate": c.key, "label": c.label, "strategy": c.strategy,
                "sample": self.inputs.draw.sample}  # fmt: skip


@dataclass(frozen=True)
class SampleCandidateRow:
    """One candidate in one sample: increments over that sample's status quo, finance."""

    candidate: str  # the candidate's key (its row in results.csv)
    label: str
    strategy: str
    sample: int
    savings_yuan_by_year: tuple[float, ...]  # beyond the sample's status quo [yuan/yr]
    soh_by_year: tuple[float, ...]  # simulated, fade x the sample's degradation [0..1]
    npv_yuan: float
    irr: float  # [-] (NaN: none)
    simple_payback_years: float  # (NaN: never)
    discounted_payback_years: float
    cash_flows_yuan: tuple[float, ...]  # cf[0] = -capex, cf[k] at the end of year k


SAMPLE_CANDIDATE_COLUMNS = columns_of(SampleCandidateRow)


def run_sample_candidate(task: SampleCandidateTask) -> dict:
    """Row of a candidate in a sample (a worker's entry point)."""
    c, fin = task.candidate, task.finance
    years = simulate_years(
        task.inputs.settings(task.settings),
        c.strategy,
        extra=(candidate_group(c, task.settings.start.year),),
        enterprise=c.enterprise,
        limits=task.limits,
        sample=task.inputs,
    )
    if len(task.reference_savings_yuan) != len(years):
        raise InputError("the status quo has a different number of years than the candidate")
    savings = [y.savings_yuan - r for y, r in zip(years, task.reference_savings_yuan, strict=True)]
    sohs = task.inputs.soh([y.soh_end for y in years])
    _, proj, m = candidate_finance(fin, c, task.e_unit_kwh, savings, sohs)
    row = SampleCandidateRow(
        candidate=c.key,
        label=c.label,
        strategy=c.strategy,
        sample=task.inputs.draw.sample,
        savings_yuan_by_year=tuple(savings),
        soh_by_year=tuple(sohs),
        npv_yuan=m.npv_yuan,
        irr=m.irr,
        simple_payback_years=m.simple_payback_years,
        discounted_payback_years=m.discounted_payback_years,
        cash_flows_yuan=proj.cash_flows,
    )
    return as_row(row)


def reference_key(strategy: str) -> str:
    """The nominal status quo's key (`twin.study.tasks.ReferenceTask.key`)."""
    return "status-quo-" + stable_key({"strategy": strategy})


# --- the spread of each candidate -----------------------------------------------------------
@dataclass(frozen=True)
class CandidateSpread:
    """One candidate's figures over the study's samples (``spread.csv``)."""

    key: str  # the candidate's key (its row in results.csv)
    samples: int  # samples that finished for it [-]
    npv_p10_yuan: float
    npv_p50_yuan: float
    npv_p90_yuan: float
    irr_p10: float  # [-] (-inf: no IRR, the flows never pay back; +inf: no outlay)
    irr_p50: float
    irr_p90: float
    payback_p10_years: float  # simple payback (+inf: never) [yr]
    payback_p50_years: float
    payback_p90_years: float
    p_beat_status_quo: float  # share of samples with NPV > 0 [0..1]
    p_beat_next: float  # share of paired samples with NPV above the next-ranked's (NaN: last)
    next_key: str  # the candidate ranked next below ("" if none)


SPREAD_COLUMNS = columns_of(CandidateSpread)


def _irr_ordered(irr: np.ndarray, npv: np.ndarray) -> np.ndarray:
    """IRRs with 'none' ordered: -inf where the flows never pay back, +inf where they never
    cost (so percentiles of IRR rank like those of NPV)."""
    out = irr.astype(float).copy()
    none = ~np.isfinite(out)
    out[none & (npv < 0)] = -math.inf
    out[none & (npv >= 0)] = math.inf
    return out


def spread_frame(results: pd.DataFrame, samples: pd.DataFrame) -> pd.DataFrame:
    """One `CandidateSpread` row per candidate with samples, in `twin.study.report.ranked`
    order of the candidates with their P50 NPV (the next-ranked is the next row)."""
    from twin.study.report import ranked

    ok = samples[samples["status"] == "ok"] if not samples.empty else samples
    by_cand: dict[str, pd.DataFrame] = {
        k: g.set_index("sample") for k, g in ok.groupby("candidate", sort=True)
    } if not ok.empty else {}  # fmt: skip
    rows: dict[str, dict[str, Any]] = {}
    for key, g in by_cand.items():
        npv = g["npv_yuan"].to_numpy(float)
        p_npv = percentiles(npv)
        p_irr = percentiles(_irr_ordered(g["irr"].to_numpy(float), npv))
        pay = g["simple_payback_years"].to_numpy(float)
        p_pay = percentiles(np.where(np.isfinite(pay), pay, math.inf))
        rows[key] = {
            "key": key,
            "samples": len(g),
            "npv_p10_yuan": p_npv.p10,
            "npv_p50_yuan": p_npv.p50,
            "npv_p90_yuan": p_npv.p90,
            "irr_p10": p_irr.p10,
            "irr_p50": p_irr.p50,
            "irr_p90": p_irr.p90,
            "payback_p10_years": p_pay.p10,
            "payback_p50_years": p_pay.p50,
            "payback_p90_years": p_pay.p90,
            "p_beat_status_quo": float(np.mean(npv > 0.0)),
            "p_beat_next": math.nan,
            "next_key": "",
        }
    if not rows:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in SPREAD_COLUMNS})
    merged = results.merge(
        pd.DataFrame(rows.values())[["key", "npv_p50_yuan"]], on="key", how="inner"
    )
    order = [k for k in ranked(merged)["key"] if k in rows]
    for a, b in itertools.pairwise(order):
        both = by_cand[a].index.intersection(by_cand[b].index)
        if len(both):
            diff = by_cand[a].loc[both, "npv_yuan"] - by_cand[b].loc[both, "npv_yuan"]
            rows[a]["p_beat_next"] = float(np.mean(diff.to_numpy(float) > 0.0))
        rows[a]["next_key"] = b
    return pd.DataFrame([rows[k] for k in order], columns=list(SPREAD_COLUMNS))


def spreads(frame: pd.DataFrame) -> list[CandidateSpread]:
    """The typed rows of a `spread_frame`."""
    names = [f.name for f in dataclasses.fields(CandidateSpread)]
    return [CandidateSpread(**{n: r[n] for n in names}) for r in frame.to_dict("records")]


def fan(samples: pd.DataFrame, key: str, rate: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Candidate `key`'s cumulative discounted cash flow [yuan] at the end of each year
    0..lifetime: (years, array [3, years]: P10, P50, P90 over its samples); None: no sample."""
    ok = samples[(samples["status"] == "ok") & (samples["candidate"] == key)]
    if ok.empty:
        return None
    # the tables keep JSON columns as their text (`twin.study.store.read_csv_frame`)
    cf = np.array([json.loads(f) if isinstance(f, str) else f for f in ok["cash_flows_yuan"]])
    k = np.arange(cf.shape[1], dtype=float)
    cum = np.cumsum(cf / (1.0 + rate) ** k, axis=1)
    p = np.array([dataclasses.astuple(percentiles(cum[:, j])) for j in range(cum.shape[1])]).T
    return k, p
