"""`TimeSeriesPowerFlow`: many power-flow steps of one pandapower net, fast, equal to runpp.

The net's admittance matrices are taken once from pandapower itself (one `runpp` of the
net with its controllable injections at zero: ``net._ppc["internal"]``: Ybus, Yf, Yt, bus
types, generators and the bus and branch lookups), so every impedance, tap position and
characteristic, phase shift, switch (bus-bus, line, trafo, trafo3w, with or without
impedance), shunt, ward, xward, impedance, trafo3w and out-of-service element is modelled
exactly as `runpp` models it. Each step then solves the Newton-Raphson power flow in one
compiled call (`grid.newton`: the Jacobian's 2x2-block structure ordered and factored
symbolically once, numeric factorisations reused while they contract, PV buses with
reactive limits as ``runpp(enforce_q_lims=True)``, voltage-dependent loads as runpp's
``voltage_depend_loads``); no DataFrame is built per step. Results follow pandapower's own
result definitions (``results_branch.py``): line loading = max(|I_from|, |I_to|) /
(max_i_ka * df * parallel), transformer loading by current (or by power if the net's
options say so), trafo3w loading the largest winding's, NaN where an end is de-energised,
ext_grid and gen powers split among the generators of a bus as ``pfsoln`` does.

Supported: every balanced element table `runpp` models except those in `REFUSED` (DC
lines, SVC, TCSC, SSC, VSC, DC grids), which are refused by table name with an
`UnsupportedNetError`; a step that does not converge raises `PowerFlowError`.

Signs as pandapower's: load and storage p_mw + = consumption / charging, sgen and gen + =
generation, ext_grid p_mw + = supplied into the net.
"""

from __future__ import annotations

import copy
import itertools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from grid import kernels, newton
from grid.errors import PowerFlowError, UnsupportedNetError
from grid.taps import MAX_ROUNDS, TapControl, apply_taps
from parktwin.errors import InputError

if TYPE_CHECKING:
    import pandapower as pp

#: Element tables the solver models (through pandapower's own ppc, see the module docstring).
SUPPORTED = frozenset(
    {
        "bus", "line", "trafo", "trafo3w", "impedance", "switch", "ext_grid", "gen", "load",
        "sgen", "storage", "motor", "shunt", "ward", "xward", "characteristic",
        "trafo_characteristic_table", "trafo_characteristic_spline",
    }
)  # fmt: skip
#: Element tables the solver refuses by name when they hold rows: not modelled (yet).
REFUSED = frozenset(
    {
        "dcline", "svc", "tcsc", "ssc", "vsc", "bus_dc", "line_dc", "load_dc", "source_dc",
        "vsc_stacked", "vsc_bipolar", "b2b_vsc", "asymmetric_load", "asymmetric_sgen",
    }
)  # fmt: skip
#: Tables that describe but do not change the power flow.
_DESCRIPTIVE = frozenset(
    {"measurement", "controller", "group", "pwl_cost", "poly_cost", "bus_geodata", "line_geodata"}
)
#: The injection arguments of `run`, in order: (element, column).
INJECTIONS = (
    ("load", "p_mw"),
    ("load", "q_mvar"),
    ("sgen", "p_mw"),
    ("sgen", "q_mvar"),
    ("storage", "p_mw"),
    ("storage", "q_mvar"),
    ("gen", "p_mw"),
)
_SQRT3 = math.sqrt(3.0)
#: The outputs of `newton.results`, in order (fields of PowerFlowResult).
_NAMES = (
    "vm_pu",
    "va_degree",
    "line_loading_percent",
    "line_p_from_mw",
    "line_q_from_mvar",
    "line_p_to_mw",
    "line_q_to_mvar",
    "line_i_ka",
    "trafo_loading_percent",
    "trafo_p_hv_mw",
    "trafo_q_hv_mvar",
    "trafo_p_lv_mw",
    "trafo_q_lv_mvar",
    "trafo3w_loading_percent",
    "ext_grid_p_mw",
    "ext_grid_q_mvar",
    "gen_p_mw",
    "gen_q_mvar",
    "losses_mw",
)


@dataclass(frozen=True)
class PowerFlowResult:
    """Results of `steps` power flows (leading axis = step), pandapower's index orders.

    Buses that pandapower leaves out (out of service, isolated) have NaN voltages.
    """

    vm_pu: np.ndarray  # (steps, n_bus)
    va_degree: np.ndarray  # (steps, n_bus)
    line_loading_percent: np.ndarray  # (steps, n_line)
    line_p_from_mw: np.ndarray  # (steps, n_line) into the line at from_bus
    line_q_from_mvar: np.ndarray
    line_p_to_mw: np.ndarray  # into the line at to_bus
    line_q_to_mvar: np.ndarray
    line_i_ka: np.ndarray  # max of both ends
    trafo_loading_percent: np.ndarray  # (steps, n_trafo)
    trafo_p_hv_mw: np.ndarray  # into the trafo at its HV side
    trafo_q_hv_mvar: np.ndarray
    trafo_p_lv_mw: np.ndarray
    trafo_q_lv_mvar: np.ndarray
    trafo3w_loading_percent: np.ndarray  # (steps, n_trafo3w) the largest winding's
    ext_grid_p_mw: np.ndarray  # (steps, n_ext_grid), + = supplied into the net
    ext_grid_q_mvar: np.ndarray
    gen_p_mw: np.ndarray  # (steps, n_gen), + = generation
    gen_q_mvar: np.ndarray  # (steps, n_gen), at its limit where it hit one
    losses_mw: np.ndarray  # (steps,) all branches (lines, transformers, impedances, ...)
    converged: np.ndarray  # (steps,) bool
    iterations: np.ndarray  # (steps,) Newton iterations (-1 = not converged)
    tap_pos: np.ndarray  # (steps, n_tap_control) position of each controlled trafo [-]
    tap_settled: np.ndarray  # (steps,) bool: False where the tap control still moved

    def step(self, t: int) -> PowerFlowResult:
        """The results of step `t` alone (arrays without the step axis)."""
        return PowerFlowResult(**{f.name: getattr(self, f.name)[t] for f in fields(self)})


def check_supported(net: pp.pandapowerNet) -> None:
    """Raise `UnsupportedNetError` if the net holds anything the solver does not model."""
    import pandas as pd  # on first use: a run on a cached grid model never needs it

    for key, table in net.items():
        if not isinstance(table, pd.DataFrame) or key.startswith(("res_", "_")):
            continue
        if key in SUPPORTED or key in _DESCRIPTIVE or table.empty:
            continue
        if "in_service" in table and not table.in_service.astype(bool).any() and key not in REFUSED:
            continue
        raise UnsupportedNetError(
            f"net.{key}: {len(table)} element(s) of type {key!r} are not supported by"
            f" TimeSeriesPowerFlow (supported: {', '.join(sorted(SUPPORTED))})"
        )
    eg = net.ext_grid[net.ext_grid.in_service.astype(bool)]
    slack_gen = (
        net.gen.in_service.astype(bool) & net.gen.get("slack", False) if len(net.gen) else []
    )
    if eg.empty and not np.any(slack_gen):
        raise UnsupportedNetError("net.ext_grid: no ext_grid in service (the slack is missing)")


def _zero_injection_runpp(net: pp.pandapowerNet) -> pp.pandapowerNet:
    """A copy of `net` solved by `runpp` with the controllable injections at zero: its
    ``_ppc`` holds the admittance matrices, bus types and lookups the solver uses."""
    from grid.network import _pandapower

    pp = _pandapower()
    work = copy.deepcopy(net)
    for el, col in INJECTIONS:
        work[el][col] = 0.0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # numba=False: one solve to read the matrices; compiling pandapower's numba
            # power flow for it cost 25-35 s on a fresh install (cached later: ~5 s).
            pp.runpp(work, numba=False, enforce_q_lims=False, voltage_depend_loads=True)
    except Exception as exc:  # pandapower raises several types; all mean "cannot model"
        raise UnsupportedNetError(
            f"pandapower cannot solve the net at zero injection: {type(exc).__name__}: {exc}"
        ) from exc
    return work


def _ordering(ybus: sp.csr_matrix) -> np.ndarray:
    """A fill-reducing order of the buses (SuperLU's minimum degree on Y + Y^T): the
    solver's bus order, ``order[new] = ppci bus``."""
    n = ybus.shape[0]
    pat = (abs(ybus) + abs(ybus.T)).tocsc()
    pat.data[:] = -1.0
    pat = pat + sp.diags(np.asarray(abs(pat).sum(axis=1)).ravel() + 1.0)
    lu = splu(
        pat.tocsc(),
        permc_spec="MMD_AT_PLUS_A",
        diag_pivot_thresh=0.0,
        options={"SymmetricMode": True},
    )
    order = np.empty(n, dtype=np.int64)
    order[lu.perm_c] = np.arange(n)
    return order


def _csr(m: sp.spmatrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m = sp.csr_matrix(m)
    m.sort_indices()
    return (
        m.indptr.astype(np.int64),
        m.indices.astype(np.int64),
        m.data.astype(np.complex128),
    )


def _factor(ypp: sp.csc_matrix):
    """SuperLU of Ypp. First without row pivoting in symmetric mode (an admittance matrix
    is diagonally dominant; a radial net then factors with no fill at all), checked by a
    residual; with partial pivoting if that check fails."""
    rng = np.random.default_rng(0)
    b = rng.normal(size=ypp.shape[0]) + 1j * rng.normal(size=ypp.shape[0])
    for kwargs in (
        {"diag_pivot_thresh": 0.0, "options": {"SymmetricMode": True}},
        {"diag_pivot_thresh": 1.0},
    ):
        try:
            lu = splu(ypp, permc_spec="MMD_AT_PLUS_A", **kwargs)
        except RuntimeError:
            continue
        x = lu.solve(b)
        if np.linalg.norm(ypp @ x - b) <= 1e-9 * np.linalg.norm(b):
            return lu
    raise UnsupportedNetError(
        "net: the admittance matrix is singular (an island without ext_grid?)"
    )


class TimeSeriesPowerFlow:
    """Fast repeated AC power flow of a pandapower net (see the module docstring).

    ``TimeSeriesPowerFlow(net)`` copies the net (it is not modified), runs `runpp` once on
    the copy with the controllable injections at zero to extract the admittance matrices,
    orders and symbolically factors the Jacobian's structure, and solves the net's own
    operating point (the first warm start). Element values omitted from a call keep the
    net's values (times each element's ``scaling``, zero when out of service, as in
    pandapower). Inputs: load, sgen, storage p/q and gen p.

    Tolerances: a step converges when the largest P/Q mismatch is below `tol_newton`
    [p.u. of ``net.sn_mva``], 100 x tighter than runpp's default criterion (1e-8 on the
    same mismatch), so results equal a tightened runpp's well within runpp's own accuracy.
    `enforce_q_lims` as runpp's (on by default: a generator's reactive limits hold).
    `tol_v` and `tol_s` are the Z-bus criteria of `grid.ParkGrid.solve`'s single step.

    `tap_control`: discrete on-load tap control of some transformers (`grid.taps`): each
    step's tap positions come out as ``tap_pos``. `run` starts from the net's positions
    every call; `solve` carries positions and delay counts from call to call.
    """

    def __init__(
        self,
        net: pp.pandapowerNet,
        *,
        tol_v: float = 1e-9,
        tol_s: float = 1e-8,
        max_iter: int = 200,
        enforce_q_lims: bool = True,
        tol_newton: float = 1e-10,
        tap_control: Sequence[TapControl] = (),
    ) -> None:
        check_supported(net)
        self.tol_v, self.tol_s, self.max_iter = float(tol_v), float(tol_s), int(max_iter)
        self.tol_newton = float(tol_newton)
        self.enforce_q_lims = bool(enforce_q_lims)
        self._base = {
            (el, col): net[el][col].to_numpy(dtype=np.float64).copy() for el, col in INJECTIONS
        }
        self.n_bus, self.n_line, self.n_trafo = len(net.bus), len(net.line), len(net.trafo)
        self.n_load, self.n_sgen, self.n_storage = len(net.load), len(net.sgen), len(net.storage)
        self.n_ext_grid, self.n_gen, self.n_trafo3w = (
            len(net.ext_grid),
            len(net.gen),
            len(net.trafo3w),
        )
        self._base_row = {k: v[None, :].copy() for k, v in self._base.items()}
        work = _zero_injection_runpp(net)
        self._extract_newton(work)
        self._extract(work)
        self._extract_taps(net, work, tuple(tap_control))
        self._start = self._base_start()
        self._v_last = self._v0.copy() if self._zbus else None
        self._state = self._start

    # --- construction -------------------------------------------------------------------
    def _extract_newton(self, work: pp.pandapowerNet) -> None:
        """The Newton solver's constants from the solved zero-injection copy `work`, in the
        solver's bus order (`_ordering`)."""
        from pandapower.pypower.idx_brch import BR_STATUS, F_BUS, T_BUS
        from pandapower.pypower.idx_bus import BASE_KV, CID_P, CID_Q, CZD_P, CZD_Q, PD, QD
        from pandapower.pypower.idx_gen import GEN_BUS, GEN_STATUS, PG, QMAX, QMIN

        ppc = work._ppc
        internal = ppc["internal"]
        if "V" not in internal:  # runpp skips a net whose only energised bus is the slack
            raise UnsupportedNetError("net: no bus but the slack is energised (nothing to solve)")
        base_mva = float(internal["baseMVA"])
        self._base_mva = base_mva
        self._trafo_loading = work._options["trafo_loading"]
        ybus = sp.csr_matrix(internal["Ybus"])
        n = ybus.shape[0]
        self._n = n
        order = _ordering(ybus)
        inv = np.empty(n, dtype=np.int64)
        inv[order] = np.arange(n)
        self._order, self._inv = order, inv

        # Ybus in solver order, every diagonal entry stored; the block-LU pattern
        y = sp.coo_matrix(ybus)
        rows = np.concatenate([inv[y.row], np.arange(n)])
        cols = np.concatenate([inv[y.col], np.arange(n)])
        vals = np.concatenate([y.data, np.zeros(n)]).astype(np.complex128)
        yp = sp.csr_matrix((vals, (rows, cols)), shape=(n, n))
        yp.sum_duplicates()
        yp.sort_indices()
        pat = sp.csr_matrix((np.ones_like(yp.data.real), yp.indices, yp.indptr), shape=(n, n))
        pat = (pat + pat.T).tocsr()
        pat.sort_indices()
        f_ptr, f_idx = newton.symbolic(n, pat.indptr.astype(np.int64), pat.indices.astype(np.int64))
        f_rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(f_ptr))
        keys = f_rows * n + f_idx
        y_rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(yp.indptr))
        y2f = np.searchsorted(keys, y_rows * n + yp.indices).astype(np.int64)
        f_diag = np.searchsorted(keys, np.arange(n, dtype=np.int64) * (n + 1)).astype(np.int64)
        self.lu_nnz = len(f_idx)
        self._sys = (
            yp.indptr.astype(np.int64),
            yp.indices.astype(np.int64),
            yp.data.astype(np.complex128),
            y2f,
            f_ptr,
            f_idx,
            f_diag,
            np.zeros((len(f_idx), 4)),
            np.zeros((n, 4)),
            np.zeros((n, 4)),
            np.zeros(n, dtype=np.complex128),
            np.zeros((n, 2)),
        )

        # buses: types, set points, the solved zero-injection state (first warm start)
        bus = internal["bus"]
        btype = np.full(n, newton.PQ, dtype=np.int64)
        btype[inv[np.asarray(internal["pv"], dtype=np.int64)]] = newton.PV
        btype[inv[np.asarray(internal["ref"], dtype=np.int64)]] = newton.REF
        self._btype = btype
        v = np.asarray(internal["V"], dtype=np.complex128)[order]
        self._vset = np.abs(v)
        self._start = (v.copy(), np.angle(v), np.abs(v))
        cvd = np.column_stack([bus[:, CID_P], bus[:, CZD_P], bus[:, CID_Q], bus[:, CZD_Q]])
        self._cvd = np.ascontiguousarray(np.nan_to_num(cvd.real)[order])
        self._vdep = bool(np.any(self._cvd != 0.0))
        # demand the controllable elements leave at zero (wards, xwards, motors) [p.u.]
        self._d_fixed = ((bus[:, PD] + 1j * bus[:, QD]) / base_mva)[order].astype(np.complex128)

        # pandapower bus -> solver bus (-1 when left out)
        lookup = np.asarray(work._pd2ppc_lookups["bus"], dtype=np.int64)
        bus_ppc = lookup[work.bus.index.to_numpy()]
        self._bus_solver = np.where(bus_ppc < n, inv[np.minimum(bus_ppc, n - 1)], -1)

        # generators: ppci rows (ext_grids, gens, xward gens), P [p.u.] per row
        gen = internal["gen"]
        self._gen_bus = inv[gen[:, GEN_BUS].real.astype(np.int64)]
        ref_gens = np.asarray(internal["ref_gens"], dtype=np.int64)
        self._gen_ref = np.isin(np.arange(len(gen)), ref_gens)
        self._gen_on = gen[:, GEN_STATUS].real > 0
        self._gen_qmin = np.ascontiguousarray(gen[:, QMIN].real / base_mva)
        self._gen_qmax = np.ascontiguousarray(gen[:, QMAX].real / base_mva)
        self._gen_p0 = np.ascontiguousarray(gen[:, PG].real / base_mva)
        gen_is = np.asarray(internal.get("gen_is", np.ones(len(ppc["gen"]), bool)), dtype=bool)
        ppc2ppci = np.cumsum(gen_is) - 1

        def gen_rows(el: str) -> np.ndarray:
            lk = work._pd2ppc_lookups.get(el)
            out = np.full(len(work[el]), -1, dtype=np.int64)
            if lk is None or not len(work[el]) or not len(lk):
                return out
            lk = np.asarray(lk, dtype=np.int64)
            idx = work[el].index.to_numpy()
            ok = (idx < len(lk)) & np.asarray(work._is_elements[el], dtype=bool)
            r = lk[np.minimum(idx, len(lk) - 1)]
            ok &= (r >= 0) & (r < len(gen_is))
            ok[ok] &= gen_is[r[ok]]
            out[ok] = ppc2ppci[r[ok]]
            return out

        self._eg_row = gen_rows("ext_grid")
        self._gen_row = gen_rows("gen")
        scaling = work.gen.scaling.to_numpy(np.float64) if len(work.gen) else np.zeros(0)
        self._gen_scale = scaling / base_mva

        # branches: every ppc row, in service or not, its ends in solver order
        branch = ppc["branch"]
        n_br = branch.shape[0]
        br_is = np.asarray(internal["branch_is"], dtype=bool)
        f_ppc = branch[:, F_BUS].real.astype(np.int64)
        t_ppc = branch[:, T_BUS].real.astype(np.int64)
        f_s = np.where(f_ppc < n, inv[np.minimum(f_ppc, n - 1)], -1)
        t_s = np.where(t_ppc < n, inv[np.minimum(t_ppc, n - 1)], -1)
        in_service = br_is & (branch[:, BR_STATUS].real > 0) & (f_s >= 0) & (t_s >= 0)
        base_kv = ppc["bus"][:, BASE_KV].real.astype(np.float64)
        kv_f, kv_t = base_kv[f_ppc], base_kv[t_ppc]

        def all_rows(m: sp.spmatrix) -> tuple:
            rows_is = np.flatnonzero(br_is)
            c = sp.coo_matrix(m)
            full = sp.csr_matrix(
                (c.data, (rows_is[c.row], inv[c.col])), shape=(n_br, n), dtype=np.complex128
            )
            full.sort_indices()
            return _csr(full)

        lk = work._pd2ppc_lookups["branch"]

        def rows_of(el: str, k: int = 0) -> np.ndarray:
            if el not in lk:
                return np.zeros(0, dtype=np.int64)
            f, t = lk[el]
            if el == "trafo3w":
                m = (t - f) // 3
                return np.arange(f + k * m, f + (k + 1) * m, dtype=np.int64)
            return np.arange(f, t, dtype=np.int64)

        line, trafo, t3 = work.line, work.trafo, work.trafo3w
        f64 = np.float64
        self._post_n = (
            self._bus_solver,
            in_service,
            f_s,
            t_s,
            kv_f,
            kv_t,
            all_rows(internal["Yf"]),
            all_rows(internal["Yt"]),
            (rows_of("line"), rows_of("trafo"), *(rows_of("trafo3w", k) for k in range(3))),
            (
                (line.max_i_ka * line.df * line.parallel).to_numpy(f64),
                trafo.vn_hv_kv.to_numpy(f64),
                trafo.vn_lv_kv.to_numpy(f64),
                trafo.sn_mva.to_numpy(f64),
                (trafo.parallel * trafo.df).to_numpy(f64),
                t3.vn_hv_kv.to_numpy(f64),
                t3.vn_mv_kv.to_numpy(f64),
                t3.vn_lv_kv.to_numpy(f64),
                t3.sn_hv_mva.to_numpy(f64),
                t3.sn_mv_mva.to_numpy(f64),
                t3.sn_lv_mva.to_numpy(f64),
            ),
            self._trafo_loading == "current",
        )

        # injections: element -> solver bus (-1 when inactive) and scale to demand [p.u.]
        self._inj_n = {}
        for el in ("load", "sgen", "storage"):
            tab = work[el]
            active = (
                np.asarray(work._is_elements[el], dtype=bool) if len(tab) else np.zeros(0, bool)
            )
            cols = self._bus_solver[work.bus.index.get_indexer(tab.bus.to_numpy())]
            bus_s = np.where(active, cols, -1).astype(np.int64)
            sign = -1.0 if el == "sgen" else 1.0
            scale = tab.scaling.to_numpy(np.float64) * sign / base_mva
            self._inj_n[el] = (bus_s, np.ascontiguousarray(scale))

    def _extract_taps(
        self, net: pp.pandapowerNet, work: pp.pandapowerNet, controls: tuple[TapControl, ...]
    ) -> None:
        """The tap controllers' constants (`grid.newton.solve_series`' ``taps``): each
        controlled transformer's admittance stamp at every position of its range, from
        pandapower's own branch values (``_calc_branch_values_from_trafo_df``) and pi model
        (``makeYbus.branch_vectors``), checked against runpp's Yf, Yt at the net's positions."""
        from pandapower.pypower.idx_brch import F_BUS, T_BUS

        c = len(controls)
        self.tap_controls = controls
        self.n_tap = c
        self._no_taps = (
            np.zeros((0, 6), np.int64),
            np.zeros((0, 2)),
            np.zeros(0, np.int64),
            np.zeros((0, 1, 4), np.complex128),
            np.zeros((0, 4), np.int64),
            self._sys[2].copy(),
        )
        self._tap_pos0 = np.zeros(0, np.int64)
        self._tap_state = (np.zeros(0, np.int64), np.zeros(0, np.int64))
        self._tap_idx_yf = self._tap_idx_yt = np.zeros((0, 4), np.int64)
        if not c:
            self._taps = self._no_taps
            return
        trafo = work.trafo
        pos_t = trafo.index.get_indexer([ctl.trafo for ctl in controls])
        for ctl, k in zip(controls, pos_t, strict=True):
            if k < 0:
                raise UnsupportedNetError(f"tap control: no trafo {ctl.trafo} in net.trafo")
        if len(set(pos_t.tolist())) < c:
            raise UnsupportedNetError("tap control: two controllers on one trafo")

        def col(name: str) -> np.ndarray:
            return trafo[name].to_numpy(np.float64)[pos_t]

        tmin, tmax, step = col("tap_min"), col("tap_max"), col("tap_step_percent")
        pos = np.where(np.isnan(col("tap_pos")), col("tap_neutral"), col("tap_pos"))
        for j, ctl in enumerate(controls):
            where = f"net.trafo {ctl.trafo}"
            vals = (tmin[j], tmax[j], step[j], pos[j])
            if not np.all(np.isfinite(vals)):
                raise UnsupportedNetError(
                    f"{where}: tap_min, tap_max, tap_step_percent and tap_pos (or tap_neutral)"
                    " must be set for tap control"
                )
            if any(x != round(x) for x in (tmin[j], tmax[j], pos[j])) or not (
                tmin[j] <= pos[j] <= tmax[j]
            ):
                raise UnsupportedNetError(
                    f"{where}: tap_pos {pos[j]:g} must be a whole position in"
                    f" tap_min..tap_max ({tmin[j]:g}..{tmax[j]:g})"
                )
        tmin, tmax, pos0 = (x.astype(np.int64) for x in (tmin, tmax, pos))
        # pandapower's direction: tap_side_coeff * tap_sign (TrafoController)
        coeff = np.where(trafo.tap_side.to_numpy()[pos_t] == "hv", 1, -1)
        coeff[np.array([ctl.side == "hv" for ctl in controls])] *= -1
        coeff[step < 0] *= -1
        deg = col("tap_step_degree") if "tap_step_degree" in trafo else np.full(c, np.nan)
        sign = np.where(np.isnan(deg), 1.0, np.sign(np.cos(np.deg2rad(deg))))
        coeff = coeff * np.where((sign == 0) | np.isnan(sign), 1, sign).astype(np.int64)
        # controlled bus in solver order; -1 where pandapower's controller does nothing
        side_bus = np.array(
            [trafo[f"{ctl.side}_bus"].to_numpy()[k] for ctl, k in zip(controls, pos_t, strict=True)]
        )
        eg = work.ext_grid
        eg_bus = set(eg.bus[eg.in_service.astype(bool)].tolist())
        bus_s = self._bus_solver[work.bus.index.get_indexer(side_bus)]
        active = trafo.in_service.to_numpy(bool)[pos_t] & ~np.isin(side_bus, list(eg_bus))
        active &= bus_s >= 0
        lk = work._pd2ppc_lookups["branch"]["trafo"]
        rows = lk[0] + pos_t  # ppc branch rows
        br_is = np.asarray(work._ppc["internal"]["branch_is"], dtype=bool)
        active &= br_is[rows]
        ctl_i = np.column_stack(
            [
                np.where(active, bus_s, -1),
                tmin,
                tmax,
                coeff,
                [ctl.delay_intervals for ctl in controls],
                [-1 if ctl.max_steps is None else ctl.max_steps for ctl in controls],
            ]
        ).astype(np.int64)
        ctl_f = np.array([[ctl.vm_lower_pu, ctl.vm_upper_pu] for ctl in controls])

        # stamps: pandapower's own branch values of the transformers at each position
        # offset (every controller at once), their pi-model admittances as makeYbus's
        from pandapower.build_branch import _calc_branch_values_from_trafo_df
        from pandapower.pypower.idx_brch import (
            BR_B,
            BR_B_ASYM,
            BR_G,
            BR_G_ASYM,
            BR_R,
            BR_STATUS,
            BR_X,
            SHIFT,
            TAP,
        )  # fmt: skip
        from pandapower.pypower.makeYbus import branch_vectors

        span = int((tmax - tmin).max()) + 1
        stamps = np.zeros((c, span, 4), dtype=np.complex128)
        branch = work._ppc["branch"]
        f_ppc = branch[rows, F_BUS].real.astype(np.int64)
        t_ppc = branch[rows, T_BUS].real.astype(np.int64)
        ppci_row = np.cumsum(br_is) - 1
        cols = (BR_R, BR_X, BR_G, BR_B, BR_G_ASYM, BR_B_ASYM, TAP, SHIFT)
        for k in range(-1, span):
            df = trafo.copy()
            tp = df.tap_pos.to_numpy(np.float64).copy()
            tp[pos_t] = pos0 if k < 0 else np.minimum(tmin + k, tmax)
            df["tap_pos"] = tp
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                vals = _calc_branch_values_from_trafo_df(work, work._ppc, df)
            br = branch[rows].copy()
            for col_, x in zip(cols, vals, strict=True):
                br[:, col_] = np.asarray(x)[pos_t]
            br[:, BR_STATUS] = 1.0
            ytt, yff, yft, ytf = branch_vectors(br, c)
            st4 = np.column_stack([yff, yft, ytf, ytt])
            if k >= 0:
                stamps[:, k] = st4
                continue
            # the net's positions: the stamps must be runpp's own Yf, Yt entries
            yf = sp.csr_matrix(work._ppc["internal"]["Yf"])
            yt = sp.csr_matrix(work._ppc["internal"]["Yt"])
            for j in np.flatnonzero(active):
                r, f, t = ppci_row[rows[j]], f_ppc[j], t_ppc[j]
                got = np.array([yf[r, f], yf[r, t], yt[r, f], yt[r, t]])
                if not np.allclose(st4[j], got, rtol=1e-12, atol=1e-12):
                    raise UnsupportedNetError(
                        f"net.trafo {controls[j].trafo}: its admittance at tap_pos differs from"
                        " runpp's (a transformer model the tap control cannot follow)"
                    )
        for j in range(c):  # beyond tmax: tmax's stamp (never used; keeps arrays regular)
            stamps[j, tmax[j] - tmin[j] + 1 :] = stamps[j, tmax[j] - tmin[j]]

        def entries(ptr, idx, r, cols):
            out = []
            for col_ in cols:
                seg = idx[ptr[r] : ptr[r + 1]]
                q = int(np.searchsorted(seg, col_))
                if q >= len(seg) or seg[q] != col_:
                    return None
                out.append(int(ptr[r]) + q)
            return out

        inv = self._inv
        y_ptr, y_idx = self._sys[0], self._sys[1]
        yf_ptr, yf_idx = self._post_n[6][0], self._post_n[6][1]
        yt_ptr, yt_idx = self._post_n[7][0], self._post_n[7][1]
        idx_y = np.full((c, 4), -1, np.int64)
        idx_yf = np.full((c, 4), -1, np.int64)
        idx_yt = np.full((c, 4), -1, np.int64)
        for j in range(c):
            if not active[j]:
                continue
            fs, ts = inv[f_ppc[j]], inv[t_ppc[j]]
            ff_ft = entries(y_ptr, y_idx, fs, (fs, ts))
            tf_tt = entries(y_ptr, y_idx, ts, (fs, ts))
            a = entries(yf_ptr, yf_idx, rows[j], (fs, ts))
            b = entries(yt_ptr, yt_idx, rows[j], (fs, ts))
            if None in (ff_ft, tf_tt, a, b):
                raise UnsupportedNetError(f"net.trafo {controls[j].trafo}: no admittance entry")
            idx_y[j] = ff_ft + tf_tt
            idx_yf[j, :2] = a
            idx_yt[j, 2:] = b
        self._tap_pos0 = pos0
        self._tap_branch = (f_ppc, t_ppc, ppci_row[rows], active, side_bus)
        self._taps = (ctl_i, ctl_f, pos0, stamps, idx_y, self._sys[2].copy())
        self._tap_idx_yf, self._tap_idx_yt = idx_yf, idx_yt
        self._tap_state = (pos0.copy(), np.zeros(c, np.int64))

    def _zbus_taps(self) -> tuple:
        """What `grid.ParkGrid.solve`'s Z-bus step needs to follow the tap controllers: per
        controller the positions of its stamp in the step's Ybus, Yf and Yt values (-1:
        not there), and how the no-load voltages w move with its stamp.

        The Z-bus step keeps Ypp factored once, so a controlled transformer must have one
        end at the slack and its other end's self-admittance independent of the tap (a tap
        on the slack's side): then a move changes only Yps, and ``w = -Ypp^-1 Yps Vs`` by
        ``-Ypp^-1 e_k dY Vs``. Returns (idx_y, idx_yf, idx_yt (c, 4) int64, z (c, n_pq)
        complex = ``-Ypp^-1 e_k Vs``, k_stamp (c,) which stamp entry enters Yps)."""
        c = self.n_tap
        f_ppc, t_ppc, rows, active, _ = self._tap_branch if c else ((),) * 5
        _, _, _, stamps, _, _ = self._taps
        ref = set(self._ref.tolist())
        pq_pos = {b: k for k, b in enumerate(self._pq.tolist())}
        y_ptr, y_idx, _ = _csr(self._ybus)
        yf_ptr, yf_idx, _ = _csr(self._yf)
        yt_ptr, yt_idx, _ = _csr(self._yt)
        ypp = sp.csr_matrix(
            (self._ypp[2], self._ypp[1], self._ypp[0]), shape=(len(self._pq),) * 2
        ).tocsc()
        lu = _factor(ypp)
        idx = np.full((3, c, 4), -1, np.int64)
        z = np.zeros((c, len(self._pq)), np.complex128)
        k_stamp = np.zeros(c, np.int64)

        def at(ptr, ind, r, col):
            seg = ind[ptr[r] : ptr[r + 1]]
            q = int(np.searchsorted(seg, col))
            if q >= len(seg) or seg[q] != col:
                raise UnsupportedNetError("tap control: a transformer without admittance entry")
            return int(ptr[r]) + q

        for j in range(c):
            if not active[j]:
                continue
            f, t = int(f_ppc[j]), int(t_ppc[j])
            if (f in ref) == (t in ref):
                raise UnsupportedNetError(
                    f"tap control of trafo {self.tap_controls[j].trafo}: ParkGrid.solve"
                    " needs one end of a controlled transformer at the ext_grid"
                )
            # the PQ end's self-admittance must not move with the tap
            self_k, k_stamp[j], pq_bus, ref_bus = (3, 2, t, f) if f in ref else (0, 1, f, t)
            span = stamps[j, :, self_k]
            if not np.allclose(span, span[0], rtol=1e-12, atol=0.0):
                raise UnsupportedNetError(
                    f"tap control of trafo {self.tap_controls[j].trafo}: ParkGrid.solve needs"
                    " the tap on the ext_grid's side"
                )
            idx[0, j] = [
                at(y_ptr, y_idx, f, f), at(y_ptr, y_idx, f, t),
                at(y_ptr, y_idx, t, f), at(y_ptr, y_idx, t, t),
            ]  # fmt: skip
            r = int(rows[j])
            idx[1, j, :2] = [at(yf_ptr, yf_idx, r, f), at(yf_ptr, yf_idx, r, t)]
            idx[2, j, 2:] = [at(yt_ptr, yt_idx, r, f), at(yt_ptr, yt_idx, r, t)]
            e = np.zeros(len(self._pq), np.complex128)
            e[pq_pos[pq_bus]] = 1.0
            v_ref = self._v_ref[list(self._ref).index(ref_bus)]
            z[j] = -lu.solve(e) * v_ref
        return idx[0], idx[1], idx[2], z, k_stamp

    def tap_reset(self) -> None:
        """Back to the net's tap positions with no interval counted (`solve`'s state)."""
        self._tap_state = (self._tap_pos0.copy(), np.zeros(self.n_tap, np.int64))

    def _extract(self, work: pp.pandapowerNet) -> None:
        """The Z-bus constants of `ParkGrid.solve`'s one-call step (`_step_segments`); only
        for nets of PQ buses with constant-power loads (sets ``_zbus``)."""
        from pandapower.pypower.idx_brch import F_BUS, T_BUS
        from pandapower.pypower.idx_bus import BASE_KV

        ppc = work._ppc
        internal = ppc["internal"]
        self._zbus = not (len(internal["pv"]) or self._vdep or len(work.gen))
        if not self._zbus:
            return
        opts = work._options
        self._trafo_loading = opts["trafo_loading"]
        base_mva = float(internal["baseMVA"])
        self._base_mva = base_mva
        ybus = sp.csr_matrix(internal["Ybus"])
        n = ybus.shape[0]
        ref = np.asarray(internal["ref"], dtype=np.int64)
        pq = np.asarray(internal["pq"], dtype=np.int64)
        self._ref, self._pq, self._n = ref, pq, n
        v_solved = np.asarray(internal["V"], dtype=np.complex128)
        self._v_ref = v_solved[ref].copy()

        # bus lookups: pandapower bus -> ppci bus (or -1 when left out)
        lookup = np.asarray(work._pd2ppc_lookups["bus"], dtype=np.int64)
        bus_ppc = lookup[work.bus.index.to_numpy()]
        self._bus_ppci = np.where(bus_ppc < n, bus_ppc, -1)

        # PQ block, its factorisation, the no-load voltages w
        ypp = ybus[pq][:, pq].tocsc()
        yps = ybus[pq][:, ref]
        lu = _factor(ypp)
        l_strict = sp.tril(lu.L, k=-1)
        u_strict = sp.triu(lu.U, k=1)
        self._lu = (
            *_csr(l_strict),
            *_csr(u_strict),
            1.0 / lu.U.diagonal().astype(np.complex128),
            lu.perm_r.astype(np.int64),
            lu.perm_c.astype(np.int64),
        )
        self._ypp = _csr(ypp)
        self._w = -lu.solve(np.asarray(yps @ self._v_ref, dtype=np.complex128))
        self._v0 = v_solved[pq].copy()  # converged no-load state: the first warm start

        self._ybus = ybus
        # branches: ppc rows, the in-service ones (ppci rows), their end buses
        branch = ppc["branch"]
        br_is = np.asarray(internal["branch_is"], dtype=bool)
        self._br_is = br_is
        self._n_br = branch.shape[0]
        self._yf = sp.csr_matrix(internal["Yf"])
        self._yt = sp.csr_matrix(internal["Yt"])
        self._f = branch[br_is, F_BUS].real.astype(np.int64)
        self._t = branch[br_is, T_BUS].real.astype(np.int64)
        base_kv = ppc["bus"][:, BASE_KV].real.astype(np.float64)
        self._kv_f = base_kv[self._f]
        self._kv_t = base_kv[self._t]
        lookups = work._pd2ppc_lookups["branch"]
        self._line_rows = np.arange(*lookups["line"]) if "line" in lookups else np.arange(0)
        self._trafo_rows = np.arange(*lookups["trafo"]) if "trafo" in lookups else np.arange(0)
        line = work.line
        self._line_imax = (line.max_i_ka * line.df * line.parallel).to_numpy(dtype=np.float64)
        trafo = work.trafo
        self._trafo_vn = np.column_stack(
            [trafo.vn_hv_kv.to_numpy(np.float64), trafo.vn_lv_kv.to_numpy(np.float64)]
        )
        self._trafo_sn = trafo.sn_mva.to_numpy(np.float64)
        self._trafo_div = (trafo.parallel * trafo.df).to_numpy(np.float64)

        # injections: element -> ppci bus (-1 when inactive) and scale to demand [p.u.]
        self._inj = {}
        for el in ("load", "sgen", "storage"):
            tab = work[el]
            active = (
                np.asarray(work._is_elements[el], dtype=bool) if len(tab) else np.zeros(0, bool)
            )
            cols = self._bus_ppci[work.bus.index.get_indexer(tab.bus.to_numpy())]
            bus = np.where(active, cols, -1).astype(np.int64)
            sign = -1.0 if el == "sgen" else 1.0
            scale = tab.scaling.to_numpy(np.float64) * sign / base_mva
            self._inj[el] = (bus, np.ascontiguousarray(scale))

        # ext_grids: their ppci bus (one ext_grid per bus)
        eg_is = np.asarray(work._is_elements["ext_grid"], dtype=bool)
        eg_bus = self._bus_ppci[work.bus.index.get_indexer(work.ext_grid.bus.to_numpy())]
        if len(set(eg_bus[eg_is].tolist())) < int(eg_is.sum()):
            raise UnsupportedNetError("net.ext_grid: two ext_grids on one bus are not supported")
        self._eg_is = eg_is
        self._eg_bus = np.where(eg_is, eg_bus, -1).astype(np.int64)

    def _step_segments(self) -> tuple[list, list, list]:
        """The net's constants for `kernels.park_step`: int64, float64 and complex128
        segments in the kernel's order (up to I_SIZES, R_TOLS, C_Y_VAL); `grid.park`
        appends the park's own segments and packs them (`kernels.pack`)."""
        (yf_ptr, yf_idx, yf_val), (yt_ptr, yt_idx, yt_val) = _csr(self._yf), _csr(self._yt)
        y_ptr, y_idx, y_val = _csr(self._ybus)
        l_ptr, l_idx, l_val, u_ptr, u_idx, u_val, u_inv_diag, perm_r, perm_c = self._lu
        line_first = int(self._line_rows[0]) if len(self._line_rows) else 0
        trafo_first = int(self._trafo_rows[0]) if len(self._trafo_rows) else 0
        sizes = np.zeros(6, dtype=np.int64)
        sizes[kernels.S_N] = self._n
        sizes[kernels.S_N_BR] = self._n_br
        sizes[kernels.S_LINE_FIRST] = line_first
        sizes[kernels.S_TRAFO_FIRST] = trafo_first
        sizes[kernels.S_BY_CURRENT] = int(self._trafo_loading == "current")
        sizes[kernels.S_MAX_ITER] = self.max_iter
        tols = np.zeros(3)
        tols[kernels.T_BASE_MVA] = self._base_mva
        tols[kernels.T_TOL_V] = self.tol_v
        tols[kernels.T_TOL_S] = self.tol_s
        ints = [
            self._pq,
            self._ref,
            l_ptr,
            l_idx,
            u_ptr,
            u_idx,
            perm_r,
            perm_c,
            self._ypp[0],
            self._ypp[1],
            self._bus_ppci,
            yf_ptr,
            yf_idx,
            yt_ptr,
            yt_idx,
            self._f,
            self._t,
            np.flatnonzero(self._br_is),
            y_ptr,
            y_idx,
            self._eg_bus,
            self._inj["load"][0],
            self._inj["sgen"][0],
            self._inj["storage"][0],
            sizes,
        ]
        reals = [
            self._kv_f,
            self._kv_t,
            self._line_imax,
            self._trafo_vn[:, 0],
            self._trafo_vn[:, 1],
            self._trafo_sn,
            self._trafo_div,
            self._inj["load"][1],
            self._inj["sgen"][1],
            self._inj["storage"][1],
            tols,
        ]
        cplx = [l_val, u_val, u_inv_diag, self._ypp[2], self._w, self._v_ref, yf_val, yt_val, y_val]
        assert len(ints) == kernels.I_SIZES + 1 and len(reals) == kernels.R_TOLS + 1
        assert len(cplx) == kernels.C_Y_VAL + 1
        return ints, reals, cplx

    def _base_start(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The first warm start: the net's own operating point, solved from the angles of
        the zero-injection solution (they carry every phase shift) with magnitudes at the
        set points or 1.0, else from that solution itself, else from a flat start; the
        zero-injection solution if none converges."""
        values, _ = self._values({})
        d = self._demand(values, 1)
        gp = self._gen_p(None)
        _, va_z, vm_z = self._start
        ref = self._btype == newton.REF
        va_flat = np.full(self._n, va_z[ref].mean() if ref.any() else 0.0)
        va_flat[ref] = va_z[ref]
        vm_flat = np.where(self._btype == newton.PQ, 1.0, self._vset)
        gens = (self._gen_bus, self._gen_ref, self._gen_on, self._gen_qmin, self._gen_qmax)
        for va, vm in ((va_z, vm_flat), (va_z, vm_z), (va_flat, vm_flat)):
            start = (vm * np.exp(1j * va), va.copy(), vm.copy())
            v, iters, *_ = newton.solve_series(
                self._sys, *start, d, self._cvd, self._btype, self._vset, gens, gp,
                self.tol_newton, self.max_iter, self.enforce_q_lims, self._no_taps,
                (np.zeros(0, np.int64), np.zeros(0, np.int64)),
            )  # fmt: skip
            if iters[0] >= 0:
                return (v[0].copy(), np.angle(v[0]), np.abs(v[0]))
        return self._start

    # --- solving ------------------------------------------------------------------------
    def _demand(self, values: dict[tuple[str, str], np.ndarray | None], steps: int) -> np.ndarray:
        """(steps, n) complex nominal bus demand [p.u.] in solver order, + = consumption
        (omitted values: the net's), plus the fixed demand of wards, xwards and motors."""
        d = np.empty((steps, self._n), dtype=np.complex128)
        d[:] = self._d_fixed
        for el, (bus, scale) in self._inj_n.items():
            p, q = values[(el, "p_mw")], values[(el, "q_mvar")]
            p = self._base_row[(el, "p_mw")] if p is None else p
            q = self._base_row[(el, "q_mvar")] if q is None else q
            kernels.add_demand(d, p, q, bus, scale)
        return d

    def _gen_p(self, p_mw: np.ndarray | None) -> np.ndarray:
        """(steps or 1, n_gen_rows) active power of the solver's generators [p.u.]."""
        p = self._base_row[("gen", "p_mw")] if p_mw is None else p_mw
        out = np.repeat(self._gen_p0[None, :], p.shape[0], axis=0)
        ok = self._gen_row >= 0
        out[:, self._gen_row[ok]] = p[:, ok] * self._gen_scale[ok]
        return out

    def _values(self, given: dict[str, np.ndarray | None]) -> tuple[dict, int]:
        steps = None
        out = {}
        for el, col in INJECTIONS:
            arg = f"{el}_{col}"
            x = given.get(arg)
            n_el = len(self._base[(el, col)])
            if x is None:
                out[(el, col)] = None
                continue
            x = np.asarray(x, dtype=np.float64)
            if x.ndim != 2 or x.shape[1] != n_el:
                raise InputError(f"{arg}: expected shape (steps, {n_el}), got {tuple(x.shape)}")
            if steps is not None and x.shape[0] != steps:
                raise InputError(f"{arg}: {x.shape[0]} steps, other arguments have {steps}")
            if not np.isfinite(x).all():
                raise InputError(f"{arg}: contains NaN or inf")
            steps = x.shape[0]
            out[(el, col)] = x
        return out, 1 if steps is None else steps

    def run(
        self,
        *,
        load_p_mw: np.ndarray | None = None,
        load_q_mvar: np.ndarray | None = None,
        sgen_p_mw: np.ndarray | None = None,
        sgen_q_mvar: np.ndarray | None = None,
        storage_p_mw: np.ndarray | None = None,
        storage_q_mvar: np.ndarray | None = None,
        gen_p_mw: np.ndarray | None = None,
        raise_on_failure: bool = True,
        warm_start: tuple | None = None,
        tap_state: tuple | None = None,
    ) -> PowerFlowResult:
        """Solve every step; arguments (steps, n_elements) in ``net.<element>.index`` order.

        A step that does not converge raises `PowerFlowError` (naming the step), unless
        ``raise_on_failure=False``: then its ``converged`` is False and its results NaN.
        So does a step whose tap control still moves after `grid.taps.MAX_ROUNDS` rounds
        (then ``tap_settled`` is False and the results are those of the last solve).
        Tap control starts from the net's positions (`tap_state`: `solve`'s own state).
        """
        values, steps = self._values(
            {
                "load_p_mw": load_p_mw,
                "load_q_mvar": load_q_mvar,
                "sgen_p_mw": sgen_p_mw,
                "sgen_q_mvar": sgen_q_mvar,
                "storage_p_mw": storage_p_mw,
                "storage_q_mvar": storage_q_mvar,
                "gen_p_mw": gen_p_mw,
            }
        )
        demand = self._demand(values, steps)
        gen_p = self._gen_p(values[("gen", "p_mw")])
        return self._solve_demand(demand, gen_p, warm_start, raise_on_failure, tap_state)

    def _solve_demand(
        self,
        demand: np.ndarray,
        gen_p: np.ndarray,
        warm_start: tuple | None,
        raise_on_failure: bool,
        tap_state: tuple | None = None,
    ) -> PowerFlowResult:
        """Solve for a (steps, n) bus demand [p.u.]; the core of `run` and `solve`.
        `tap_state` (positions, counts) is updated in place; None: from the net's."""
        v0, va0, vm0 = self._start if warm_start is None else warm_start
        gens = (self._gen_bus, self._gen_ref, self._gen_on, self._gen_qmin, self._gen_qmax)
        if tap_state is None:
            tap_state = (self._tap_pos0.copy(), np.zeros(self.n_tap, np.int64))
        taps = self._taps
        sys = self._sys
        if self.n_tap:  # Ybus values at the positions in force: a copy per call
            sys = (*sys[:2], taps[5].copy(), *sys[3:])
        v, iters, mism, pg, qg, tap_pos, settled = newton.solve_series(
            sys,
            v0,
            va0,
            vm0,
            demand,
            self._cvd,
            self._btype,
            self._vset,
            gens,
            gen_p,
            self.tol_newton,
            self.max_iter,
            self.enforce_q_lims,
            taps,
            tap_state,
        )
        converged = iters >= 0
        if raise_on_failure and not converged.all():
            t = int(np.flatnonzero(~converged)[0])
            raise PowerFlowError(
                f"power flow step {t} did not converge in {self.max_iter} iterations"
                f" (largest mismatch {mism[t]:.3g} p.u.; too much load or generation for the net?)"
            )
        if raise_on_failure and not settled.all():
            t = int(np.flatnonzero(~settled)[0])
            raise PowerFlowError(
                f"tap control in step {t} still moved after {MAX_ROUNDS} rounds (a band"
                " narrower than one tap step hunts)"
            )
        if converged[-1]:
            self._last = (v[-1].copy(), np.angle(v[-1]), np.abs(v[-1]))
        else:
            self._last = self._start
        post = self._post_n
        block = self._results(v, post, pg, qg, tap_pos)
        nb, nl, nt = self.n_bus, self.n_line, self.n_trafo
        sizes = [nb] * 2 + [nl] * 6 + [nt] * 5 + [self.n_trafo3w]
        sizes += [self.n_ext_grid] * 2 + [self.n_gen] * 2
        parts, o = [], 0
        for k in sizes:
            parts.append(block[:, o : o + k])
            o += k
        parts.append(block[:, o])
        return PowerFlowResult(
            **dict(zip(_NAMES, parts, strict=True)),
            converged=converged,
            iterations=iters,
            tap_pos=tap_pos,
            tap_settled=settled,
        )

    def _results(self, v, post, pg, qg, tap_pos) -> np.ndarray:
        """`newton.results` of every step; with tap control, per run of steps with the same
        positions, the controlled transformers' Yf and Yt rows at those positions."""
        gens = (self._eg_row, self._gen_row, pg, qg)
        if not self.n_tap:
            return newton.results(
                v, *post[:6], post[6], post[7], post[8], post[9], post[10], gens, self._base_mva
            )
        ctl_i, _, pos0, stamps, _, _ = self._taps
        yf = (post[6][0], post[6][1], post[6][2].copy())
        yt = (post[7][0], post[7][1], post[7][2].copy())
        tmin = ctl_i[:, 1].copy()
        cuts = np.flatnonzero(np.any(tap_pos[1:] != tap_pos[:-1], axis=1)) + 1
        bounds = [0, *cuts.tolist(), len(v)]
        parts = []
        for a, b in itertools.pairwise(bounds):
            pos = tap_pos[a].copy()
            apply_taps(pos, pos0, tmin, stamps, self._tap_idx_yf, post[6][2], yf[2])
            apply_taps(pos, pos0, tmin, stamps, self._tap_idx_yt, post[7][2], yt[2])
            g = (gens[0], gens[1], pg[a:b], qg[a:b])
            parts.append(
                newton.results(
                    v[a:b], *post[:6], yf, yt, post[8], post[9], post[10], g, self._base_mva
                )
            )
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def solve(
        self,
        *,
        load_p_mw: np.ndarray | None = None,
        load_q_mvar: np.ndarray | None = None,
        sgen_p_mw: np.ndarray | None = None,
        sgen_q_mvar: np.ndarray | None = None,
        storage_p_mw: np.ndarray | None = None,
        storage_q_mvar: np.ndarray | None = None,
        gen_p_mw: np.ndarray | None = None,
    ) -> PowerFlowResult:
        """One step, warm-started from the previous call; arguments (n_elements,) arrays.

        Returns results without the step axis; raises `PowerFlowError` if not converged.
        """
        return self._solve1(
            load_p_mw=load_p_mw,
            load_q_mvar=load_q_mvar,
            sgen_p_mw=sgen_p_mw,
            sgen_q_mvar=sgen_q_mvar,
            storage_p_mw=storage_p_mw,
            storage_q_mvar=storage_q_mvar,
            gen_p_mw=gen_p_mw,
        ).step(0)

    def _solve1(self, **kwargs: np.ndarray | None) -> PowerFlowResult:
        """One warm-started step; results keep a step axis of length 1."""
        args = {}
        for k, x in kwargs.items():
            if x is None:
                args[k] = None
                continue
            a = np.asarray(x, dtype=np.float64)
            if a.ndim != 1:
                raise InputError(f"{k}: expected a 1-D array (n_elements,), got shape {a.shape}")
            args[k] = a[None, :]
        res = self.run(**args, warm_start=self._state, tap_state=self._tap_state)
        self._state = self._last
        return res
