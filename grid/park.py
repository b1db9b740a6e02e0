"""`ParkGrid`: the park's feeders for the twin, in kW and enterprise/unit order.

Built once from a `Site` (pandapower net, then `TimeSeriesPowerFlow`); each call maps the
twin's arrays (enterprise loads, PV, storage units) onto the net and returns small result
types of our own: the pandapower net never leaves `grid/`.

Signs: ``load_kw`` + = consumption, ``pv_kw`` + = generation, ``storage_kw`` + = charging
(AC power drawn at the unit's LV bus, auxiliaries included), ``storage_kvar`` + = absorbing;
``pcc_kw`` + = import from the feeder into the enterprise's 10 kV bus; ``ext_grid_kw`` + =
import from the 110 kV grid into the park.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import NamedTuple

import numpy as np

from grid import kernels
from grid.errors import PowerFlowError
from grid.network import NetIndex, build_net, export_json
from grid.powerflow import PowerFlowResult, TimeSeriesPowerFlow
from grid.sensitivity import GridSensitivity, SensitivitySolver
from grid.site import Site
from grid.taps import MAX_ROUNDS, TapControl, apply_taps, tap_round
from parktwin.errors import InputError


class GridSnapshot(NamedTuple):
    """One power-flow step of the park (arrays without a step axis).

    `GridSeries` has the same fields with a leading step axis. A named tuple: immutable
    and built in one C call (the engine gets one per grid period).
    """

    pcc_kw: np.ndarray  # (n_ent,) + = import at the enterprise's meter
    pcc_kvar: np.ndarray  # (n_ent,)
    vm_pu: np.ndarray  # (n_bus,) park.bus_names order
    v_min_pu: float  # over the checked buses (10 kV and 0.38 kV), see ParkGrid.checked_bus
    v_max_pu: float
    line_loading_pct: np.ndarray  # (n_line,) park.line_names order
    trafo_loading_pct: np.ndarray  # (n_trafo,) park.trafo_names order
    unit_trafo_loading_pct: np.ndarray  # (n_units,) each unit's step-up transformer
    ext_grid_kw: float  # + = import from the 110 kV grid
    ext_grid_kvar: float
    losses_kw: float  # lines and transformers (copper and iron)
    converged: bool
    tap_pos: np.ndarray  # (n_tap,) position of each tap-controlled trafo (park.tap_names)


@dataclass(frozen=True)
class GridSeries:
    """Many steps of the park: `GridSnapshot`'s fields with a leading step axis (T, ...)."""

    pcc_kw: np.ndarray
    pcc_kvar: np.ndarray
    vm_pu: np.ndarray
    v_min_pu: np.ndarray
    v_max_pu: np.ndarray
    line_loading_pct: np.ndarray
    trafo_loading_pct: np.ndarray
    unit_trafo_loading_pct: np.ndarray
    ext_grid_kw: np.ndarray
    ext_grid_kvar: np.ndarray
    losses_kw: np.ndarray
    converged: np.ndarray
    tap_pos: np.ndarray  # (T, n_tap)

    @property
    def steps(self) -> int:
        """Number of steps."""
        return int(self.pcc_kw.shape[0])

    def step(self, t: int) -> GridSnapshot:
        """Step `t` as a `GridSnapshot`."""
        out = {f.name: getattr(self, f.name)[t] for f in fields(self)}
        for name in ("v_min_pu", "v_max_pu", "ext_grid_kw", "ext_grid_kvar", "losses_kw"):
            out[name] = float(out[name])
        out["converged"] = bool(out["converged"])
        return GridSnapshot(**out)


class ParkGrid:
    """The park's feeders: build once from a `Site`, then `solve` a step or `run` many.

    A site on an engineer's own net (``site.network``) gets a `grid.netpark.NetParkGrid`
    (the same interface) from ``ParkGrid(site)`` and ``ParkGrid.cached(site)``.
    """

    def __new__(cls, site: Site | None = None, *args, **kwargs):
        if cls is ParkGrid and site is not None and site.network is not None:
            from grid.netpark import NetParkGrid

            cls = NetParkGrid
        return super().__new__(cls)

    def __init__(self, site: Site) -> None:
        self.site = site
        net, idx = build_net(site)
        self._net_built = net
        self._idx: NetIndex = idx
        # one load, one sgen per enterprise and one storage per unit, created in site order
        assert np.array_equal(net.load.index.to_numpy(), idx.enterprise_load)
        assert np.array_equal(net.sgen.index.to_numpy(), idx.enterprise_sgen)
        assert np.array_equal(net.storage.index.to_numpy(), idx.unit_storage)
        self.interval_s = 900.0
        self._pf = TimeSeriesPowerFlow(net, tap_control=self._tap_controls(idx))
        self._sens = SensitivitySolver(self._pf)
        self.enterprise_names: tuple[str, ...] = tuple(e.name for e in site.enterprises)
        self.unit_names: tuple[str, ...] = idx.unit_names
        self.unit_enterprise: np.ndarray = idx.unit_enterprise.copy()
        self.bus_names: tuple[str, ...] = tuple(net.bus.name)
        self.bus_vn_kv: np.ndarray = net.bus.vn_kv.to_numpy(np.float64)
        self.line_names: tuple[str, ...] = tuple(net.line.name)
        self.trafo_names: tuple[str, ...] = tuple(net.trafo.name)
        self.line_max_i_ka: np.ndarray = (net.line.max_i_ka * net.line.parallel).to_numpy()
        self.trafo_sn_kva: np.ndarray = (net.trafo.sn_mva * net.trafo.parallel).to_numpy() * 1e3
        self.enterprise_bus: np.ndarray = idx.enterprise_bus.copy()
        self.unit_trafo: np.ndarray = idx.unit_trafo.copy()
        self.substation_trafo: np.ndarray = idx.substation_trafo.copy()
        #: buses the voltage band applies to: 10 kV and 0.38 kV (not 110 kV, not PCS 0.69 kV)
        self.checked_bus: np.ndarray = np.isclose(self.bus_vn_kv, site.mv_kv) | np.isclose(
            self.bus_vn_kv, 0.38
        )
        self._tan_phi = np.array(
            [math.tan(math.acos(e.power_factor)) for e in site.enterprises], dtype=np.float64
        )
        self._service = idx.service_line
        self._zero_units = np.zeros(self.n_units)
        # `solve`'s one kernel: the net's constants packed once, the output block's cuts
        ints, reals, cplx = self._pf._step_segments()
        ints += [
            self._service,  # positions in net.line
            np.flatnonzero(self.checked_bus),
            self.unit_trafo,
        ]
        reals.append(self._tan_phi)
        assert len(ints) == kernels.I_UNIT_TRAFO + 1 and len(reals) == kernels.R_TAN_PHI + 1
        self._packed = kernels.pack(ints, reals, cplx)
        self._n_ent, self._n_units = self.n_enterprises, self.n_units
        sizes = [self.n_enterprises] * 2 + [
            len(net.bus),
            len(net.line),
            len(net.trafo),
            self.n_units,
        ]
        self._cuts = tuple(int(c) for c in np.cumsum([0, *sizes]))
        self._init_taps(net)

    def _tap_controls(self, idx: NetIndex) -> tuple[TapControl, ...]:
        """The main transformers' tap control from the site (none when it has none)."""
        spec = self.site.substation.tap_control
        if spec is None:
            return ()
        return tuple(
            TapControl(
                int(t),
                spec.vm_lower_pu,
                spec.vm_upper_pu,
                "lv",
                spec.delay_intervals(self.interval_s),
                spec.max_steps,
            )
            for t in idx.substation_trafo
        )

    def _init_taps(self, net) -> None:
        """`solve`'s tap control on the packed Z-bus step (`TimeSeriesPowerFlow._zbus_taps`):
        the controlled buses' places in the snapshot's vm, and where a move writes."""
        pf = self._pf
        c = pf.n_tap
        self.n_tap = c
        self.tap_names: tuple[str, ...] = tuple(
            str(net.trafo.name.at[ctl.trafo]) for ctl in pf.tap_controls
        )
        self._tap_state = (pf._tap_pos0.copy(), np.zeros(c, np.int64))
        self._tap_applied = pf._tap_pos0.copy()
        self._moved = np.zeros(c, np.int64)
        if not c:
            return
        ctl_i, ctl_f, pos0, stamps, _, _ = pf._taps
        side_bus = pf._tap_branch[4]
        ctl = ctl_i.copy()
        bus_pos = net.bus.index.get_indexer(side_bus)
        ctl[:, 0] = np.where(ctl_i[:, 0] >= 0, bus_pos, -1)  # places in the snapshot's vm
        idx_y, idx_yf, idx_yt, z, k_stamp = pf._zbus_taps()
        off = self._packed[3][2]
        glob = np.stack([idx_y, idx_yf, idx_yt])
        base = np.array([off[kernels.C_Y_VAL], off[kernels.C_YF_VAL], off[kernels.C_YT_VAL]])
        glob = np.where(glob >= 0, glob + base[:, None, None], -1)
        self._tap = (ctl, ctl_f.copy(), pos0, ctl_i[:, 1].copy(), stamps, glob, z, k_stamp)
        self._cplx0 = self._packed[2].copy()
        self._w_seg = (int(off[kernels.C_W]), int(off[kernels.C_W + 1]))

    def _write_taps(self, pos: np.ndarray) -> None:
        """The packed step's Ybus, Yf, Yt values and no-load voltages w at positions `pos`."""
        if np.array_equal(pos, self._tap_applied):
            return
        _, _, pos0, tmin, stamps, glob, z, k_stamp = self._tap
        cplx = self._packed[2]
        for g in glob:
            apply_taps(pos, pos0, tmin, stamps, g, self._cplx0, cplx)
        a, b = self._w_seg
        w = self._cplx0[a:b].copy()
        for j in range(len(pos)):
            if pos[j] != pos0[j]:
                d = (
                    stamps[j, pos[j] - tmin[j], k_stamp[j]]
                    - stamps[j, pos0[j] - tmin[j], k_stamp[j]]
                )
                w += z[j] * d
        cplx[a:b] = w
        self._tap_applied = pos.copy()

    def set_interval(self, interval_s: float) -> None:
        """The grid period [s] of the coming solves: the tap control's delay in periods
        (``substation.tap_control.delay_s``); also resets the warm start and the taps."""
        sub = getattr(self.site, "substation", None)
        spec = getattr(sub, "tap_control", None)
        self.interval_s = float(interval_s)
        if spec is not None and getattr(self, "n_tap", 0) and hasattr(self, "_tap"):
            d = spec.delay_intervals(self.interval_s)
            self._tap[0][:, 4] = d
            self._pf._taps[0][:, 4] = d
        self.reset_warm_start()

    @classmethod
    def cached(cls, site: Site) -> ParkGrid:
        """`ParkGrid(site)`, from the on-disk cache when this site was built before with
        the same grid code and libraries (`parktwin.cache`): no pandapower import, no net
        build, no `runpp`. The entry is as built: its warm start is the no-load state."""
        from parktwin.cache import cache_key, cached

        if cls is ParkGrid and site.network is not None:
            from grid.netpark import NetParkGrid

            return NetParkGrid.cached(site)
        here = Path(__file__).parent
        sources = [here / f"{m}.py" for m in ("site", "network", "powerflow", "park")]
        sources += [
            here / "sensitivity.py",
            here / "kernels.py",
            here / "newton.py",
            here / "taps.py",
        ]
        key = cache_key(site.model_dump_json().encode(), sources, ("pandapower", "numpy", "scipy"))
        return cached("grid", key, lambda: cls(site))

    def __getstate__(self) -> dict:
        # The pandapower net is not pickled (the cache would import pandapower to read
        # it back); `_net` rebuilds it from the site when asked for.
        state = self.__dict__.copy()
        state["_net_built"] = None
        return state

    @property
    def _net(self):
        if self._net_built is None:
            self._net_built = build_net(self.site)[0]
        return self._net_built

    @property
    def n_enterprises(self) -> int:
        """Number of enterprises."""
        return len(self.enterprise_names)

    @property
    def n_units(self) -> int:
        """Number of storage units."""
        return len(self.unit_names)

    def _inputs(self, load_kw, pv_kw, storage_kw, storage_kvar, steps: int | None) -> dict:
        shape_e = (self.n_enterprises,) if steps is None else (steps, self.n_enterprises)
        shape_u = (self.n_units,) if steps is None else (steps, self.n_units)
        arrays = {}
        for name, x, shape in (
            ("load_kw", load_kw, shape_e),
            ("pv_kw", pv_kw, shape_e),
            ("storage_kw", storage_kw, shape_u),
            ("storage_kvar", storage_kvar, shape_u),
        ):
            arrays[name] = checked_array(name, x, shape)
        p_load = arrays["load_kw"] / 1000.0
        return {
            "load_p_mw": p_load,
            "load_q_mvar": p_load * self._tan_phi,
            "sgen_p_mw": arrays["pv_kw"] / 1000.0,
            "sgen_q_mvar": np.zeros_like(p_load),
            "storage_p_mw": arrays["storage_kw"] / 1000.0,
            "storage_q_mvar": arrays["storage_kvar"] / 1000.0,
        }

    def _series(self, r: PowerFlowResult) -> GridSeries:
        vm = r.vm_pu
        checked = vm[:, self.checked_bus]
        return GridSeries(
            pcc_kw=-r.line_p_to_mw[:, self._service] * 1000.0,
            pcc_kvar=-r.line_q_to_mvar[:, self._service] * 1000.0,
            vm_pu=vm,
            v_min_pu=checked.min(axis=1),
            v_max_pu=checked.max(axis=1),
            line_loading_pct=r.line_loading_percent,
            trafo_loading_pct=r.trafo_loading_percent,
            unit_trafo_loading_pct=r.trafo_loading_percent[:, self.unit_trafo],
            ext_grid_kw=r.ext_grid_p_mw.sum(axis=1) * 1000.0,
            ext_grid_kvar=r.ext_grid_q_mvar.sum(axis=1) * 1000.0,
            losses_kw=r.losses_mw * 1000.0,
            converged=r.converged,
            tap_pos=r.tap_pos,
        )

    def solve(
        self,
        load_kw: np.ndarray,
        pv_kw: np.ndarray,
        storage_kw: np.ndarray,
        storage_kvar: np.ndarray | None = None,
    ) -> GridSnapshot:
        """One step: (n_ent,), (n_ent,), (n_units,) [kW]; warm-started from the last call.

        Raises `grid.errors.PowerFlowError` if the step does not converge. The engine calls
        this every grid period, so it is one kernel call (`kernels.park_step`: bus demand,
        fixed point, the snapshot's quantities). The snapshot's arrays are views of one new
        block per call: a snapshot the caller keeps is never overwritten by the next step.
        """
        return self._step(load_kw, pv_kw, storage_kw, storage_kvar, self._pf._v_last, None)

    def probe(
        self,
        load_kw: np.ndarray,
        pv_kw: np.ndarray,
        storage_kw: np.ndarray,
        storage_kvar: np.ndarray | None = None,
        *,
        sensitivity: bool = False,
    ) -> tuple[GridSnapshot, GridSensitivity | None]:
        """One step as `solve`, but a look ahead: the warm start of `solve` is left as it
        was (the run's own solves give the same numbers whether or not anyone probes).

        With ``sensitivity=True`` also the `GridSensitivity` at the solved state: how each
        unit's active power [kW, + = charging] moves every voltage and loading.
        """
        v = self._pf._v_last.copy()
        taps = (self._tap_state[0].copy(), self._tap_state[1].copy())
        try:
            snap = self._step(load_kw, pv_kw, storage_kw, storage_kvar, v, taps)
        finally:
            if self.n_tap:  # the packed step back at the run's own positions
                self._write_taps(self._tap_state[0])
        if not sensitivity:
            return snap, None
        return snap, self._sens.sensitivity(v, np.arange(self._n_units))

    def _step(
        self, load_kw, pv_kw, storage_kw, storage_kvar, v_pq: np.ndarray, taps: tuple | None
    ) -> GridSnapshot:
        """`solve` warm-started from (and updating in place) `v_pq`; tap control from (and
        updating in place) `taps` = (positions, delay counts), None: the run's own."""
        n_e, n_u = self._n_ent, self._n_units
        load = _vector("load_kw", load_kw, n_e)
        pv = _vector("pv_kw", pv_kw, n_e)
        st = _vector("storage_kw", storage_kw, n_u)
        st_q = (
            self._zero_units if storage_kvar is None else _vector("storage_kvar", storage_kvar, n_u)
        )
        pf = self._pf
        c0, c1, c2, c3, c4, c5, c6 = self._cuts
        if self.n_tap:
            pos, counter = self._tap_state if taps is None else taps
            if taps is not None:  # a probe: from its own positions
                self._write_taps(pos)
            moved = self._moved
            ctl, ctl_f = self._tap[0], self._tap[1]
        rounds = 0
        for rnd in range(MAX_ROUNDS + 1):
            bad, it, mism, block = kernels.park_step(*self._packed, load, pv, st, st_q, v_pq)
            if it < 0:
                if bad >= 0:
                    raise InputError(f"{_SOLVE_ARGS[bad]}: contains NaN or inf")
                raise PowerFlowError(
                    f"power flow did not converge in {pf.max_iter} iterations (largest mismatch"
                    f" {mism:.3g} p.u.; too much load or generation for the net?)"
                )
            if not self.n_tap or not tap_round(
                block[c2:c3], ctl, ctl_f, pos, counter, moved, rnd == 0
            ):
                break
            rounds += 1
            if rnd == MAX_ROUNDS:
                moved[:] = 0
                raise PowerFlowError(
                    f"tap control still moved after {MAX_ROUNDS} rounds (a band narrower than"
                    " one tap step hunts)"
                )
            self._write_taps(pos)
        if self.n_tap:
            if rounds:  # a tap moved: its delay counts again from the next period
                counter[moved > 0] = 0
                moved[:] = 0
            tap_pos = pos.copy()
        else:
            tap_pos = _NO_TAPS
        v_min, v_max, eg_kw, eg_kvar, losses = block[c6:].tolist()
        return GridSnapshot(
            block[c0:c1],
            block[c1:c2],
            block[c2:c3],
            v_min,
            v_max,
            block[c3:c4],
            block[c4:c5],
            block[c5:c6],
            eg_kw,
            eg_kvar,
            losses,
            True,
            tap_pos,
        )

    def reset_warm_start(self) -> None:
        """Forget the last `solve`: the next one starts from the no-load state, as the first
        after building does (a study reuses one `ParkGrid` for a park's years)."""
        self._pf._v_last = self._pf._v0.copy()
        self._tap_state = (self._pf._tap_pos0.copy(), np.zeros(self.n_tap, np.int64))
        if self.n_tap:
            self._write_taps(self._tap_state[0])

    def run(
        self,
        load_kw: np.ndarray,
        pv_kw: np.ndarray,
        storage_kw: np.ndarray,
        storage_kvar: np.ndarray | None = None,
        *,
        raise_on_failure: bool = True,
    ) -> GridSeries:
        """Many steps: (T, n_ent), (T, n_ent), (T, n_units) [kW], solved in one batch, each
        warm-started from the previous one (the first from the no-load state)."""
        return self._run(load_kw, pv_kw, storage_kw, storage_kvar, None, raise_on_failure)[0]

    def series(self) -> SeriesRun:
        """A time series of this park solved a piece at a time (`SeriesRun`)."""
        return SeriesRun(self)

    def _run(
        self, load_kw, pv_kw, storage_kw, storage_kvar, warm_start, raise_on_failure, taps=None
    ):
        """`run` from `warm_start` (None: the base solution) and tap state `taps` (positions,
        counters, updated in place; None: the net's positions); returns the series and the
        warm start its last step leaves for a continuation."""
        steps = batch_steps(load_kw, self.n_enterprises)
        x = self._inputs(load_kw, pv_kw, storage_kw, storage_kvar, steps)
        pf = self._pf
        res = pf.run(**x, raise_on_failure=raise_on_failure, warm_start=warm_start, tap_state=taps)
        return self._series(res), pf._last

    def export_json(self, path: str | Path) -> Path:
        """Write the net as pandapower JSON (``pandapower.from_json`` loads it), atomically.

        The exported net is a peak snapshot: every enterprise at its peak load and power
        factor, PV and storage at zero.
        """
        return export_json(self.site, path, self._net)

    def pandapower_net(self):
        """A copy of the pandapower net (for grid/'s own tests and tools; do not export it
        from grid/ to other packages)."""
        return copy.deepcopy(self._net)


class SeriesRun:
    """One time series of a `ParkGrid` solved a piece at a time (`ParkGrid.series`).

    Each `run` continues the chain of warm starts and the tap control's state (positions,
    delay counters) where the previous piece ended, so the pieces give one `ParkGrid.run`
    over all of them to the solver's tolerance (a piece factors its first Jacobian afresh
    where one batch would reuse the last one: the steps converge to the same solution, last
    digits apart). Lets a caller solve a long series as it goes with memory bounded by a
    piece. The `ParkGrid`'s own state (`solve`'s warm start and taps, `probe`) is not
    touched.
    """

    def __init__(self, grid: ParkGrid) -> None:
        self._grid = grid
        self._warm: tuple | None = None  # None: the no-load state, as `ParkGrid.run` starts
        # tap control's positions and delay counters, carried from piece to piece (from the
        # net's positions, as `ParkGrid.run` starts)
        pf = grid._pf
        self._taps = (pf._tap_pos0.copy(), np.zeros(pf.n_tap, np.int64))

    def run(
        self,
        load_kw: np.ndarray,
        pv_kw: np.ndarray,
        storage_kw: np.ndarray,
        storage_kvar: np.ndarray | None = None,
    ) -> GridSeries:
        """The next steps of the series: arguments as `ParkGrid.run`'s."""
        series, self._warm = self._grid._run(
            load_kw, pv_kw, storage_kw, storage_kvar, self._warm, True, self._taps
        )
        return series


#: `solve`'s arguments in `kernels.park_step`'s order (its ``bad`` index names one)
_SOLVE_ARGS = ("load_kw", "pv_kw", "storage_kw", "storage_kvar")
_F8 = np.dtype(np.float64)
_NO_TAPS = np.zeros(0, dtype=np.int64)


def checked_array(name: str, x: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    """`x` as a float64 array of `shape` (zeros when None), or an InputError naming `name`
    (wrong shape, NaN or inf)."""
    if x is None:
        return np.zeros(shape)
    a = np.asarray(x, dtype=np.float64)
    if a.shape != shape:
        raise InputError(f"{name}: expected shape {shape}, got {tuple(a.shape)}")
    if not np.isfinite(a).all():
        raise InputError(f"{name}: contains NaN or inf")
    return a


def batch_steps(load_kw: np.ndarray, n_ent: int) -> int:
    """The number of steps of a batch's ``load_kw`` (steps, n_ent), or an InputError."""
    if np.ndim(load_kw) != 2:
        raise InputError(
            f"load_kw: expected shape (steps, {n_ent}), got {tuple(np.shape(load_kw))}"
        )
    return int(np.shape(load_kw)[0])


def _vector(name: str, x: np.ndarray, n: int) -> np.ndarray:
    """`x` as a contiguous float64 vector of length `n`, or an InputError naming `name`.
    (Finiteness is checked by the kernel, which reads the values anyway.)"""
    if type(x) is np.ndarray and x.dtype == _F8 and x.shape == (n,) and x.flags.c_contiguous:
        return x  # the engine's case: nothing to convert
    a = np.ascontiguousarray(x, dtype=np.float64)
    if a.shape != (n,):
        raise InputError(f"{name}: expected shape ({n},), got {tuple(a.shape)}")
    return a
