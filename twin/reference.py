"""The power flows a run's summary needs beside its own, solved during the run a chunk behind it.

- The no-storage reference: each interval's load and PV with every unit at zero. The bills
  and the round trip at the meter compare each host meter with and without storage; on the
  feeders that takes a power flow (only a copper plate's meter is a sum of known injections).
- Each interval's own solve with storage, when the grid period is longer than the plant
  interval: the run's meters then hold one solve of the period's mean powers, the bills are
  on every interval's own power.
- With the grid-aware guard, the check of its promise (`twin.grid_guard.caused_violations`):
  each interval with storage's power, and with what the units draw undispatched.

Each is a chain of Newton solves (`grid.ParkGrid.series`) that the engine's recorder process
advances `CHUNK_ROWS` recorded intervals at a time and `finish` completes: nothing is solved
after the run, and what a chunk's power flows produce beyond the meters (voltages, loadings)
lives for one chunk. The per-interval results kept are meter columns of the `Recorder`
(`REFERENCE_FIELDS`, `INTERVAL_FIELD`). A chained run gives one batch over the run's
figures to the solver's tolerance (a chunk factors its first Jacobian afresh); a run of at
most one chunk is that batch, bit for bit.
"""

from __future__ import annotations

import numpy as np

from parktwin.limits import GridLimits
from twin.grid_guard import caused_violations
from twin.inputs import Inputs
from twin.recorder import INTERVAL_FIELD, Recorder

#: Recorded intervals per chunk of solves: a year at 15 min is 18 chunks, a week one.
CHUNK_ROWS = 2048
#: On the wall clock (the HIL bench) a chunk's solves must not hold the plant up: a few ms.
REALTIME_CHUNK_ROWS = 32


class ReferenceSolves:
    """The reference chains of one run, filling `recorder`'s reference columns as it goes.

    `held`: the grid period is longer than the plant interval (solve each interval's own
    meters with storage into `INTERVAL_FIELD`). `limits`: the grid-aware guard is on (count
    the intervals in which storage caused a violation against these limits).
    """

    def __init__(
        self,
        network,
        inputs: Inputs,
        recorder: Recorder,
        *,
        held: bool,
        limits: GridLimits | None,
        chunk_rows: int = CHUNK_ROWS,
    ) -> None:
        self._net, self._inputs, self._rec = network, inputs, recorder
        self._chunk = max(1, int(chunk_rows))
        self._without = network.series()
        self._held = network.series() if held else None
        self._limits = limits
        if limits is not None:
            self._check_with, self._check_without = network.series(), network.series()
        self.rows_solved = 0
        #: intervals in which storage's dispatch put an element past its limit (or further)
        self.caused_violations = 0

    def advance(self, rows: int) -> None:
        """Solve the next chunk once `rows` recorded intervals hold a whole one unsolved."""
        if rows - self.rows_solved >= self._chunk:
            self._solve(self.rows_solved, rows)

    def finish(self, rows: int) -> None:
        """Solve every recorded interval not solved yet (the run's end, or a stopped run)."""
        if rows > self.rows_solved:
            self._solve(self.rows_solved, rows)

    def _solve(self, k0: int, k1: int) -> None:
        inp, u, m = self._inputs, self._rec.units, self._rec.meters
        load, pv = inp.load_kw[k0:k1], inp.pv_kw[k0:k1]
        zero = np.zeros((k1 - k0, self._rec.n_units))
        base = self._without.run(load, pv, zero, zero)
        m["pcc_without_storage_kw"][k0:k1] = base.pcc_kw
        m["pcc_without_storage_kvar"][k0:k1] = base.pcc_kvar
        p_ac, aux, q = u["p_ac_kw"][k0:k1], u["p_aux_kw"][k0:k1], u["q_ac_kvar"][k0:k1]
        if self._held is not None:
            m[INTERVAL_FIELD][k0:k1] = self._held.run(load, pv, p_ac + aux, q).pcc_kw
        if self._limits is not None:
            # without dispatch the units still draw what no setpoint commands: auxiliaries,
            # and an idle unit's standby
            idle = u["p_set_kw"][k0:k1] == 0.0
            with_ = self._check_with.run(load, pv, p_ac + aux, q)
            without = self._check_without.run(
                load, pv, aux + np.where(idle, p_ac, 0.0), np.zeros_like(aux)
            )
            lim = self._limits
            caused = caused_violations(
                with_,
                without,
                self._net.checked_bus,
                v_min_pu=lim.v_min_pu,
                v_max_pu=lim.v_max_pu,
                loading_max_pct=lim.loading_max_pct,
            )
            self.caused_violations += int(caused.sum())
        self.rows_solved = k1
