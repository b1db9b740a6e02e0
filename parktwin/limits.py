"""Grid limits, defined once: the voltage band, the loading limit, and when a change counts.

The values are data (``parktwin/data/grid_limits.toml``, each with its source and
confidence): the voltage band of GB/T 12325-2008 (+-7 % at 10 kV and 380 V), 100 % of a
line's or transformer's rating, and the materiality tolerances of a comparison. The
checks (`_outside`, `_over`: each comparison written once, inlined by numba) serve the
array checkers (`voltage_outside`, `overloaded`) and the recorder's one call per solve
(`fold_solve`); the run's violation counts, the expansion study's verdict and margins,
`grid.check_limits`, the figures and the bench use them.

Which buses the band applies to (10 kV and 0.38 kV, not 110 kV or the PCS terminals) is the
grid model's knowledge (`grid.ParkGrid.checked_bus`); these functions take the voltages of
the checked buses.
"""

from __future__ import annotations

import functools
from typing import Annotated

import numpy as np
from pydantic import Field

from parktwin.config import Frozen, load_package_toml
from parktwin.jit import jit


class GridLimits(Frozen):
    """The limits a park's voltages and loadings are checked against."""

    v_min_pu: Annotated[float, Field(gt=0.5, lt=1.0)]  # lowest allowed voltage [p.u.]
    v_max_pu: Annotated[float, Field(gt=1.0, lt=1.5)]  # highest allowed voltage [p.u.]
    loading_max_pct: Annotated[float, Field(gt=0)]  # highest loading [% of rating]
    voltage_source: str = ""
    loading_source: str = ""
    #: an element's worst loading moved by more than this [% points]: a material change
    tol_loading_pct: Annotated[float, Field(ge=0)] = 0.5
    #: the same for a bus voltage [p.u.]
    tol_v_pu: Annotated[float, Field(ge=0)] = 5e-4

    @property
    def v_half_band_pu(self) -> float:
        """Half the band's width [p.u.] (0.07): the allowance a voltage margin is a share of."""
        return (self.v_max_pu - self.v_min_pu) / 2.0


class _Limit(Frozen):
    source: str
    confidence: str


class _Voltage(_Limit):
    min_pu: float
    max_pu: float


class _Loading(_Limit):
    max_pct: float


class _Materiality(_Limit):
    loading_pct: float
    v_pu: float


class _LimitsFile(Frozen):
    voltage: _Voltage
    loading: _Loading
    materiality: _Materiality


@functools.cache
def grid_limits() -> GridLimits:
    """The shipped limits (``parktwin/data/grid_limits.toml``), validated once."""
    f = load_package_toml("parktwin", "grid_limits.toml", _LimitsFile)
    return GridLimits(
        v_min_pu=f.voltage.min_pu,
        v_max_pu=f.voltage.max_pu,
        loading_max_pct=f.loading.max_pct,
        voltage_source=f.voltage.source,
        loading_source=f.loading.source,
        tol_loading_pct=f.materiality.loading_pct,
        tol_v_pu=f.materiality.v_pu,
    )


# --- the checks: each comparison written once --------------------------------------------
@jit(inline="always")
def _outside(v_pu: float, lo_pu: float, hi_pu: float) -> bool:
    """A voltage outside the band [lo, hi] (on the edge: inside; NaN: inside)."""
    return v_pu < lo_pu or v_pu > hi_pu


@jit(inline="always")
def _over(loading_pct: float, max_pct: float) -> bool:
    """A loading above the limit (at it: not over; NaN: not over)."""
    return loading_pct > max_pct


@jit
def _outside_all(v_pu: np.ndarray, lo_pu: float, hi_pu: float, out: np.ndarray) -> None:
    for i in range(v_pu.size):
        out[i] = _outside(v_pu[i], lo_pu, hi_pu)


@jit
def _over_all(loading_pct: np.ndarray, max_pct: float, out: np.ndarray) -> None:
    for i in range(loading_pct.size):
        out[i] = _over(loading_pct[i], max_pct)


def voltage_outside(v_pu: np.ndarray, limits: GridLimits) -> np.ndarray:
    """True where a voltage [p.u.] is outside the band (NaN, an unsolved step: False)."""
    v = np.ascontiguousarray(v_pu, dtype=np.float64)
    out = np.empty(v.shape, dtype=np.bool_)
    _outside_all(v.reshape(-1), limits.v_min_pu, limits.v_max_pu, out.reshape(-1))
    return out


def overloaded(loading_pct: np.ndarray, limits: GridLimits) -> np.ndarray:
    """True where a loading [% of rating] is above the limit (NaN: False)."""
    x = np.ascontiguousarray(loading_pct, dtype=np.float64)
    out = np.empty(x.shape, dtype=np.bool_)
    _over_all(x.reshape(-1), limits.loading_max_pct, out.reshape(-1))
    return out


@jit
def fold_solve(
    vm_pu: np.ndarray,
    checked: np.ndarray,
    line_pct: np.ndarray,
    trafo_pct: np.ndarray,
    v_lo_pu: float,
    v_hi_pu: float,
    loading_max_pct: float,
    v_min_pu: np.ndarray,
    v_max_pu: np.ndarray,
    line_max_pct: np.ndarray,
    trafo_max_pct: np.ndarray,
    bus_bad: np.ndarray,
    line_bad: np.ndarray,
    trafo_bad: np.ndarray,
) -> tuple[bool, bool]:
    """Fold one power-flow solve into running extremes and violation counts, in place.

    `vm_pu` (n_bus,) of which the `checked` indices are compared with the band; loadings
    [%] of lines and transformers. Updates the per-element minima/maxima and adds 1 to the
    count of each element beyond its limit. Returns (any bus outside the band, any line or
    transformer overloaded). NaN values leave the extremes and counts as they were.
    """
    v_any = False
    for j in range(checked.size):
        v = vm_pu[checked[j]]
        if v < v_min_pu[j]:
            v_min_pu[j] = v
        if v > v_max_pu[j]:
            v_max_pu[j] = v
        if _outside(v, v_lo_pu, v_hi_pu):
            bus_bad[j] += 1
            v_any = True
    o_any = False
    for j in range(line_pct.size):
        x = line_pct[j]
        if x > line_max_pct[j]:
            line_max_pct[j] = x
        if _over(x, loading_max_pct):
            line_bad[j] += 1
            o_any = True
    for j in range(trafo_pct.size):
        x = trafo_pct[j]
        if x > trafo_max_pct[j]:
            trafo_max_pct[j] = x
        if _over(x, loading_max_pct):
            trafo_bad[j] += 1
            o_any = True
    return v_any, o_any


def low_voltage_margin_pct(v_min_pu: float, limits: GridLimits) -> float:
    """A lowest voltage's distance above the band's lower edge, in % of the half band
    (< 0: below the band)."""
    return (v_min_pu - limits.v_min_pu) / limits.v_half_band_pu * 100.0


def high_voltage_margin_pct(v_max_pu: float, limits: GridLimits) -> float:
    """A highest voltage's distance below the band's upper edge, in % of the half band
    (< 0: above the band)."""
    return (limits.v_max_pu - v_max_pu) / limits.v_half_band_pu * 100.0


def voltage_margin_pct(v_min_pu: float, v_max_pu: float, limits: GridLimits) -> float:
    """The voltages' distance to the nearer band edge, in % of the half band (< 0: outside)."""
    return min(low_voltage_margin_pct(v_min_pu, limits), high_voltage_margin_pct(v_max_pu, limits))


def loading_margin_pct(loading_pct: float, limits: GridLimits) -> float:
    """Headroom of a loading below the limit [% points of rating] (< 0: overloaded)."""
    return limits.loading_max_pct - loading_pct
