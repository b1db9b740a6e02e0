"""Discrete on-load tap control in a time series: pandapower's ``DiscreteTapControl``, plus
a delay and a step limit.

A `TapControl` keeps the voltage of one bus of a two-winding transformer (its LV or HV
side) inside a band ``vm_lower_pu < vm < vm_upper_pu`` by moving the transformer's tap one
position at a time. Within one interval the loop is pandapower's controller loop
(``pandapower.control.run_control``, ``DiscreteTapControl.control_step`` and
``is_converged``): solve the power flow; every controller whose bus is outside its band and
whose tap is not at the end stop it needs moves one position; solve again; until none
moves (or `MAX_ROUNDS` rounds, pandapower's ``max_iter``). The direction follows
pandapower's ``tap_side_coeff * tap_sign``: a tap on the HV side raising the LV voltage
when it goes down, and so on; a NaN voltage (a de-energised bus) never moves a tap.

Two additions, off by default (then the tap positions equal pandapower's step for step):
- ``delay_intervals``: a tap moves only in an interval whose first solve finds the bus
  outside the band and the ``delay_intervals`` intervals before it outside too (an OLTC's
  time delay, here in intervals); after an interval in which the tap moved, the count
  starts again.
- ``max_steps``: at most this many positions per interval (``None``: no limit).

How a tap position enters the power flow: pandapower's own branch model, evaluated once
per position (`grid.powerflow.TimeSeriesPowerFlow` builds each controlled transformer's
admittance stamp ``[Yff, Yft, Ytf, Ytt]`` for every position of its range with
pandapower's branch values and pi model, checked against runpp's ``Yf``/``Yt``), so ratio,
phase shift, tap side and tap-dependent impedance are as runpp's.

Kernels: `tap_move` (one controller's wanted move, as ``control_step``), `tap_round` (one
round over all controllers with delay and limit), `apply_taps` (the admittances at given
positions); the loop itself is in `grid.newton.solve_series`; plain-Python reference of the whole loop
in `grid.reference.tap_series_reference`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from grid.errors import UnsupportedNetError
from parktwin.jit import jit

if TYPE_CHECKING:
    import pandapower as pp

#: Control rounds per interval before the interval counts as not settled (pandapower's
#: ``run_control(max_iter=30)``).
MAX_ROUNDS = 30


@dataclass(frozen=True)
class TapControl:
    """Discrete tap control of one transformer (``net.trafo`` index `trafo`).

    The voltage of the transformer's `side` bus ("lv" or "hv") is kept strictly inside
    (`vm_lower_pu`, `vm_upper_pu`) [p.u.]; `delay_intervals` [-] intervals outside the band
    before a move, at most `max_steps` [-] positions per interval (None: no limit).
    """

    trafo: int
    vm_lower_pu: float
    vm_upper_pu: float
    side: str = "lv"
    delay_intervals: int = 0
    max_steps: int | None = None

    def __post_init__(self) -> None:
        where = f"tap control of trafo {self.trafo}"
        if self.side not in ("lv", "hv"):
            raise UnsupportedNetError(f"{where}: side {self.side!r}, expected 'lv' or 'hv'")
        lo, hi = self.vm_lower_pu, self.vm_upper_pu
        if not (math.isfinite(lo) and math.isfinite(hi) and 0.0 < lo < hi):
            raise UnsupportedNetError(
                f"{where}: band vm_lower_pu={lo}, vm_upper_pu={hi} (need 0 < lower < upper)"
            )
        if self.delay_intervals < 0:
            raise UnsupportedNetError(f"{where}: delay_intervals {self.delay_intervals} < 0")
        if self.max_steps is not None and self.max_steps < 1:
            raise UnsupportedNetError(f"{where}: max_steps {self.max_steps} < 1 (None = no limit)")

    @classmethod
    def from_set_point(
        cls,
        net: pp.pandapowerNet,
        trafo: int,
        vm_set_pu: float,
        *,
        side: str = "lv",
        tol: float = 1e-3,
        delay_intervals: int = 0,
        max_steps: int | None = None,
    ) -> TapControl:
        """The band of pandapower's ``DiscreteTapControl.from_tap_step_percent``:
        ``vm_set_pu +- (|tap_step_percent| / 200 + tol)``."""
        step = float(net.trafo.at[trafo, "tap_step_percent"])
        half = abs(step) / 100.0 * 0.5 + tol
        return cls(trafo, vm_set_pu - half, vm_set_pu + half, side, delay_intervals, max_steps)


def tap_controls_of(net: pp.pandapowerNet) -> tuple[TapControl, ...]:
    """The net's own pandapower ``DiscreteTapControl``s (in service, on ``trafo``) as
    `TapControl`s, in pandapower's controller order (level, then order). A controller of
    several transformers gives one `TapControl` each."""
    from pandapower.control import DiscreteTapControl

    if "controller" not in net or net.controller.empty:
        return ()
    rows = net.controller[net.controller.in_service.astype(bool)]
    rows = rows.sort_values(["level", "order"], kind="stable") if len(rows) else rows
    out = []
    for i, row in rows.iterrows():
        ctrl = row["object"]
        if not isinstance(ctrl, DiscreteTapControl):
            continue
        if ctrl.element != "trafo":
            raise UnsupportedNetError(
                f"net.controller {i}: DiscreteTapControl of {ctrl.element!r} is not supported"
                " (two-winding transformers only)"
            )
        for t in np.atleast_1d(ctrl.element_index):
            out.append(
                TapControl(int(t), float(ctrl.vm_lower_pu), float(ctrl.vm_upper_pu), ctrl.side)
            )
    return tuple(out)


@jit(inline="always")
def tap_move(vm, lower, upper, pos, tap_min, tap_max, coeff):
    """The move pandapower's ``DiscreteTapControl.control_step`` makes: -1, 0 or +1.

    `coeff` = pandapower's ``tap_side_coeff * tap_sign``: +1 when a higher position lowers
    the controlled voltage (a tap on the HV side, the LV bus controlled, a positive step),
    -1 otherwise. A NaN voltage compares False both ways: no move."""
    if vm < lower:
        if coeff == 1:
            return -1 if pos > tap_min else 0
        return 1 if pos < tap_max else 0
    if vm > upper:
        if coeff == 1:
            return 1 if pos < tap_max else 0
        return -1 if pos > tap_min else 0
    return 0


@jit
def tap_round(vm, ctl_i, ctl_f, pos, counter, moved, first):
    """One control round: every controller whose bus voltage `vm` (solver order) asks for a
    move, whose delay has run out and whose step limit is not reached moves one position.

    `ctl_i` (c, 6) int64: controlled bus (-1: the controller does nothing), tap_min, tap_max, coeff, delay_intervals,
    max_steps (-1 = no limit); `ctl_f` (c, 2): vm_lower_pu, vm_upper_pu. In place: `pos`
    (c,) positions, `counter` (c,) intervals outside the band (updated on the interval's
    `first` round only), `moved` (c,) positions moved in this interval. Returns the number
    of controllers that moved."""
    n_moved = 0
    for c in range(pos.shape[0]):
        if ctl_i[c, 0] < 0:  # not controlled (pandapower's `nothing_to_do`)
            continue
        d = tap_move(
            vm[ctl_i[c, 0]], ctl_f[c, 0], ctl_f[c, 1], pos[c], ctl_i[c, 1], ctl_i[c, 2], ctl_i[c, 3]
        )
        if first:
            counter[c] = counter[c] + 1 if d != 0 else 0
        if d == 0 or counter[c] <= ctl_i[c, 4]:
            continue
        if ctl_i[c, 5] >= 0 and moved[c] >= ctl_i[c, 5]:
            continue
        pos[c] += d
        moved[c] += 1
        n_moved += 1
    return n_moved


@jit
def apply_taps(pos, pos0, tap_min, stamps, idx, base, vals):
    """Admittance values at tap positions `pos`: ``vals[idx[c, k]] = base[idx[c, k]] + sum
    over the controllers touching that entry of (stamps[c, pos - tap_min, k] - stamps[c,
    pos0 - tap_min, k])`` (`base` holds the values at `pos0`; idx -1 = not stored here).
    Written from `base` each time, so no rounding accumulates over a year of moves."""
    for c in range(pos.shape[0]):
        for k in range(4):
            j = idx[c, k]
            if j >= 0:
                vals[j] = base[j]
    for c in range(pos.shape[0]):
        a, b = pos0[c] - tap_min[c], pos[c] - tap_min[c]
        for k in range(4):
            j = idx[c, k]
            if j >= 0:
                vals[j] += stamps[c, b, k] - stamps[c, a, k]
