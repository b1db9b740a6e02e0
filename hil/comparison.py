"""Offline versus bench: the typed result of `twin hil verify --compare-offline`.

The twin computes it (`twin.hil_compare`: `hil` never imports the twin); the bench writes
it beside the verdicts (``compare.json``, ``compare.csv``) and its report shows it. Two
questions, two parts:

- `ReplayCheck`, *the bench is the twin*: the controller's logged setpoints replayed through
  the offline engine on the same day and plant; per unit the energy and SOC errors against
  the bench, and each window where they differ with the nearest cause on the bench
  (a watchdog revert, a fault, the timing of a write or of a PCS command). A second
  replay, of what the bench put in force (the controller's setpoints through the units'
  caps, the watchdog's reverts, the SOC reserve) and of its faults, checks the plant
  alone.
- `SideFigures` twice, *the controller against the reference*: the bench run and the
  twin's own strategy on the same day, side by side.

Signs as everywhere: positive power = charging. Energies in kWh of AC power at the PCS.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from parktwin import files

#: a unit's replay reproduces the bench when its energy error is within this [%] ...
ENERGY_TOL_PCT = 0.5
#: ... and its SOC within this at every interval [0..1]
SOC_TOL = 0.01

#: the causes a divergence window is attributed to, most specific first
CAUSES = (
    "watchdog revert",
    "fault",
    "unit limit",
    "write timing",
    "PCS command timing",
    "unexplained",
)


@dataclass(frozen=True)
class UnitReplay:
    """One unit: the bench against the replay of its controller's setpoints."""

    unit: str
    e_charged_bench_kwh: float
    e_discharged_bench_kwh: float
    e_charged_replay_kwh: float
    e_discharged_replay_kwh: float
    energy_error_pct: float  # |dE charged| + |dE discharged| over the bench's throughput
    soc_error_max: float  # largest |SOC bench - SOC replay| over the intervals
    t_soc_error_max_s: float

    @property
    def matches(self) -> bool:
        return self.energy_error_pct <= ENERGY_TOL_PCT and self.soc_error_max <= SOC_TOL


@dataclass(frozen=True)
class Divergence:
    """A window where one unit's power on the bench and in the replay differ."""

    unit: str
    t0_s: float
    t1_s: float
    dp_max_kw: float  # largest |P bench - P replay| in the window
    e_kwh: float  # energy bench - replay over the window (+: the bench charged more)
    cause: str  # one of `CAUSES`
    detail: str  # the event the window is put down to, with its plant time


@dataclass(frozen=True)
class ReplayCheck:
    """The bench is the twin: the replay of the controller's setpoints against the bench."""

    units: tuple[UnitReplay, ...]
    windows: tuple[Divergence, ...]
    n_setpoints: int  # setpoints replayed
    n_commands: int  # PCS start/stop/reset commands replayed
    energy_tol_pct: float = ENERGY_TOL_PCT
    soc_tol: float = SOC_TOL

    @property
    def matches(self) -> bool:
        """Every unit within both tolerances."""
        return all(u.matches for u in self.units)

    @property
    def explained(self) -> bool:
        """Every divergence window has a cause on the bench."""
        return all(w.cause != "unexplained" for w in self.windows)

    def summary(self) -> str:
        """One sentence: the verdict with the worst figures and the windows' causes."""
        e = max((u.energy_error_pct for u in self.units), default=0.0)
        s = max((u.soc_error_max for u in self.units), default=0.0)
        head = (
            "the replay reproduces the bench"
            if self.matches
            else "the replay differs from the bench"
        )
        text = (
            f"{head}: largest energy error {e:.3f} % (tolerance {self.energy_tol_pct:g} %),"
            f" largest SOC error {s:.4f} (tolerance {self.soc_tol:g})"
        )
        if self.windows:
            counts: dict[str, int] = {}
            for w in self.windows:
                counts[w.cause] = counts.get(w.cause, 0) + 1
            text += "; divergence windows: " + ", ".join(f"{n} {c}" for c, n in counts.items())
        return text


@dataclass(frozen=True)
class SideFigures:
    """One side of the controller-against-reference table (the host's units and meter)."""

    label: str
    e_charged_kwh: float
    e_discharged_kwh: float
    bill_yuan: float  # the host's energy bill over the day: import x price
    demand_peak_kw: float  # highest import averaged over the demand window
    export_s: float  # time the PCC exported beyond the anti-backflow limit, in all
    export_longest_s: float  # the longest such spell
    export_allowed_s: float  # a spell up to this long is no violation (the day's export_max_s)
    soc_outside_s: float  # time any unit's SOC was outside the site window
    demand_over_kw: float  # demand peak above the target (0: held)
    guard_interventions: int  # the twin's guards changing a setpoint (unit x interval)
    guard_detail: str  # by guard, e.g. "soc_window 12, ramp 40"

    @property
    def violations(self) -> int:
        """Limits broken as the verdicts judge them: export, SOC window, demand target (0..3)."""
        export = self.export_longest_s > self.export_allowed_s
        return int(export) + int(self.soc_outside_s > 0) + int(self.demand_over_kw > 0)


@dataclass(frozen=True, eq=False)
class Comparison:
    """Offline versus bench for one verify run. Series over the bench's intervals: the
    host's storage power and each host unit's SOC on the bench, in the replay and in the
    reference run; the host's PCC import on the bench and in the reference."""

    replay: ReplayCheck
    plant: ReplayCheck  # the replay of what the bench put in force, faults included
    controller: SideFigures
    reference: SideFigures
    reference_strategy: str
    t_s: np.ndarray
    unit_names: tuple[str, ...]
    p_bench_kw: np.ndarray  # (T,) host units' AC power, summed
    p_replay_kw: np.ndarray
    p_reference_kw: np.ndarray
    soc_bench: np.ndarray  # (T, n_host_units)
    soc_replay: np.ndarray
    soc_reference: np.ndarray
    pcc_bench_kw: np.ndarray
    pcc_reference_kw: np.ndarray
    notes: tuple[str, ...] = field(default=())

    @property
    def earns_yuan(self) -> float:
        """What the controller saves the host against the reference [yuan] (- : it costs)."""
        return self.reference.bill_yuan - self.controller.bill_yuan

    def to_json(self) -> dict:
        r = self.replay
        return {
            "replay": {
                "matches": r.matches,
                "explained": r.explained,
                "summary": r.summary(),
                "energy_tol_pct": r.energy_tol_pct,
                "soc_tol": r.soc_tol,
                "n_setpoints": r.n_setpoints,
                "n_commands": r.n_commands,
                "units": [asdict(u) | {"matches": u.matches} for u in r.units],
                "windows": [asdict(w) for w in r.windows],
            },
            "plant": {
                "matches": self.plant.matches,
                "summary": self.plant.summary(),
                "units": [asdict(u) | {"matches": u.matches} for u in self.plant.units],
                "windows": [asdict(w) for w in self.plant.windows],
            },
            "reference_strategy": self.reference_strategy,
            "controller": asdict(self.controller) | {"violations": self.controller.violations},
            "reference": asdict(self.reference) | {"violations": self.reference.violations},
            "earns_yuan": self.earns_yuan,
            "notes": list(self.notes),
        }

    def to_csv(self) -> str:
        """The series, one row per interval."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        head = ["t_s", "p_bench_kw", "p_replay_kw", "p_reference_kw"]
        for n in self.unit_names:
            head += [f"{n}.soc_bench", f"{n}.soc_replay", f"{n}.soc_reference"]
        w.writerow([*head, "pcc_bench_kw", "pcc_reference_kw"])
        for k, t in enumerate(self.t_s):
            row = [f"{t:.1f}"] + [
                f"{x[k]:.3f}" for x in (self.p_bench_kw, self.p_replay_kw, self.p_reference_kw)
            ]
            for i in range(len(self.unit_names)):
                row += [
                    f"{x[k, i]:.6f}" for x in (self.soc_bench, self.soc_replay, self.soc_reference)
                ]
            row += [f"{self.pcc_bench_kw[k]:.3f}", f"{self.pcc_reference_kw[k]:.3f}"]
            w.writerow(row)
        return buf.getvalue()

    def write(self, out_dir: str | Path) -> None:
        """``compare.json`` and ``compare.csv`` in `out_dir`."""
        out = Path(out_dir)
        files.write_json(out / "compare.json", self.to_json())
        files.write_text(out / "compare.csv", self.to_csv())
