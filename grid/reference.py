"""Plain-Python references of the kernels in `grid.kernels`, for differential tests.

Independent of the kernels' sparse LU: dense matrices and `numpy.linalg.solve`.
"""

from __future__ import annotations

import numpy as np


def lu_solve_reference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x with a @ x = b (dense)."""
    return np.linalg.solve(a, b)


def power_mismatch_reference(ypp: np.ndarray, v: np.ndarray, w: np.ndarray, s: np.ndarray) -> float:
    """Largest |V conj(Ypp (V - w)) - S| [p.u.] (dense)."""
    return float(np.max(np.abs(v * np.conj(ypp @ (v - w)) - s)))


def zbus_solve_reference(
    ypp: np.ndarray,
    w: np.ndarray,
    s: np.ndarray,
    v0: np.ndarray,
    tol_v: float,
    tol_s: float,
    max_iter: int,
) -> tuple[np.ndarray, int]:
    """The Z-bus fixed point with a dense solve per iteration; (v, iterations or -1)."""
    v = v0.astype(complex).copy()
    for it in range(max_iter):
        v_new = w + np.linalg.solve(ypp, np.conj(s / v))
        dv = np.max(np.abs(v_new - v))
        v = v_new
        if not np.isfinite(dv):
            return v, -1
        if dv < tol_v and power_mismatch_reference(ypp, v, w, s) < tol_s:
            return v, it + 1
    return v, -1


def results_reference(
    v: np.ndarray,
    demand: np.ndarray,
    *,
    bus_ppci: np.ndarray,
    yf,
    yt,
    ybus,
    br_f: np.ndarray,
    br_t: np.ndarray,
    kv_f: np.ndarray,
    kv_t: np.ndarray,
    br_is: np.ndarray,
    line_rows: np.ndarray,
    line_imax: np.ndarray,
    trafo_rows: np.ndarray,
    trafo_vn: np.ndarray,
    trafo_sn: np.ndarray,
    trafo_div: np.ndarray,
    trafo_by_current: bool,
    eg_bus: np.ndarray,
    base_mva: float,
) -> dict[str, np.ndarray]:
    """The results of `grid.kernels.park_step` as vectorised numpy over all steps (scipy sparse Y)."""
    sqrt3 = np.sqrt(3.0)
    steps = v.shape[0]
    ok = bus_ppci >= 0
    vm = np.full((steps, bus_ppci.size), np.nan)
    va = np.full((steps, bus_ppci.size), np.nan)
    vm[:, ok] = np.abs(v[:, bus_ppci[ok]])
    va[:, ok] = np.degrees(np.angle(v[:, bus_ppci[ok]]))
    n_br = br_is.size
    s_f = v[:, br_f] * np.conj((yf @ v.T).T) * base_mva
    s_t = v[:, br_t] * np.conj((yt @ v.T).T) * base_mva
    sf = np.zeros((steps, n_br), complex)
    st = np.zeros((steps, n_br), complex)
    i_f = np.zeros((steps, n_br))
    i_t = np.zeros((steps, n_br))
    sf[:, br_is] = s_f
    st[:, br_is] = s_t
    i_f[:, br_is] = np.abs(s_f) / (np.abs(v[:, br_f]) * kv_f) / sqrt3
    i_t[:, br_is] = np.abs(s_t) / (np.abs(v[:, br_t]) * kv_t) / sqrt3
    line_i = np.maximum(i_f[:, line_rows], i_t[:, line_rows])
    with np.errstate(divide="ignore", invalid="ignore"):
        line_loading = np.where(line_imax > 0, line_i / line_imax * 100.0, np.inf)
    tr = trafo_rows
    if trafo_by_current:
        ld = np.maximum(i_f[:, tr] * trafo_vn[:, 0], i_t[:, tr] * trafo_vn[:, 1]) * sqrt3
    else:
        ld = np.maximum(np.abs(sf[:, tr]), np.abs(st[:, tr]))
    s_calc = v * np.conj((ybus @ v.T).T)
    eg_p = np.zeros((steps, eg_bus.size))
    eg_q = np.zeros((steps, eg_bus.size))
    on = eg_bus >= 0
    s_eg = (s_calc[:, eg_bus[on]] + demand[:, eg_bus[on]]) * base_mva
    eg_p[:, on] = s_eg.real
    eg_q[:, on] = s_eg.imag
    return {
        "vm_pu": vm,
        "va_degree": va,
        "line_loading_percent": line_loading,
        "line_p_from_mw": sf[:, line_rows].real,
        "line_q_from_mvar": sf[:, line_rows].imag,
        "line_p_to_mw": st[:, line_rows].real,
        "line_q_to_mvar": st[:, line_rows].imag,
        "line_i_ka": line_i,
        "trafo_loading_percent": ld / trafo_sn * 100.0 / trafo_div,
        "trafo_p_hv_mw": sf[:, tr].real,
        "trafo_q_hv_mvar": sf[:, tr].imag,
        "trafo_p_lv_mw": st[:, tr].real,
        "trafo_q_lv_mvar": st[:, tr].imag,
        "ext_grid_p_mw": eg_p,
        "ext_grid_q_mvar": eg_q,
        "losses_mw": s_calc.real.sum(axis=1) * base_mva,
    }


def park_step_reference(
    load_kw: np.ndarray,
    pv_kw: np.ndarray,
    storage_kw: np.ndarray,
    storage_kvar: np.ndarray,
    *,
    tan_phi: np.ndarray,
    inj: dict[str, tuple[np.ndarray, np.ndarray]],
    n: int,
    pq: np.ndarray,
    ref: np.ndarray,
    v_ref: np.ndarray,
    ypp: np.ndarray,
    w: np.ndarray,
    v0: np.ndarray,
    tol_v: float,
    tol_s: float,
    max_iter: int,
    pcc_line: np.ndarray,
    checked_bus: np.ndarray,
    unit_trafo: np.ndarray,
    results: dict,
) -> dict[str, np.ndarray | float] | None:
    """`grid.kernels.park_step` in numpy: bus demand, dense Z-bus fixed point from `v0`,
    `results_reference`, then the snapshot's quantities [kW, kvar, p.u., %].

    `inj` maps "load"/"sgen"/"storage" to (ppci bus or -1, scale to demand [p.u. per MW]);
    `results` holds `results_reference`'s keyword arguments. None if not converged."""
    d = np.zeros(n, complex)
    for el, p_mw, q_mvar in (
        ("load", load_kw / 1000, load_kw / 1000 * tan_phi),
        ("sgen", pv_kw / 1000, np.zeros_like(pv_kw)),
        ("storage", storage_kw / 1000, storage_kvar / 1000),
    ):
        bus, scale = inj[el]
        on = bus >= 0
        np.add.at(d, bus[on], scale[on] * (p_mw[on] + 1j * q_mvar[on]))
    v_pq, it = zbus_solve_reference(ypp, w, -d[pq], v0, tol_v, tol_s, max_iter)
    if it < 0:
        return None
    v = np.empty(n, complex)
    v[ref] = v_ref
    v[pq] = v_pq
    r = {k: x[0] for k, x in results_reference(v[None], d[None], **results).items()}
    vm_checked = r["vm_pu"][checked_bus]
    return {
        "pcc_kw": -r["line_p_to_mw"][pcc_line] * 1000,
        "pcc_kvar": -r["line_q_to_mvar"][pcc_line] * 1000,
        "vm_pu": r["vm_pu"],
        "v_min_pu": float(vm_checked.min()),
        "v_max_pu": float(vm_checked.max()),
        "line_loading_pct": r["line_loading_percent"],
        "trafo_loading_pct": r["trafo_loading_percent"],
        "unit_trafo_loading_pct": r["trafo_loading_percent"][unit_trafo],
        "ext_grid_kw": float(r["ext_grid_p_mw"].sum() * 1000),
        "ext_grid_kvar": float(r["ext_grid_q_mvar"].sum() * 1000),
        "losses_kw": float(r["losses_mw"] * 1000),
        "v_pq": v_pq,
    }


def tap_series_reference(net, controls, inputs: dict[str, np.ndarray], enforce_q_lims=True):
    """`grid.taps`' control loop written plainly around pandapower's `runpp` (tightened:
    tolerance_mva 1e-10, reactive limits as `TimeSeriesPowerFlow`'s default) on a copy of
    `net`: per step, solve; every controller whose bus is
    outside its band, whose tap is not at the end stop, whose delay has run out and whose
    step limit is not reached moves one position; solve again; until none moves.

    `inputs`: (steps, n) arrays named ``<element>_<column>`` as `TimeSeriesPowerFlow.run`'s.
    Returns (tap positions (steps, c), bus vm_pu (steps, n_bus)) after each step's control."""
    import copy
    import warnings

    import pandapower as pp

    net = copy.deepcopy(net)
    steps = next(iter(inputs.values())).shape[0]
    counter = [0] * len(controls)
    pos_out = np.zeros((steps, len(controls)), dtype=np.int64)
    vm_out = np.zeros((steps, len(net.bus)))
    eg_bus = set(net.ext_grid.bus[net.ext_grid.in_service].tolist())
    for t in range(steps):
        for arg, x in inputs.items():
            el, col = arg.split("_", 1)
            net[el][col] = x[t]
        moved = [0] * len(controls)
        for rnd in range(31):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pp.runpp(net, tolerance_mva=1e-10, enforce_q_lims=enforce_q_lims)
            any_move = False
            for c, ctl in enumerate(controls):
                tr = net.trafo.loc[ctl.trafo]
                bus = tr[f"{ctl.side}_bus"]
                if bus in eg_bus or not tr.in_service:
                    continue
                vm = net.res_bus.vm_pu.at[bus]
                # a higher position lowers the voltage of the controlled bus when the tap is
                # on the other side than the bus (for a positive step)
                higher_lowers = (tr.tap_side == "hv") == (ctl.side == "lv")
                if tr.tap_step_percent < 0:
                    higher_lowers = not higher_lowers
                pos = int(tr.tap_pos)
                want = 0
                if vm < ctl.vm_lower_pu:
                    want = -1 if higher_lowers else 1
                elif vm > ctl.vm_upper_pu:
                    want = 1 if higher_lowers else -1
                if not tr.tap_min <= pos + want <= tr.tap_max:
                    want = 0
                if rnd == 0:
                    counter[c] = counter[c] + 1 if want else 0
                if not want or counter[c] <= ctl.delay_intervals:
                    continue
                if ctl.max_steps is not None and moved[c] >= ctl.max_steps:
                    continue
                net.trafo.at[ctl.trafo, "tap_pos"] = pos + want
                moved[c] += 1
                any_move = True
            if not any_move:
                break
        for c in range(len(controls)):
            if moved[c]:
                counter[c] = 0
        pos_out[t] = [int(net.trafo.at[ctl.trafo, "tap_pos"]) for ctl in controls]
        vm_out[t] = net.res_bus.vm_pu.to_numpy()
    return pos_out, vm_out
