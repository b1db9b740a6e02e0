"""Structure-of-arrays layout of N compressed-air units (rows: ``devices.caes_kernels``'s
``C_*``, ``TC_*``, ``Y_*``); sizes derived from the validated `CaesParams` here, once."""

from __future__ import annotations

import math

import numpy as np

from devices import caes_kernels as ck
from devices.caes_params import BAR_PA, CaesParams, full_load_eta
from devices.state import PackedParams, pack_tables


def param_vector(p: CaesParams) -> np.ndarray:
    """The kernel's parameter column of one unit."""
    a, c, e, ts, aux = p.air, p.compressor, p.expander, p.thermal_store, p.aux
    r, cp, t0, p0 = a.r_j_per_kg_k, a.cp_j_per_kg_k, p.t_store_k, a.p_ambient_bar * BAR_PA
    vol = p.volume_m3
    v = np.zeros(ck.NC)
    v[ck.C_V] = vol
    v[ck.C_R] = r
    v[ck.C_CP] = cp
    v[ck.C_T0] = t0
    v[ck.C_P0] = p0
    v[ck.C_MMIN] = a.p_min_bar * BAR_PA * vol / (r * t0)
    v[ck.C_MMAX] = a.p_max_bar * BAR_PA * vol / (r * t0)
    v[ck.C_KLEAK] = -math.log1p(-a.leak_per_day) / 86400.0
    v[ck.C_NC] = c.stages
    v[ck.C_ETAM] = c.eta_machine
    v[ck.C_PC] = p.rating.p_charge_kw
    v[ck.C_CMIN] = c.min_load * p.rating.p_charge_kw
    v[ck.C_RAMPC] = c.ramp_pu_per_s * p.rating.p_charge_kw
    v[ck.C_TSC] = c.t_start_s
    v[ck.C_NE] = e.stages
    v[ck.C_ETAG] = e.eta_machine
    v[ck.C_PE] = p.rating.p_discharge_kw
    v[ck.C_EMIN] = e.min_load * p.rating.p_discharge_kw
    v[ck.C_RAMPE] = e.ramp_pu_per_s * p.rating.p_discharge_kw
    v[ck.C_TSE] = e.t_start_s
    p_in = e.p_inlet_max_bar * BAR_PA
    v[ck.C_PIN] = p_in
    w = ck.expander_work_j_per_kg(p_in, p0, p.t_turbine_design_k, e.stages, full_load_eta(e), r, cp)
    v[ck.C_MDOTE] = p.rating.p_discharge_kw * 1000.0 / (e.eta_machine * w)
    v[ck.C_EPS] = ts.heat_capture
    v[ck.C_CTES] = p.tes_heat_capacity_j_per_k
    v[ck.C_KTES] = -math.log1p(-ts.loss_per_day) / 86400.0
    v[ck.C_APPR] = ts.approach_k
    v[ck.C_PSB] = aux.p_standby_kw
    v[ck.C_RUNF] = aux.run_fraction
    v[ck.C_TIDLE] = aux.idle_to_standby_s
    return v


def pack_params(params: list[CaesParams]) -> PackedParams:
    """Arrays of N units' parameters and part-load tables (``ua`` unused: empty)."""
    pv = np.stack([param_vector(p) for p in params], axis=1)
    tx, ty, tn = pack_tables(
        [
            [
                (p.compressor.load_fraction, p.compressor.eta_poly),
                (p.expander.load_fraction, p.expander.eta_poly),
            ]
            for p in params
        ]
    )
    return PackedParams(pv, tx, ty, tn, np.zeros((len(params), 0)))


def initial_state(
    pv: np.ndarray, soc0: np.ndarray, pcs0: int, tes_rise_k: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """State of N units at `soc0` (usable air fraction); the thermal store holds the same share
    of its design heat (as after charging to that SOC). Returns (xs [NY, N], pcs [N])."""
    n = pv.shape[1]
    xs = np.zeros((ck.NY, n))
    xs[ck.Y_M] = pv[ck.C_MMIN] + soc0 * (pv[ck.C_MMAX] - pv[ck.C_MMIN])
    xs[ck.Y_TTES] = pv[ck.C_T0] + soc0 * tes_rise_k
    return xs, np.full(n, pcs0, dtype=np.int64)


def tes_design_rise_k(params: list[CaesParams]) -> np.ndarray:
    """Design temperature rise of each unit's thermal store [K] (0 without one)."""
    return np.array(
        [
            p.thermal_store.design_temp_c - p.air.temp_c if p.thermal_store.heat_capture else 0.0
            for p in params
        ]
    )
