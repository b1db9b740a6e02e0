"""`TimeSeriesPowerFlow`: many power-flow steps of one pandapower net, fast, equal to runpp.

The net's admittance matrices are taken once from pandapower itself (one `runpp` of the
net with all injections at zero: ``net._ppc["internal"]``: Ybus, Yf, Yt and the bus and
branch lookups), so every impedance, tap position, phase shift, switch and out-of-service
element is modelled exactly as `runpp` models it. Each step then solves the PQ buses with
the implicit Z-bus fixed point (`grid.kernels`, numba, Ypp factored once, warm-started from
the previous step); no DataFrame is built per step. Results follow pandapower's own result
definitions (``results_branch.py``): line loading = max(|I_from|, |I_to|) / (max_i_ka * df *
parallel), transformer loading by current (or by power if the net's options say so), the
ext_grid power = computed injection + the loads at the slack bus.

Supported: ext_grid, bus, line, two-winding trafo (any tap position), load (constant
power), sgen, storage, bus-bus and line switches. Anything else with rows is refused with
an `UnsupportedNetError`; a step that does not converge raises `PowerFlowError`.

Signs as pandapower's: load and storage p_mw + = consumption / charging, sgen + =
generation, ext_grid p_mw + = supplied into the net.
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from grid import kernels
from grid.errors import PowerFlowError, UnsupportedNetError
from parktwin.errors import InputError

if TYPE_CHECKING:
    import pandapower as pp

#: Element tables the solver models; any other non-empty element table is refused.
SUPPORTED = frozenset({"bus", "line", "trafo", "load", "sgen", "storage", "switch", "ext_grid"})
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
)
_SQRT3 = math.sqrt(3.0)
#: The outputs of `kernels.results_series`, in order (fields of PowerFlowResult).
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
    "ext_grid_p_mw",
    "ext_grid_q_mvar",
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
    ext_grid_p_mw: np.ndarray  # (steps, n_ext_grid), + = supplied into the net
    ext_grid_q_mvar: np.ndarray
    losses_mw: np.ndarray  # (steps,) all branches and shunts
    converged: np.ndarray  # (steps,) bool
    iterations: np.ndarray  # (steps,) fixed-point iterations (-1 = not converged)

    def step(self, t: int) -> PowerFlowResult:
        """The results of step `t` alone (arrays without the step axis)."""
        return PowerFlowResult(**{f.name: getattr(self, f.name)[t] for f in fields(self)})


def check_supported(net: pp.pandapowerNet) -> None:
    """Raise `UnsupportedNetError` if the net holds anything the solver does not model."""
    for key, table in net.items():
        if not isinstance(table, pd.DataFrame) or key.startswith(("res_", "_")):
            continue
        if key in SUPPORTED or key in _DESCRIPTIVE or table.empty:
            continue
        raise UnsupportedNetError(
            f"net.{key}: {len(table)} element(s) of type {key!r} are not supported by"
            f" TimeSeriesPowerFlow (supported: {', '.join(sorted(SUPPORTED))})"
        )
    if len(net.switch) and net.switch.et.isin(["t", "t3"]).any():
        bad = net.switch.index[net.switch.et.isin(["t", "t3"])][0]
        raise UnsupportedNetError(
            f"net.switch[{bad}]: transformer switches are not supported (only bus-bus and line)"
        )
    for col in ("const_z_p_percent", "const_i_p_percent", "const_z_q_percent", "const_i_q_percent"):
        if col in net.load and (net.load[col].fillna(0.0) != 0.0).any():
            bad = net.load.index[net.load[col].fillna(0.0) != 0.0][0]
            raise UnsupportedNetError(
                f"net.load[{bad}].{col}: voltage-dependent loads are not supported (constant power only)"
            )
    eg = net.ext_grid[net.ext_grid.in_service.astype(bool)]
    if eg.empty:
        raise UnsupportedNetError("net.ext_grid: no ext_grid in service (the slack is missing)")


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
    the copy with all injections at zero to extract the admittance matrices, and factors
    the PQ-bus block. Element values omitted from a call keep the net's values (times
    each element's ``scaling``, zero when out of service, as in pandapower).

    Tolerances: a step converges when the largest voltage update is below `tol_v` [p.u.]
    and the largest power mismatch below `tol_s` [p.u. of ``net.sn_mva``]; both far below
    runpp's default (1e-8 MVA), so the result equals runpp's to its own accuracy.
    """

    def __init__(
        self,
        net: pp.pandapowerNet,
        *,
        tol_v: float = 1e-9,
        tol_s: float = 1e-8,
        max_iter: int = 200,
    ) -> None:
        check_supported(net)
        self.tol_v, self.tol_s, self.max_iter = float(tol_v), float(tol_s), int(max_iter)
        self._base = {
            (el, col): net[el][col].to_numpy(dtype=np.float64).copy() for el, col in INJECTIONS
        }
        self.n_bus, self.n_line, self.n_trafo = len(net.bus), len(net.line), len(net.trafo)
        self.n_load, self.n_sgen, self.n_storage = len(net.load), len(net.sgen), len(net.storage)
        self.n_ext_grid = len(net.ext_grid)
        self._base_row = {k: v[None, :].copy() for k, v in self._base.items()}
        self._extract(net)
        self._v_last = self._v0.copy()
        self._sizes = (self.n_bus, self.n_line, self.n_trafo, self.n_ext_grid)

    # --- construction -------------------------------------------------------------------
    def _extract(self, net: pp.pandapowerNet) -> None:
        work = copy.deepcopy(net)
        for el, col in INJECTIONS:
            work[el][col] = 0.0
        from pandapower.pypower.idx_brch import F_BUS, T_BUS
        from pandapower.pypower.idx_bus import BASE_KV

        from grid.network import _pandapower

        pp = _pandapower()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # numba=False: one solve to read the matrices; compiling pandapower's numba
                # power flow for it cost 25-35 s on a fresh install (cached later: ~5 s).
                pp.runpp(work, numba=False)
        except Exception as exc:  # pandapower raises several types; all mean "cannot model"
            raise UnsupportedNetError(
                f"pandapower cannot solve the net at zero injection: {type(exc).__name__}: {exc}"
            ) from exc
        ppc = work._ppc
        internal = ppc["internal"]
        if len(internal["pv"]):
            raise UnsupportedNetError("net: voltage-controlled (PV) buses are not supported")
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
        self.lu_nnz = int(l_strict.nnz + u_strict.nnz + n)
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

        line_first = int(self._line_rows[0]) if len(self._line_rows) else 0
        trafo_first = int(self._trafo_rows[0]) if len(self._trafo_rows) else 0
        self._post = (
            self._bus_ppci,
            *_csr(self._yf),
            *_csr(self._yt),
            self._f,
            self._t,
            self._kv_f,
            self._kv_t,
            np.flatnonzero(br_is).astype(np.int64),
            self._n_br,
            line_first,
            self._line_imax,
            trafo_first,
            np.ascontiguousarray(self._trafo_vn[:, 0]),
            np.ascontiguousarray(self._trafo_vn[:, 1]),
            self._trafo_sn,
            self._trafo_div,
            self._trafo_loading == "current",
            *_csr(ybus),
            self._eg_bus,
            base_mva,
        )

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

    # --- solving ------------------------------------------------------------------------
    def _demand(self, values: dict[tuple[str, str], np.ndarray | None], steps: int) -> np.ndarray:
        """(steps, n_ppci) complex demand [p.u.], + = consumption (omitted values: the net's)."""
        d = np.zeros((steps, self._n), dtype=np.complex128)
        for el, (bus, scale) in self._inj.items():
            p, q = values[(el, "p_mw")], values[(el, "q_mvar")]
            p = self._base_row[(el, "p_mw")] if p is None else p
            q = self._base_row[(el, "q_mvar")] if q is None else q
            kernels.add_demand(d, p, q, bus, scale)
        return d

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
        raise_on_failure: bool = True,
        warm_start: np.ndarray | None = None,
    ) -> PowerFlowResult:
        """Solve every step; arguments (steps, n_elements) in ``net.<element>.index`` order.

        A step that does not converge raises `PowerFlowError` (naming the step), unless
        ``raise_on_failure=False``: then its ``converged`` is False and its results NaN.
        """
        values, steps = self._values(
            {
                "load_p_mw": load_p_mw,
                "load_q_mvar": load_q_mvar,
                "sgen_p_mw": sgen_p_mw,
                "sgen_q_mvar": sgen_q_mvar,
                "storage_p_mw": storage_p_mw,
                "storage_q_mvar": storage_q_mvar,
            }
        )
        return self._solve_demand(self._demand(values, steps), warm_start, raise_on_failure)

    def _solve_demand(
        self, demand: np.ndarray, warm_start: np.ndarray | None, raise_on_failure: bool
    ) -> PowerFlowResult:
        """Solve for a (steps, n_ppci) bus demand [p.u.]; the core of `run` and `solve`."""
        v_start = self._v0 if warm_start is None else warm_start
        iters, mism, last, out = kernels.solve_and_results(
            demand,
            self._pq,
            self._ref,
            self._v_ref,
            v_start,
            self._lu,
            *self._ypp,
            self._w,
            self.tol_v,
            self.tol_s,
            self.max_iter,
            self._post,
        )
        converged = iters >= 0
        if raise_on_failure and not converged.all():
            t = int(np.flatnonzero(~converged)[0])
            raise PowerFlowError(
                f"power flow step {t} did not converge in {self.max_iter} iterations"
                f" (largest mismatch {mism[t]:.3g} p.u.; too much load or generation for the net?)"
            )
        self._v_pq_last = last
        parts = kernels.split_results(out, *self._sizes)
        return PowerFlowResult(
            **dict(zip(_NAMES, parts, strict=True)), converged=converged, iterations=iters
        )

    def solve(
        self,
        *,
        load_p_mw: np.ndarray | None = None,
        load_q_mvar: np.ndarray | None = None,
        sgen_p_mw: np.ndarray | None = None,
        sgen_q_mvar: np.ndarray | None = None,
        storage_p_mw: np.ndarray | None = None,
        storage_q_mvar: np.ndarray | None = None,
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
        res = self.run(**args, warm_start=self._v_last)
        self._v_last = self._v_pq_last
        return res

    def _full_voltages(self, v_pq: np.ndarray, converged: np.ndarray) -> np.ndarray:
        """(steps, n_ppci) complex voltages [p.u.]; NaN rows for steps that failed."""
        v = np.empty((v_pq.shape[0], self._n), dtype=np.complex128)
        v[:, self._ref] = self._v_ref
        v[:, self._pq] = v_pq
        v[~converged] = np.nan
        self._v_pq_last = v_pq[-1].copy() if converged[-1] else self._v0.copy()
        return v
