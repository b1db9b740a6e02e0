"""`NetParkGrid`: a park whose network is an engineer's own pandapower net (`grid.netmap`).

The same interface as `grid.ParkGrid` (`solve`, `probe`, `run`, the name tuples, the
checked buses), so the twin runs on it unchanged; `ParkGrid(site)` returns one for a site
with a ``[network]``. Each step maps the twin's arrays onto the net's elements and solves
the full Newton-Raphson power flow of `grid.powerflow.TimeSeriesPowerFlow` (gens as PV
buses, shunts, switches, trafo3w, ... as runpp models them):

- an enterprise's load [kW] is split over its loads in proportion to their p_mw x scaling
  in the net, each load's p_mw set so that p_mw x scaling is its part (reactive power at
  the enterprise's power factor); its PV [kW] over its PV sgens by rating (q = 0);
- storage units [kW, kvar] are the storage elements added for them (`grid.importer`);
- every other element keeps the net's own values in every step;
- the net's own on-load tap changers (pandapower ``DiscreteTapControl``s in
  ``net.controller``) act in every step as `grid.taps` runs them; other controllers are not
  run.

Meters (``pcc_kw`` + = import): a branch meter reads the power through its branch towards
the enterprise at its metered end; without one, the enterprise's own elements: its loads
minus its PV plus its units at their transformers' HV side. ``ext_grid_kw`` is the ext_grids'
supply into the net, or the power through the site's ``pcc`` branch into the park.
Voltages are checked on every bus of the engineer's net except the ext_grids' (their
voltage is a set point); trafo3w loadings follow the two-winding ones in ``trafo_*``.
"""

from __future__ import annotations

import copy
import hashlib
import math
from pathlib import Path

import numpy as np

from grid.importer import MeterAt, SiteNet, site_net
from grid.park import GridSeries, GridSnapshot, ParkGrid, batch_steps, checked_array
from grid.powerflow import PowerFlowResult, TimeSeriesPowerFlow
from grid.sensitivity import GridSensitivity
from grid.site import Site
from grid.taps import tap_controls_of
from parktwin.errors import InputError

#: Step of the finite differences of `probe(sensitivity=True)` [kW]: small against a
#: unit's power, large against the solver's tolerance (1e-10 p.u. of the net's sn_mva).
_DP_KW = 1.0


def _names(table, kind: str) -> tuple[str, ...]:
    """Element names for tables and records: the net's name, else ``kind index``; a name
    that several elements share gets its index appended."""
    raw = [n if isinstance(n, str) and n.strip() else None for n in table.name.tolist()]
    count: dict[str, int] = {}
    for n in raw:
        if n is not None:
            count[n] = count.get(n, 0) + 1
    out = []
    for idx, n in zip(table.index.tolist(), raw, strict=True):
        if n is None:
            out.append(f"{kind} {idx}")
        elif count[n] > 1:
            out.append(f"{n} ({kind} {idx})")
        else:
            out.append(n)
    return tuple(out)


class NetParkGrid(ParkGrid):
    """The park on an engineer's own net: build once from a `Site` with a ``[network]``."""

    def __init__(self, site: Site) -> None:
        if site.network is None:
            raise ValueError("NetParkGrid: the site has no [network]")
        self.site = site
        net, ix = site_net(site)
        self._net_built = net
        self._ix: SiteNet = ix
        # the net's own on-load tap changers (pandapower DiscreteTapControl) act every step
        self._pf = TimeSeriesPowerFlow(net, tap_control=tap_controls_of(net))
        self._ws = self._pf._start
        self._tap = self._net_taps()
        n_ent = len(site.enterprises)
        self.enterprise_names = tuple(e.name for e in site.enterprises)
        self.unit_names = ix.unit_names
        self.unit_enterprise = ix.unit_enterprise.copy()
        self.bus_names = _names(net.bus, "bus")
        self.bus_vn_kv = net.bus.vn_kv.to_numpy(np.float64)
        self.line_names = _names(net.line, "line")
        self.trafo_names = _names(net.trafo, "trafo") + _names(net.trafo3w, "trafo3w")
        self.line_max_i_ka = (net.line.max_i_ka * net.line.df * net.line.parallel).to_numpy()
        t3 = net.trafo3w
        self.trafo_sn_kva = np.concatenate(
            [
                (net.trafo.sn_mva * net.trafo.parallel).to_numpy(np.float64),
                t3.sn_hv_mva.to_numpy(np.float64) if len(t3) else np.zeros(0),
            ]
        ) * 1e3  # fmt: skip
        self.enterprise_bus = np.array([a.storage_bus for a in ix.enterprises], dtype=np.int64)
        self.unit_trafo = ix.unit_trafo.copy()
        self.substation_trafo = np.zeros(0, dtype=np.int64)
        checked = np.zeros(len(net.bus), dtype=bool)
        checked[: ix.own_buses] = True
        slack = net.bus.index.get_indexer(net.ext_grid.bus[net.ext_grid.in_service.astype(bool)])
        checked[slack] = False
        self.checked_bus = checked
        self._tan_phi = np.array(
            [math.tan(math.acos(e.power_factor)) for e in site.enterprises], dtype=np.float64
        )
        # the driven elements: (position, enterprise, factor kW -> the element's p_mw)
        load_pos, load_ent, load_k = [], [], []
        pv_pos, pv_ent, pv_k = [], [], []
        l_scale = net.load.scaling.to_numpy(np.float64)
        s_scale = net.sgen.scaling.to_numpy(np.float64)
        for k, a in enumerate(ix.enterprises):
            load_pos += a.load_positions.tolist()
            load_ent += [k] * len(a.load_positions)
            load_k += (a.load_share / l_scale[a.load_positions] / 1000.0).tolist()
            pos, share = a.pv_positions, a.pv_share
            if k in ix.added_pv:
                pos, share = np.array([ix.added_pv[k]]), np.ones(1)
            pv_pos += pos.tolist()
            pv_ent += [k] * len(pos)
            pv_k += (share / s_scale[pos] / 1000.0).tolist()
        self._load = (np.array(load_pos, np.int64), np.array(load_ent, np.int64), np.array(load_k))
        self._pv = (np.array(pv_pos, np.int64), np.array(pv_ent, np.int64), np.array(pv_k))
        self._base = {
            (el, col): net[el][col].to_numpy(np.float64).copy()
            for el in ("load", "sgen", "storage")
            for col in ("p_mw", "q_mvar")
        }
        # meters: pcc = sum over (result, column) of coefficient x value, per enterprise
        self._meters = _meter_matrices(ix, n_ent, len(net.line), len(net.trafo))
        self._own = np.array([a.meter is None for a in ix.enterprises], dtype=np.float64)

    @classmethod
    def cached(cls, site: Site) -> NetParkGrid:
        """`NetParkGrid(site)`, from the on-disk cache when this site and its net file
        were built before with the same grid code and libraries (`parktwin.cache`)."""
        from parktwin.cache import cache_key, cached

        assert site.network is not None
        try:
            net_bytes = Path(site.network.file).read_bytes()
        except OSError as exc:
            raise InputError(f"network.file: {site.network.file}: cannot read: {exc}") from exc
        here = Path(__file__).parent
        mods = ("site", "network", "powerflow", "park", "sensitivity", "kernels", "newton", "taps")
        sources = [here / f"{m}.py" for m in (*mods, "netmap", "importer", "netpark")]
        data = site.model_dump_json().encode() + hashlib.sha256(net_bytes).digest()
        key = cache_key(data, sources, ("pandapower", "numpy", "scipy"))
        return cached("grid", key, lambda: cls(site))

    @property
    def _net(self):
        if self._net_built is None:
            self._net_built = site_net(self.site)[0]
        return self._net_built

    # --- the twin's arrays onto the net's elements ------------------------------------------
    def _arrays(self, load_kw, pv_kw, storage_kw, storage_kvar, steps: int) -> dict:
        """`run`'s element arrays (steps, n_element) from the twin's kW arrays."""
        out = {}
        for el in ("load", "sgen", "storage"):
            for col in ("p_mw", "q_mvar"):
                out[f"{el}_{col}"] = np.repeat(self._base[(el, col)][None, :], steps, axis=0)
        pos, ent, k = self._load
        p = load_kw[:, ent] * k
        out["load_p_mw"][:, pos] = p
        out["load_q_mvar"][:, pos] = p * self._tan_phi[ent]
        pos, ent, k = self._pv
        out["sgen_p_mw"][:, pos] = pv_kw[:, ent] * k
        out["sgen_q_mvar"][:, pos] = 0.0
        u = self._ix.unit_storage
        out["storage_p_mw"][:, u] = storage_kw / 1000.0
        out["storage_q_mvar"][:, u] = storage_kvar / 1000.0
        return out

    def _series_of(self, r: PowerFlowResult, load_kw, pv_kw) -> GridSeries:
        m = self._meters
        p = (
            r.line_p_from_mw @ m["line_from"]
            + r.line_p_to_mw @ m["line_to"]
            + r.trafo_p_hv_mw @ m["trafo_hv"]
            + r.trafo_p_lv_mw @ m["trafo_lv"]
        ) * 1000.0 + (load_kw - pv_kw) * self._own
        q = (
            r.line_q_from_mvar @ m["line_from"]
            + r.line_q_to_mvar @ m["line_to"]
            + r.trafo_q_hv_mvar @ m["trafo_hv"]
            + r.trafo_q_lv_mvar @ m["trafo_lv"]
        ) * 1000.0 + load_kw * self._tan_phi * self._own
        vm = r.vm_pu
        checked = vm[:, self.checked_bus]
        pcc = self._ix.pcc
        if pcc is None:
            eg_kw = np.nansum(r.ext_grid_p_mw, axis=1) * 1000.0
            eg_kvar = np.nansum(r.ext_grid_q_mvar, axis=1) * 1000.0
        else:
            eg_kw = _branch(r, pcc, "p") * 1000.0
            eg_kvar = _branch(r, pcc, "q") * 1000.0
        trafo = np.concatenate([r.trafo_loading_percent, r.trafo3w_loading_percent], axis=1)
        return GridSeries(
            pcc_kw=p,
            pcc_kvar=q,
            vm_pu=vm,
            v_min_pu=np.fmin.reduce(checked, axis=1) if checked.shape[1] else vm[:, 0] * np.nan,
            v_max_pu=np.fmax.reduce(checked, axis=1) if checked.shape[1] else vm[:, 0] * np.nan,
            line_loading_pct=r.line_loading_percent,
            trafo_loading_pct=trafo,
            unit_trafo_loading_pct=r.trafo_loading_percent[:, self.unit_trafo],
            ext_grid_kw=eg_kw,
            ext_grid_kvar=eg_kvar,
            losses_kw=r.losses_mw * 1000.0,
            converged=r.converged,
            tap_pos=r.tap_pos,
        )

    def _checked_inputs(self, load_kw, pv_kw, storage_kw, storage_kvar, steps: int | None):
        """The four inputs as float64 (steps, n) arrays, or an InputError naming one."""
        n_e, n_u = self.n_enterprises, self.n_units
        out = []
        for name, x, n in (
            ("load_kw", load_kw, n_e),
            ("pv_kw", pv_kw, n_e),
            ("storage_kw", storage_kw, n_u),
            ("storage_kvar", storage_kvar, n_u),
        ):
            shape = (n,) if steps is None else (steps, n)
            out.append(checked_array(name, x, shape).reshape(-1, n))
        return out

    def _net_taps(self) -> tuple[np.ndarray, np.ndarray]:
        """Tap control's state at the net's positions (positions, intervals outside band)."""
        pf = self._pf
        return (pf._tap_pos0.copy(), np.zeros(pf.n_tap, np.int64))

    def _solve(self, arrays, warm, raise_on_failure: bool, taps=None) -> tuple[GridSeries, tuple]:
        """Solve the steps of `arrays` from the warm start `warm` (None: the net's state)
        and tap state `taps` (updated in place; None: the net's positions)."""
        load, pv, st, st_q = arrays
        x = self._arrays(load, pv, st, st_q, load.shape[0])
        r = self._pf.run(**x, warm_start=warm, raise_on_failure=raise_on_failure, tap_state=taps)
        return self._series_of(r, load, pv), self._pf._last

    # --- the ParkGrid interface ---------------------------------------------------------------
    def solve(self, load_kw, pv_kw, storage_kw, storage_kvar=None) -> GridSnapshot:
        """One step (n_ent,), (n_ent,), (n_units,) [kW]; warm-started from the last call.
        Raises `grid.errors.PowerFlowError` if it does not converge."""
        arrays = self._checked_inputs(load_kw, pv_kw, storage_kw, storage_kvar, None)
        series, self._ws = self._solve(arrays, self._ws, True, self._tap)
        return series.step(0)

    def probe(self, load_kw, pv_kw, storage_kw, storage_kvar=None, *, sensitivity=False):
        """One step as `solve`, leaving the warm start as it was. With ``sensitivity=True``
        also the `GridSensitivity` at the solved state, by a finite difference of `_DP_KW`
        per unit (one more solve per unit, warm-started from the solved state)."""
        arrays = self._checked_inputs(load_kw, pv_kw, storage_kw, storage_kvar, None)
        taps = tuple(a.copy() for a in self._tap)
        series, last = self._solve(arrays, self._ws, True, taps)
        snap = series.step(0)
        if not sensitivity:
            return snap, None
        n_u = self.n_units
        load, pv, st, st_q = arrays
        st_k = np.repeat(st, n_u, axis=0) + np.eye(n_u) * _DP_KW
        x = (np.repeat(load, n_u, axis=0), np.repeat(pv, n_u, axis=0), st_k)
        x += (np.repeat(st_q, n_u, axis=0),)
        # at the solved step's tap positions, held (a derivative of this operating point)
        held = (taps[0].copy(), np.zeros_like(taps[1]))
        moved, _ = self._solve(x, last, True, held)
        sens = GridSensitivity(
            vm_pu_per_kw=((moved.vm_pu - snap.vm_pu) / _DP_KW).T,
            line_loading_pct_per_kw=((moved.line_loading_pct - snap.line_loading_pct) / _DP_KW).T,
            trafo_loading_pct_per_kw=(
                (moved.trafo_loading_pct - snap.trafo_loading_pct) / _DP_KW
            ).T,
        )
        return snap, sens

    def reset_warm_start(self) -> None:
        """Forget the last `solve`: the next one starts from the net's own operating point,
        as the first after building does."""
        self._ws = self._pf._start
        self._tap = self._net_taps()

    def run(self, load_kw, pv_kw, storage_kw, storage_kvar=None, *, raise_on_failure=True):
        """Many steps: (T, n_ent), (T, n_ent), (T, n_units) [kW], solved in one batch."""
        return self._run(load_kw, pv_kw, storage_kw, storage_kvar, None, raise_on_failure)[0]

    def _run(
        self, load_kw, pv_kw, storage_kw, storage_kvar, warm_start, raise_on_failure, taps=None
    ):
        """`run` from `warm_start` (None: the net's operating point) and tap state `taps`
        (updated in place; None: the net's positions); returns the series and the warm start
        for a continuation (`ParkGrid.series`)."""
        steps = batch_steps(load_kw, self.n_enterprises)
        arrays = self._checked_inputs(load_kw, pv_kw, storage_kw, storage_kvar, steps)
        return self._solve(arrays, warm_start, raise_on_failure, taps)

    def export_json(self, path: str | Path) -> Path:
        """Write the net (units included) as pandapower JSON, a peak snapshot, atomically."""
        from grid.importer import export_site_json

        return export_site_json(self.site, path)

    def pandapower_net(self):
        """A copy of the pandapower net (for grid/'s own tests and tools)."""
        return copy.deepcopy(self._net)


def _meter_matrices(ix: SiteNet, n_ent: int, n_line: int, n_trafo: int) -> dict:
    """Per result table, the (n_element, n_ent) coefficients that sum the meters' readings."""
    m = {
        "line_from": np.zeros((n_line, n_ent)),
        "line_to": np.zeros((n_line, n_ent)),
        "trafo_hv": np.zeros((n_trafo, n_ent)),
        "trafo_lv": np.zeros((n_trafo, n_ent)),
    }
    for k, a in enumerate(ix.enterprises):
        if a.meter is not None:
            m[f"{a.meter.table}_{a.meter.end}"][a.meter.position, k] += a.meter.sign
    for t, k in zip(ix.unit_trafo, ix.unit_enterprise, strict=True):
        if ix.enterprises[k].meter is None:  # the units behind an own-elements meter
            m["trafo_hv"][t, k] += 1.0
    return m


def _branch(r: PowerFlowResult, at: MeterAt, pq: str) -> np.ndarray:
    """A branch meter's reading [MW or Mvar] per step."""
    col = {"p": "p", "q": "q"}[pq]
    unit = "mw" if pq == "p" else "mvar"
    values = getattr(r, f"{at.table}_{col}_{at.end}_{unit}")
    return at.sign * values[:, at.position]
