"""Structure-of-arrays layout of N units: parameters, tables and state as numpy arrays.

`pack_params` turns validated `UnitParams` into the kernel's arrays (pack-level values derived
here, once); `initial_state` builds the state of fresh units. Row indices are the ``P_*``,
``T_*``, ``X_*`` constants of `devices.kernels`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from devices import kernels as k
from devices.params import UnitParams

SECONDS_PER_MONTH = 30.0 * 86400.0
UA_TABLE_POINTS = 101


@dataclass(frozen=True)
class PackedParams:
    """Parameters ``pv[NP, N]``, tables ``tx, ty [NT, N, K]``, ``tn [NT, N]``, ``ua [N, 101]``."""

    pv: np.ndarray
    tx: np.ndarray
    ty: np.ndarray
    tn: np.ndarray
    ua: np.ndarray


def ua_table(p: UnitParams) -> np.ndarray:
    """Graphite anode potential [V] on an even SOC grid 0..1 (BLAST-Lite's calendar stressor)."""
    return np.array([p.anode.ua_v(float(s)) for s in np.linspace(0.0, 1.0, UA_TABLE_POINTS)])


def _tables(p: UnitParams) -> list[tuple[list[float], list[float]]]:
    return [
        (p.ocv.soc, p.ocv.v_cell),
        (p.resistance.soc, p.resistance.soc_factor),
        (p.resistance.temp_c, p.resistance.temp_factor),
        p.loss_curve("charge"),
        p.loss_curve("discharge"),
        (p.ocv.soc, _cumulative_integral(p.ocv.soc, p.ocv.v_cell)),
    ]


def _cumulative_integral(xs: list[float], ys: list[float]) -> list[float]:
    """Integral of the piecewise-linear y from xs[0] to each knot (trapezoids)."""
    out = [0.0]
    for j in range(1, len(xs)):
        out.append(out[-1] + 0.5 * (ys[j] + ys[j - 1]) * (xs[j] - xs[j - 1]))
    return out


def param_vector(p: UnitParams) -> np.ndarray:
    """The kernel's parameter column of one unit (pack-level, SI-ish units of `kernels`)."""
    c, pk, th, pcs, ag = p.cell, p.pack, p.thermal, p.pcs, p.aging
    ns, npar = pk.cells_series, pk.racks_parallel
    v = np.zeros(k.NP)
    v[k.P_CAP_AH] = c.capacity_ah * npar
    v[k.P_NS] = ns
    v[k.P_R0] = (c.r0_mohm + pk.r_connection_mohm_per_cell) * 1e-3 * ns / npar
    v[k.P_R1] = max(c.r1_mohm, 1e-9) * 1e-3 * ns / npar
    v[k.P_TAU1] = c.tau1_s
    v[k.P_VMAX] = c.v_max * ns
    v[k.P_VMIN] = c.v_min * ns
    v[k.P_ICH] = c.c_rate_charge_max * c.capacity_ah * npar
    v[k.P_IDIS] = c.c_rate_discharge_max * c.capacity_ah * npar
    v[k.P_ETA_C] = c.coulombic_eff
    v[k.P_HYST] = 0.5 * c.hysteresis_mv * 1e-3 * ns
    v[k.P_KSD] = c.self_discharge_per_month / SECONDS_PER_MONTH
    v[k.P_SOC_MIN] = pk.soc_min
    v[k.P_SOC_MAX] = pk.soc_max
    v[k.P_CTH] = th.c_th_kj_per_k * 1e3
    v[k.P_UA] = th.ua_w_per_k
    v[k.P_TCOOL] = th.t_cool_c
    v[k.P_THEAT] = th.t_heat_c
    v[k.P_KP] = th.kp_kw_per_k * 1e3
    v[k.P_QCOOL] = th.q_cool_max_kw * 1e3
    v[k.P_QHEAT] = th.q_heat_max_kw * 1e3
    v[k.P_COPC] = th.cop_cool
    v[k.P_COPH] = th.cop_heat
    v[k.P_PBMS] = th.p_bms_ems_kw
    v[k.P_S] = pcs.s_kva
    v[k.P_PSB] = pcs.p_standby_kw
    v[k.P_RAMP] = p.ramp_kw_per_s
    v[k.P_TAU] = pcs.tau_s
    v[k.P_TSTART] = pcs.t_start_s
    v[k.P_TIDLE] = pcs.idle_to_standby_s
    for row, val in zip(
        (k.P_A1, k.P_A2, k.P_A3, k.P_A4, k.P_A5, k.P_A6, k.P_A7, k.P_A8),
        (ag.p1, ag.p2, ag.p3, ag.p4, ag.p5, ag.p6, ag.p7, ag.p8),
        strict=True,
    ):
        v[row] = val
    v[k.P_PCAL] = ag.pcal
    v[k.P_PCYC] = ag.pcyc
    v[k.P_WIN] = ag.window_s
    v[k.P_KR] = ag.r_growth_per_fade
    v[k.P_RFH] = ag.rf_hysteresis_soc
    return v


def pack_tables(
    tables: list[list[tuple[list[float], list[float]]]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Piecewise-linear tables of N units (``tables[i][t]`` = (x, y) of table t of unit i) as
    the kernels' ``tx, ty [T, N, K]`` (padded to the widest) and ``tn [T, N]`` (points)."""
    n, n_tables = len(tables), len(tables[0])
    width = max(len(x) for t in tables for x, _ in t)
    tx = np.zeros((n_tables, n, width))
    ty = np.zeros((n_tables, n, width))
    tn = np.zeros((n_tables, n), dtype=np.int64)
    for i, t in enumerate(tables):
        for j, (xs, ys) in enumerate(t):
            tx[j, i, : len(xs)] = xs
            ty[j, i, : len(ys)] = ys
            tn[j, i] = len(xs)
    return tx, ty, tn


def pack_params(params: list[UnitParams]) -> PackedParams:
    """Arrays of N units' parameters for the kernels."""
    n = len(params)
    pv = np.zeros((k.NP, n))
    ua = np.zeros((n, UA_TABLE_POINTS))
    for i, p in enumerate(params):
        pv[:, i] = param_vector(p)
        ua[i] = ua_table(p)
    tx, ty, tn = pack_tables([_tables(p) for p in params])
    return PackedParams(pv, tx, ty, tn, ua)


def initial_state(
    n: int, soc0: np.ndarray, temp0_c: np.ndarray, pcs0: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """State of N fresh units: (xs [NX, N], pcs [N], rainflow stack [N, depth], depth [N])."""
    xs = np.zeros((k.NX, n))
    xs[k.X_SOC] = soc0
    xs[k.X_TEMP] = temp0_c
    xs[k.X_SOH] = 1.0
    xs[k.X_RG] = 1.0
    xs[k.X_RFEXT] = soc0
    pcs = np.full(n, pcs0, dtype=np.int64)
    rf = np.zeros((n, k.RF_DEPTH))
    rf[:, 0] = soc0
    rfn = np.ones(n, dtype=np.int64)
    return xs, pcs, rf, rfn
