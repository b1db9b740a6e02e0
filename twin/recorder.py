"""Time series of a run, kept in arrays allocated once before it starts.

One row per plant interval. Unit fields are (T, n_units), meter fields (T, n_ent), park
fields (T,). Meters and park fields hold the last power-flow solve: with a grid period
longer than the plant interval they repeat between solves. The reference meters (without
storage; each interval's own solve when the grid period is longer) are filled a chunk
behind the loop by `twin.reference`. Nothing is written to disk here; `twin.run` writes
the arrays once, at the end.

A year at 15 min is allocated at once. A long run at a fine step (a day at 0.1 s on the HIL
bench, which is usually stopped after minutes) starts with `CHUNK_ROWS` rows and doubles
when full, so memory follows what was simulated, not what could have been.

Every grid solve is also folded, as it happens, into each element's extremes and its count
of solves beyond the limits (`GridExtremes`): what the summary and the expansion study need
of the feeders, so no result needs the year solved again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from parktwin.errors import InputError
from parktwin.limits import GridLimits, fold_solve, grid_limits

UNIT_FIELDS = (
    "p_set_kw",
    "p_ac_kw",
    "q_ac_kvar",
    "p_aux_kw",
    "soc",
    "soh",
    "temp_c",
    "pcs_state",
    "e_ac_in_kwh",
    "e_ac_out_kwh",
    "e_aux_kwh",
    "loss_pcs_kwh",
    "loss_battery_kwh",
    "unit_trafo_loading_pct",
)
STEP_FIELDS = UNIT_FIELDS[1:13]  # the ones `devices.StepResult` gives (p_set_kw is ours)
METER_FIELDS = ("pcc_kw", "pcc_kvar")
#: meters of the no-storage reference (`twin.reference`): the same load and PV, units at zero
REFERENCE_FIELDS = ("pcc_without_storage_kw", "pcc_without_storage_kvar")
#: each interval's own meter with storage, kept when the grid solves a longer period's mean
INTERVAL_FIELD = "pcc_interval_kw"
PARK_FIELDS = (
    "v_min_pu",
    "v_max_pu",
    "line_loading_max_pct",
    "trafo_loading_max_pct",
    "ext_grid_kw",
    "losses_kw",
)
MAX_BYTES = 4e9
_EMPTY = np.zeros(0)
CHUNK_ROWS = 1 << 14


@dataclass(frozen=True)
class GridElements:
    """The grid model's elements the extremes are kept for, and the limits they count against.

    Buses: only those the voltage band applies to (`grid.ParkGrid.checked_bus`). A network
    without feeders (`twin.layout.CopperPlate`) has none.
    """

    bus_names: tuple[str, ...]  # the checked buses
    checked_bus: np.ndarray  # (n_bus,) bool mask of the solve's vm_pu
    line_names: tuple[str, ...]
    trafo_names: tuple[str, ...]
    limits: GridLimits
    tap_names: tuple[str, ...] = ()  # tap-controlled transformers (`grid.ParkGrid.tap_names`)


def grid_elements(network, limits: GridLimits) -> GridElements:
    """The elements of `network` (a `grid.ParkGrid`; a copper plate has none)."""
    checked = np.asarray(getattr(network, "checked_bus", np.zeros(0, bool)), bool)
    buses = tuple(getattr(network, "bus_names", ()))
    return GridElements(
        bus_names=tuple(n for n, c in zip(buses, checked, strict=True) if c),
        checked_bus=checked,
        line_names=tuple(getattr(network, "line_names", ())),
        trafo_names=tuple(getattr(network, "trafo_names", ())),
        limits=limits,
        tap_names=tuple(getattr(network, "tap_names", ())),
    )


@dataclass(frozen=True, eq=False)
class GridExtremes:
    """Each element's extremes over a run's grid solves, and its solves beyond the limits.

    Arrays are in `elements`' order; extremes are NaN for an element never solved.
    """

    elements: GridElements
    solves: int  # grid solves folded in [-]
    v_min_pu: np.ndarray  # (n_bus,) lowest voltage of each checked bus [p.u.]
    v_max_pu: np.ndarray  # (n_bus,) highest [p.u.]
    line_loading_max_pct: np.ndarray  # (n_line,) [% of rating]
    trafo_loading_max_pct: np.ndarray  # (n_trafo,) [% of rating]
    bus_violations: np.ndarray  # (n_bus,) solves with the bus outside the band [-]
    line_violations: np.ndarray  # (n_line,) solves with the line above its limit [-]
    trafo_violations: np.ndarray  # (n_trafo,) [-]
    voltage_violations: int  # solves with any checked bus outside the band [-]
    overload_violations: int  # solves with any line or transformer above its limit [-]


class _ExtremesAccumulator:
    """`GridExtremes` built up one solve at a time (`parktwin.limits.fold_solve`, one
    compiled call per solve: the engine's grid process feeds it)."""

    def __init__(self, elements: GridElements) -> None:
        self.elements = elements
        nb, nl, nt = (
            len(elements.bus_names),
            len(elements.line_names),
            len(elements.trafo_names),
        )
        lim = elements.limits
        self._bounds = (lim.v_min_pu, lim.v_max_pu, lim.loading_max_pct)
        self._checked = np.flatnonzero(elements.checked_bus).astype(np.int64)
        self.solves = 0
        self.v_min = np.full(nb, np.inf)
        self.v_max = np.full(nb, -np.inf)
        self.line_max = np.full(nl, -np.inf)
        self.trafo_max = np.full(nt, -np.inf)
        self.bus_bad = np.zeros(nb, np.int64)
        self.line_bad = np.zeros(nl, np.int64)
        self.trafo_bad = np.zeros(nt, np.int64)
        self.v_steps = 0
        self.o_steps = 0

    def add(self, snap) -> None:
        lo, hi, lim = self._bounds
        v_any, o_any = fold_solve(
            np.asarray(snap.vm_pu, dtype=np.float64) if self._checked.size else _EMPTY,
            self._checked,
            np.asarray(snap.line_loading_pct, dtype=np.float64),
            np.asarray(snap.trafo_loading_pct, dtype=np.float64),
            lo,
            hi,
            lim,
            self.v_min,
            self.v_max,
            self.line_max,
            self.trafo_max,
            self.bus_bad,
            self.line_bad,
            self.trafo_bad,
        )
        self.solves += 1
        self.v_steps += v_any
        self.o_steps += o_any

    def result(self) -> GridExtremes:
        def finite(a: np.ndarray) -> np.ndarray:
            return np.where(np.isfinite(a), a, np.nan)

        return GridExtremes(
            elements=self.elements,
            solves=self.solves,
            v_min_pu=finite(self.v_min),
            v_max_pu=finite(self.v_max),
            line_loading_max_pct=finite(self.line_max),
            trafo_loading_max_pct=finite(self.trafo_max),
            bus_violations=self.bus_bad.copy(),
            line_violations=self.line_bad.copy(),
            trafo_violations=self.trafo_bad.copy(),
            voltage_violations=self.v_steps,
            overload_violations=self.o_steps,
        )


class Recorder:
    """Arrays of one run, allocated before it; `record_plant`/`record_grid` fill interval k,
    `record_solve` folds each grid solve into the elements' extremes. `held`: the grid
    solves a period longer than the plant interval (keep `INTERVAL_FIELD` too)."""

    def __init__(
        self,
        n_rows: int,
        n_units: int,
        n_ent: int,
        elements: GridElements | None = None,
        *,
        held: bool = False,
    ) -> None:
        self._extremes = _ExtremesAccumulator(
            elements or GridElements((), np.zeros(0, bool), (), (), grid_limits()),
        )
        self._meter_fields = METER_FIELDS + REFERENCE_FIELDS + ((INTERVAL_FIELD,) if held else ())
        n_meter = len(self._meter_fields)
        # one park column per tap-controlled transformer: "tap_pos_T1" for "T1 SZ13-..."
        self.tap_fields = tuple(
            f"tap_pos_{name.split()[0]}" for name in self._extremes.elements.tap_names
        )
        n_park = len(PARK_FIELDS) + len(self.tap_fields)
        self.row_bytes = (len(UNIT_FIELDS) * n_units + n_meter * n_ent + n_park) * 8
        self.n_rows = n_rows
        self.n_units, self.n_ent = n_units, n_ent
        self.capacity = 0
        self.units: dict[str, np.ndarray] = {}
        self.meters: dict[str, np.ndarray] = {}
        self.park: dict[str, np.ndarray] = {}
        self._grow(min(n_rows, max(CHUNK_ROWS, 1)))
        self.rows = 0

    def _grow(self, capacity: int) -> None:
        if capacity * self.row_bytes > MAX_BYTES:
            raise InputError(
                f"step_s: {capacity} recorded intervals would take"
                f" {capacity * self.row_bytes / 1e9:.1f} GB; use a longer control/grid period"
                " or fewer days"
            )

        def grown(old: np.ndarray | None, shape: tuple) -> np.ndarray:
            new = np.full(shape, np.nan)
            if old is not None:
                new[: len(old)] = old
            return new

        nu, ne = self.n_units, self.n_ent
        self.units = {f: grown(self.units.get(f), (capacity, nu)) for f in UNIT_FIELDS}
        self.meters = {f: grown(self.meters.get(f), (capacity, ne)) for f in self._meter_fields}
        self.park = {f: grown(self.park.get(f), (capacity,)) for f in PARK_FIELDS + self.tap_fields}
        self.capacity = capacity

    def record_plant(self, k: int, p_set_kw: np.ndarray, step) -> None:
        """Unit fields of interval k from a `devices.StepResult`."""
        if k >= self.capacity:
            self._grow(min(self.n_rows, 2 * self.capacity))
        u = self.units
        u["p_set_kw"][k] = p_set_kw
        for f in STEP_FIELDS:
            u[f][k] = getattr(step, f)

    def record_grid(self, k: int, snap) -> None:
        """Meter and park fields of interval k from a power-flow snapshot."""
        self.meters["pcc_kw"][k] = snap.pcc_kw
        self.meters["pcc_kvar"][k] = snap.pcc_kvar
        self.units["unit_trafo_loading_pct"][k] = snap.unit_trafo_loading_pct
        p = self.park
        p["v_min_pu"][k] = snap.v_min_pu
        p["v_max_pu"][k] = snap.v_max_pu
        ll = snap.line_loading_pct
        tl = snap.trafo_loading_pct
        p["line_loading_max_pct"][k] = ll.max() if len(ll) else 0.0
        p["trafo_loading_max_pct"][k] = tl.max() if len(tl) else 0.0
        p["ext_grid_kw"][k] = snap.ext_grid_kw
        p["losses_kw"][k] = snap.losses_kw
        for i, f in enumerate(self.tap_fields):
            p[f][k] = snap.tap_pos[i]
        self.rows = k + 1

    def record_solve(self, snap) -> None:
        """Fold one grid solve into the elements' extremes and violation counts."""
        self._extremes.add(snap)

    def grid_extremes(self) -> GridExtremes:
        """The elements' extremes and violation counts over the solves so far."""
        return self._extremes.result()

    def trimmed(self) -> dict[str, dict[str, np.ndarray]]:
        """The recorded rows (a run stopped early keeps what it did)."""
        n = self.rows
        return {
            "units": {f: a[:n] for f, a in self.units.items()},
            "meters": {f: a[:n] for f, a in self.meters.items()},
            "park": {f: a[:n] for f, a in self.park.items()},
        }
