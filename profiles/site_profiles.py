"""Profiles of a site's enterprises: load, PV and net meter power over one window.

Takes any objects with the enterprise fields of a site file (``name``, ``industry``,
``annual_mwh``, ``peak_kw``, ``pv_kwp``, ``pv_tilt_deg``, ``pv_azimuth_deg``), so `grid`'s
site model fits without this package importing `grid`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from profiles.loads import load_kw
from profiles.pv import pv_kw


class EnterpriseLike(Protocol):
    name: str
    industry: str
    annual_mwh: float
    peak_kw: float
    pv_kwp: float
    pv_tilt_deg: float
    pv_azimuth_deg: float


@dataclass(frozen=True)
class EnterpriseProfile:
    """One enterprise over a window: mean kW of each step."""

    name: str
    industry: str
    load_kw: np.ndarray
    pv_kw: np.ndarray

    @property
    def net_kw(self) -> np.ndarray:
        """Meter power before storage [kW], import positive (load minus PV)."""
        return self.load_kw - self.pv_kw


def enterprise_seed(seed: int, index: int) -> int:
    """The load seed of the enterprise at `index` of the site, derived from the run's seed.

    The same derivation as the twin engine's inputs (`twin.inputs.enterprise_seed`), so
    `twin profiles show --seed N` shows the loads that `twin run` with seed N uses.
    """
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def enterprise_profiles(
    enterprises: Sequence[EnterpriseLike],
    start: dt.date | dt.datetime,
    n_steps: int,
    step_s: float,
    seed: int = 0,
    growth_per_year: float = 0.0,
    latitude: float = 30.9,
    longitude: float = 119.9,
) -> list[EnterpriseProfile]:
    """Load and PV of each enterprise. Loads draw their own noise (a seed per enterprise,
    derived from `seed`); PV shares one sky (`seed`): the park is a few km across."""
    out = []
    for i, e in enumerate(enterprises):
        load = load_kw(
            e.industry,
            start,
            n_steps,
            step_s,
            e.annual_mwh * 1000.0,
            e.peak_kw,
            growth_per_year,
            enterprise_seed(seed, i),
        )
        pv = np.zeros(n_steps)
        if e.pv_kwp > 0:
            pv = pv_kw(
                e.pv_kwp,
                start,
                n_steps,
                step_s,
                seed,
                e.pv_tilt_deg,
                e.pv_azimuth_deg,
                latitude,
                longitude,
            )
        out.append(EnterpriseProfile(e.name, e.industry, load, pv))
    return out


def summary_rows(profiles: Sequence[EnterpriseProfile], step_s: float) -> list[dict]:
    """Per enterprise and for the park: energy [MWh], 15-min-or-step peak [kW], PV, net."""
    h = step_s / 3600.0
    rows = []
    for p in profiles:
        rows.append(_row(p.name, p.industry, p.load_kw, p.pv_kw, h))
    if profiles:
        load = np.sum([p.load_kw for p in profiles], axis=0)
        pv = np.sum([p.pv_kw for p in profiles], axis=0)
        rows.append(_row("park", "", load, pv, h))
    return rows


def _row(name: str, industry: str, load: np.ndarray, pv: np.ndarray, h: float) -> dict:
    net = load - pv
    return {
        "name": name,
        "industry": industry,
        "load_mwh": float(load.sum() * h / 1000.0),
        "load_peak_kw": float(load.max(initial=0.0)),
        "load_mean_kw": float(load.mean()) if load.size else 0.0,
        "pv_mwh": float(pv.sum() * h / 1000.0),
        "pv_peak_kw": float(pv.max(initial=0.0)),
        "net_min_kw": float(net.min()) if net.size else 0.0,
        "net_peak_kw": float(net.max(initial=0.0)),
    }
