"""Time series of a run, kept in arrays allocated once before it starts.

One row per plant interval. Unit fields are (T, n_units), meter fields (T, n_ent), park
fields (T,). Meters and park fields hold the last power-flow solve: with a grid period
longer than the plant interval they repeat between solves. Nothing is written to disk
here; `twin.run` writes the arrays once, at the end.

A year at 15 min is allocated at once. A long run at a fine step (a day at 0.1 s on the HIL
bench, which is usually stopped after minutes) starts with `CHUNK_ROWS` rows and doubles
when full, so memory follows what was simulated, not what could have been.
"""

from __future__ import annotations

import numpy as np

from parktwin.errors import InputError

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
PARK_FIELDS = (
    "v_min_pu",
    "v_max_pu",
    "line_loading_max_pct",
    "trafo_loading_max_pct",
    "ext_grid_kw",
    "losses_kw",
)
MAX_BYTES = 4e9
CHUNK_ROWS = 1 << 14


class Recorder:
    """Arrays of one run, allocated before it; `record_plant`/`record_grid` fill interval k."""

    def __init__(self, n_rows: int, n_units: int, n_ent: int) -> None:
        self.row_bytes = (len(UNIT_FIELDS) * n_units + len(METER_FIELDS) * n_ent + 6) * 8
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
        self.meters = {f: grown(self.meters.get(f), (capacity, ne)) for f in METER_FIELDS}
        self.park = {f: grown(self.park.get(f), (capacity,)) for f in PARK_FIELDS}
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
        self.rows = k + 1

    def trimmed(self) -> dict[str, dict[str, np.ndarray]]:
        """The recorded rows (a run stopped early keeps what it did)."""
        n = self.rows
        return {
            "units": {f: a[:n] for f, a in self.units.items()},
            "meters": {f: a[:n] for f, a in self.meters.items()},
            "park": {f: a[:n] for f, a in self.park.items()},
        }
