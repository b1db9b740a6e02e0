"""The grid-aware guard: storage never pushes a feeder, transformer or bus voltage over its
limit, nor an element already over its limit (grown load) further over.

For the coming grid period the guard knows the park's load and PV (as the anti-backflow
guard's fast loop does) and solves ahead (`grid.ParkGrid.probe`, a full AC power flow):

1. without storage power (auxiliaries only): each element's value then, ``base``;
2. with the setpoints the other guards let through. Each element's target is its limit
   less a margin, or ``base`` where ``base`` is already beyond that (storage may not make
   it worse). If every element meets its target, the setpoints pass unchanged.
3. Otherwise the sensitivities of that solve (`grid.GridSensitivity`: per kW of each unit)
   say how much of each violation each unit causes; the units that push an element over
   its target are scaled toward zero together, just enough to the first order, and the
   full power flow is solved again with the new setpoints. Current magnitudes are convex
   in the injections, so the first-order cut can fall short: the loop repeats (a few
   rounds at most in practice) and, should it still fall short, the units that push stop.

`caused_violations` checks the promise by two full power flows of every interval (with the
storage's power, and with what it draws undispatched), solved during the run a chunk behind
it (`twin.reference`): the plant may deliver a little less or more than its setpoint, which
the margins absorb.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Rounds of "cut by the sensitivities, solve again" before every unit is set to zero.
MAX_ROUNDS = 6
#: Over-cut of each first-order reduction (a convex excess needs a little more) [-].
OVERCUT = 1.05
#: Excess below this is solver round-off, not a violation [% or p.u.].
TOL = 1e-6
#: What counts as storage making an element worse, in `caused_violations`: more than the
#: plant's own deviation from its setpoints within a period moves it [pp of loading, p.u.].
TOL_CAUSED_PCT = 0.01
TOL_CAUSED_V_PU = 1e-4


@dataclass(frozen=True)
class GridTargets:
    """What storage must keep each element within for one grid period (rows in
    `grid.ParkGrid` name order; voltages on the checked buses only, NaN elsewhere)."""

    line_max_pct: np.ndarray  # (n_line,)
    trafo_max_pct: np.ndarray  # (n_trafo,)
    v_min_pu: np.ndarray  # (n_bus,)
    v_max_pu: np.ndarray  # (n_bus,)


class GridGuard:
    """Caps storage setpoints so that the park's grid stays within its limits.

    `network`: the run's `grid.ParkGrid`. Limits: ``v_min_pu``/``v_max_pu`` on the checked
    buses, ``loading_max_pct`` on every line and transformer; margins kept inside them:
    ``margin_pct`` [percentage points of loading] and ``margin_v_pu`` [p.u.].
    """

    def __init__(
        self,
        network,
        *,
        v_min_pu: float,
        v_max_pu: float,
        loading_max_pct: float,
        margin_pct: float,
        margin_v_pu: float,
    ) -> None:
        self.network = network
        self._checked = np.asarray(network.checked_bus, dtype=bool)
        self._line_lim = loading_max_pct - margin_pct
        self._trafo_lim = loading_max_pct - margin_pct
        self._v_lo = v_min_pu + margin_v_pu
        self._v_hi = v_max_pu - margin_v_pu
        self._limits = (v_min_pu, v_max_pu, loading_max_pct)
        self.interventions = 0  # grid periods in which a setpoint was cut
        self.zeroed = 0  # ... in which the units that pushed had to be set to zero
        self.probes = 0  # look-ahead power flows solved
        self.targets: GridTargets | None = None  # the promise of the last decision

    def targets_for(self, load_kw, pv_kw, aux_kw) -> GridTargets:
        """The targets of a period with this load, PV and auxiliaries [kW]."""
        snap, _ = self.network.probe(load_kw, pv_kw, aux_kw)
        self.probes += 1
        vm = np.where(self._checked, snap.vm_pu, np.nan)
        with np.errstate(invalid="ignore"):
            return GridTargets(
                line_max_pct=np.fmax(self._line_lim, snap.line_loading_pct),
                trafo_max_pct=np.fmax(self._trafo_lim, snap.trafo_loading_pct),
                v_min_pu=np.fmin(self._v_lo, vm),
                v_max_pu=np.fmax(self._v_hi, vm),
            )

    def cap(
        self,
        load_kw: np.ndarray,
        pv_kw: np.ndarray,
        aux_kw: np.ndarray,
        p_kw: np.ndarray,
        q_kvar: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Setpoints (p [kW, + = charging], q [kvar]) that keep the period's grid within
        its targets; each unit's p only moves toward zero (q only in the last resort)."""
        tg = self.targets_for(load_kw, pv_kw, aux_kw)
        self.targets = tg
        p = np.asarray(p_kw, dtype=float).copy()
        q = np.asarray(q_kvar, dtype=float)
        if not np.any(p) and not np.any(q):
            return p, q
        cut = False
        for _ in range(MAX_ROUNDS):
            snap, _ = self.network.probe(load_kw, pv_kw, aux_kw + p, q)
            self.probes += 1
            if not (_excess_of(snap, tg) > TOL).any():
                if cut:
                    self.interventions += 1
                return p, q
            # violated: the sensitivities at this state (most periods never get here)
            snap, sens = self.network.probe(load_kw, pv_kw, aux_kw + p, q, sensitivity=True)
            excess, grad = _excess(snap, sens, tg)
            bad = excess > TOL
            push = grad[bad] * p[None, :]  # what each unit adds to each violation
            if not (push > 0.0).any():
                # met, or what is left is not the storage's active power (first order)
                if cut:
                    self.interventions += 1
                return p, q
            cut = True
            keep = np.ones_like(p)
            total = np.where(push > 0.0, push, 0.0).sum(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                frac = np.where(total > 0.0, 1.0 - OVERCUT * excess[bad] / total, 1.0)
            frac = np.clip(frac, 0.0, 1.0)
            for c in range(push.shape[0]):
                on = push[c] > 0.0
                keep[on] = np.minimum(keep[on], frac[c])
            p = p * keep
        # still short after the rounds: the units that push stop (with their reactive
        # power); at zero a unit adds nothing to any element
        self.interventions += 1
        self.zeroed += 1
        pushers = (push > 0.0).any(axis=0)
        return np.where(pushers, 0.0, p), np.where(pushers, 0.0, q)


def caused_violations(
    with_storage,
    without_storage,
    checked_bus: np.ndarray,
    *,
    v_min_pu: float,
    v_max_pu: float,
    loading_max_pct: float,
    tol_pct: float = TOL_CAUSED_PCT,
    tol_v_pu: float = TOL_CAUSED_V_PU,
) -> np.ndarray:
    """(T,) bool: intervals in which storage's dispatch put an element past its limit or
    one already past it further past, by two full power flows of the same load and PV
    (`grid.GridSeries`: with the storage's power, and with what it draws undispatched:
    auxiliaries and idle units' standby).

    An element counts when it is past its limit with storage and worse than without by
    more than `tol_pct` [percentage points of loading] or `tol_v_pu` [p.u.].
    """
    w, o = with_storage, without_storage
    checked = np.asarray(checked_bus, dtype=bool)
    vw, vo = w.vm_pu[:, checked], o.vm_pu[:, checked]
    with np.errstate(invalid="ignore"):
        line = (w.line_loading_pct > loading_max_pct) & (
            w.line_loading_pct > o.line_loading_pct + tol_pct
        )
        trafo = (w.trafo_loading_pct > loading_max_pct) & (
            w.trafo_loading_pct > o.trafo_loading_pct + tol_pct
        )
        low = (vw < v_min_pu) & (vw < vo - tol_v_pu)
        high = (vw > v_max_pu) & (vw > vo + tol_v_pu)
    return line.any(axis=1) | trafo.any(axis=1) | low.any(axis=1) | high.any(axis=1)


def _excess_of(snap, tg: GridTargets) -> np.ndarray:
    """Every constraint's excess over its target (> 0 = violated): lines, transformers, low
    and high voltages stacked (NaN, an unchecked bus -> -1)."""
    excess = np.concatenate(
        [
            snap.line_loading_pct - tg.line_max_pct,
            snap.trafo_loading_pct - tg.trafo_max_pct,
            tg.v_min_pu - snap.vm_pu,
            snap.vm_pu - tg.v_max_pu,
        ]
    )
    return np.nan_to_num(excess, nan=-1.0)


def _excess(snap, sens, tg: GridTargets) -> tuple[np.ndarray, np.ndarray]:
    """`_excess_of` and each constraint's gradient per kW of each unit (NaN rows -> 0)."""
    grad = np.concatenate(
        [
            sens.line_loading_pct_per_kw,
            sens.trafo_loading_pct_per_kw,
            -sens.vm_pu_per_kw,
            sens.vm_pu_per_kw,
        ]
    )
    return _excess_of(snap, tg), np.nan_to_num(grad, nan=0.0)
