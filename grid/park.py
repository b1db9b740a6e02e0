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

import numpy as np

from grid import kernels
from grid.network import NetIndex, build_net, export_json
from grid.powerflow import PowerFlowResult, TimeSeriesPowerFlow
from grid.site import Site
from parktwin.errors import InputError


@dataclass(frozen=True)
class GridSnapshot:
    """One power-flow step of the park (arrays without a step axis).

    `GridSeries` has the same fields with a leading step axis.
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
    """The park's feeders: build once from a `Site`, then `solve` a step or `run` many."""

    def __init__(self, site: Site) -> None:
        self.site = site
        net, idx = build_net(site)
        self._net = net
        self._idx: NetIndex = idx
        # one load, one sgen per enterprise and one storage per unit, created in site order
        assert np.array_equal(net.load.index.to_numpy(), idx.enterprise_load)
        assert np.array_equal(net.sgen.index.to_numpy(), idx.enterprise_sgen)
        assert np.array_equal(net.storage.index.to_numpy(), idx.unit_storage)
        self._pf = TimeSeriesPowerFlow(net)
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
        self.checked_bus: np.ndarray = np.isclose(
            self.bus_vn_kv, site.substation.mv_kv
        ) | np.isclose(self.bus_vn_kv, 0.38)
        self._tan_phi = np.array(
            [math.tan(math.acos(e.power_factor)) for e in site.enterprises], dtype=np.float64
        )
        self._service = idx.service_line
        self._zero_units = np.zeros(self.n_units)
        self._zero_ent = np.zeros((1, self.n_enterprises))

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
            if x is None:
                arrays[name] = np.zeros(shape)
                continue
            a = np.asarray(x, dtype=np.float64)
            if a.shape != shape:
                raise InputError(f"{name}: expected shape {shape}, got {tuple(a.shape)}")
            if not np.isfinite(a).all():
                raise InputError(f"{name}: contains NaN or inf")
            arrays[name] = a
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
        this every grid period, so it skips the generic path: the arrays go straight into
        the bus demand and the results are read from the kernel's output.
        """
        load = _vector("load_kw", load_kw, self.n_enterprises)
        pv = _vector("pv_kw", pv_kw, self.n_enterprises)
        st = _vector("storage_kw", storage_kw, self.n_units)
        st_q = (
            self._zero_units
            if storage_kvar is None
            else _vector("storage_kvar", storage_kvar, self.n_units)
        )
        pf = self._pf
        d = np.zeros((1, pf._n), dtype=np.complex128)
        p_load = load[None, :] * 1e-3
        kernels.add_demand(d, p_load, p_load * self._tan_phi, *pf._inj["load"])
        kernels.add_demand(d, pv[None, :] * 1e-3, self._zero_ent, *pf._inj["sgen"])
        kernels.add_demand(d, st[None, :] * 1e-3, st_q[None, :] * 1e-3, *pf._inj["storage"])
        r = pf._solve_demand1(d)
        vm = r.vm_pu[0]
        checked = vm[self.checked_bus]
        trafo = r.trafo_loading_percent[0]
        return GridSnapshot(
            pcc_kw=r.line_p_to_mw[0, self._service] * -1000.0,
            pcc_kvar=r.line_q_to_mvar[0, self._service] * -1000.0,
            vm_pu=vm,
            v_min_pu=float(checked.min()),
            v_max_pu=float(checked.max()),
            line_loading_pct=r.line_loading_percent[0],
            trafo_loading_pct=trafo,
            unit_trafo_loading_pct=trafo[self.unit_trafo],
            ext_grid_kw=float(r.ext_grid_p_mw[0].sum()) * 1000.0,
            ext_grid_kvar=float(r.ext_grid_q_mvar[0].sum()) * 1000.0,
            losses_kw=float(r.losses_mw[0]) * 1000.0,
            converged=True,
        )

    def run(
        self,
        load_kw: np.ndarray,
        pv_kw: np.ndarray,
        storage_kw: np.ndarray,
        storage_kvar: np.ndarray | None = None,
        *,
        raise_on_failure: bool = True,
    ) -> GridSeries:
        """Many steps: (T, n_ent), (T, n_ent), (T, n_units) [kW], solved in one batch."""
        if np.ndim(load_kw) != 2:
            raise InputError(
                f"load_kw: expected shape (steps, {self.n_enterprises}),"
                f" got {tuple(np.shape(load_kw))}"
            )
        steps = np.shape(load_kw)[0]
        x = self._inputs(load_kw, pv_kw, storage_kw, storage_kvar, steps)
        return self._series(self._pf.run(**x, raise_on_failure=raise_on_failure))

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


def _vector(name: str, x: np.ndarray, n: int) -> np.ndarray:
    """`x` as a float64 vector of length `n`, or an InputError naming `name`."""
    a = np.asarray(x, dtype=np.float64)
    if a.shape != (n,):
        raise InputError(f"{name}: expected shape ({n},), got {tuple(a.shape)}")
    if not math.isfinite(a.sum()):  # one reduction catches any NaN or inf
        raise InputError(f"{name}: contains NaN or inf")
    return a
