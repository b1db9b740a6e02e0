"""The park as the engine sees it: meters, storage units and their parameters, in one order.

`layout_from_site` resolves a `grid.Site` into arrays (unit order = `grid.ParkGrid.unit_names`:
groups in site order, ``f"{group}-{k}"``), loading each unit's `devices.UnitParams`.
`CopperPlate` is a park without feeder impedance (meter = load - PV + storage): the same
`solve`/`run` shape as `grid.ParkGrid`, for strategy tests on hand-made days and for quick
looks where the feeders do not matter. It says so in its results (no voltages, no loadings).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from devices import UnitParams, load_unit_params
from grid import Site


@dataclass(frozen=True)
class ParkLayout:
    """Meters (enterprises) and storage units of a park, with what the engine needs of them."""

    enterprise_names: tuple[str, ...]
    unit_names: tuple[str, ...]
    unit_enterprise: np.ndarray
    unit_params: tuple[UnitParams, ...]
    unit_trafo_kva: np.ndarray
    enterprise_trafo_kva: np.ndarray
    """(n_ent,) the enterprise's own 10/0.4 kV transformers, total kVA (capacity billing, and
    the anti-backflow margin in % of it); 0 for a direct 10 kV supply."""

    @property
    def n_units(self) -> int:
        return len(self.unit_names)

    @property
    def n_enterprises(self) -> int:
        return len(self.enterprise_names)

    @property
    def hosts(self) -> np.ndarray:
        """Indices of the enterprises with storage behind their meter."""
        return np.unique(self.unit_enterprise)


def layout_from_site(site: Site) -> ParkLayout:
    """Resolve a site into the engine's arrays (one `UnitParams` per unit)."""
    ent_names = tuple(e.name for e in site.enterprises)
    index = {n: i for i, n in enumerate(ent_names)}
    names: list[str] = []
    ent: list[int] = []
    params: list[UnitParams] = []
    trafo: list[float] = []
    cache: dict[tuple[str, float | None], UnitParams] = {}
    for g in site.storage:
        key = (g.unit_type, g.pcs_kva)
        if key not in cache:
            cache[key] = (
                load_unit_params(g.unit_type)
                if g.pcs_kva is None
                else load_unit_params(g.unit_type, pcs_kva=g.pcs_kva)
            )
        for k in range(1, g.count + 1):
            names.append(f"{g.name}-{k}")
            ent.append(index[g.enterprise])
            params.append(cache[key])
            trafo.append(g.trafo_kva)
    return ParkLayout(
        enterprise_names=ent_names,
        unit_names=tuple(names),
        unit_enterprise=np.asarray(ent, dtype=np.int64),
        unit_params=tuple(params),
        unit_trafo_kva=np.asarray(trafo, dtype=float),
        enterprise_trafo_kva=np.asarray(
            [e.transformer_total_kva for e in site.enterprises], dtype=float
        ),
    )


@dataclass
class PlateSnapshot:
    """One solve of a `CopperPlate` (field names as `grid`'s results; no feeders, no voltage)."""

    pcc_kw: np.ndarray
    pcc_kvar: np.ndarray
    vm_pu: np.ndarray
    v_min_pu: float | np.ndarray
    v_max_pu: float | np.ndarray
    line_loading_pct: np.ndarray
    trafo_loading_pct: np.ndarray
    unit_trafo_loading_pct: np.ndarray
    ext_grid_kw: float | np.ndarray
    losses_kw: float | np.ndarray


class CopperPlate:
    """A park without feeder impedance: meter import = load - PV + storage behind it [kW]."""

    def __init__(self, layout: ParkLayout) -> None:
        self.layout = layout
        self.enterprise_names = layout.enterprise_names
        self.unit_names = layout.unit_names
        self.unit_enterprise = layout.unit_enterprise

    def solve(
        self,
        load_kw: np.ndarray,
        pv_kw: np.ndarray,
        storage_kw: np.ndarray,
        storage_kvar: np.ndarray | None = None,
    ) -> PlateSnapshot:
        """Meters for one interval (same arguments as `grid.ParkGrid.solve`)."""
        n_ent = self.layout.n_enterprises
        st = np.bincount(self.unit_enterprise, weights=storage_kw, minlength=n_ent)
        q = np.zeros(len(storage_kw)) if storage_kvar is None else storage_kvar
        pcc = load_kw - pv_kw + st
        s = np.hypot(storage_kw, q)
        return PlateSnapshot(
            pcc_kw=pcc,
            pcc_kvar=np.bincount(self.unit_enterprise, weights=q, minlength=n_ent),
            vm_pu=np.ones(1),
            v_min_pu=1.0,
            v_max_pu=1.0,
            line_loading_pct=np.zeros(0),
            trafo_loading_pct=np.zeros(0),
            unit_trafo_loading_pct=100.0 * s / self.layout.unit_trafo_kva,
            ext_grid_kw=float(pcc.sum()),
            losses_kw=0.0,
        )

    def series(self) -> CopperPlate:
        """A series solved a piece at a time (as `grid.ParkGrid.series`): a copper plate
        has no state between steps, so each piece is `run`."""
        return self

    def run(
        self,
        load_kw: np.ndarray,
        pv_kw: np.ndarray,
        storage_kw: np.ndarray,
        storage_kvar: np.ndarray | None = None,
    ) -> PlateSnapshot:
        """Batched `solve` over a leading time axis."""
        n_t = load_kw.shape[0]
        st = np.zeros((n_t, self.layout.n_enterprises))
        for i, e in enumerate(self.unit_enterprise):
            st[:, e] += storage_kw[:, i]
        pcc = load_kw - pv_kw + st
        q = np.zeros_like(storage_kw) if storage_kvar is None else storage_kvar
        return PlateSnapshot(
            pcc_kw=pcc,
            pcc_kvar=np.zeros_like(pcc),
            vm_pu=np.ones((n_t, 1)),
            v_min_pu=np.ones(n_t),
            v_max_pu=np.ones(n_t),
            line_loading_pct=np.zeros((n_t, 0)),
            trafo_loading_pct=np.zeros((n_t, 0)),
            unit_trafo_loading_pct=100.0 * np.hypot(storage_kw, q) / self.layout.unit_trafo_kva,
            ext_grid_kw=pcc.sum(axis=1),
            losses_kw=np.zeros(n_t),
        )
