"""Grid limit checks of a run: voltage band, line and transformer loading, backflow, exchange.

The limits and the checkers are `parktwin.limits` (one copy for the whole project); this
module applies them to the park's power-flow results, element by element:

- Voltage: every 10 kV and 380 V bus within the band (GB/T 12325-2008: +-7 % of nominal).
  The 110 kV bus (the ext_grid's set point) and the PCS terminals (0.69 kV, inside the
  storage unit) are not supply points and are not checked (`ParkGrid.checked_bus`).
- Loading: lines and transformers above their limit (100 % of pandapower's loading_percent).
- Backflow (anti-backflow, 防逆流): an enterprise's PCC power below zero is export.
- Substation exchange: the park's import from (+) and export to (-) the 110 kV grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grid.park import GridSeries, GridSnapshot, ParkGrid
from parktwin.limits import GridLimits, grid_limits, overloaded, voltage_outside


@dataclass(frozen=True)
class LimitReport:
    """Per-step flags (leading axis = step) and their summary over the run."""

    enterprise_names: tuple[str, ...]
    v_band_pu: tuple[float, float]
    voltage_violation: np.ndarray  # (T,) bool: a checked bus outside the band
    line_overload: np.ndarray  # (T,) bool
    trafo_overload: np.ndarray  # (T,) bool
    backflow: np.ndarray  # (T, n_ent) bool: PCC export
    voltage_violation_steps: int
    v_min_pu: float
    v_min_bus: str
    v_max_pu: float
    v_max_bus: str
    line_overload_steps: int
    max_line_loading_pct: float
    max_line: str
    trafo_overload_steps: int
    max_trafo_loading_pct: float
    max_trafo: str
    backflow_steps: np.ndarray  # (n_ent,) int
    max_export_kw: np.ndarray  # (n_ent,) >= 0, largest export at the PCC
    exchange_max_import_kw: float
    exchange_max_export_kw: float  # >= 0
    exchange_import_kwh: float  # NaN when dt_s was not given
    exchange_export_kwh: float

    @property
    def voltage_violations(self) -> int:
        """Steps with a checked bus outside the band."""
        return self.voltage_violation_steps

    @property
    def line_overloads(self) -> int:
        """Steps with a line above the loading limit."""
        return self.line_overload_steps

    @property
    def trafo_overloads(self) -> int:
        """Steps with a transformer above the loading limit."""
        return self.trafo_overload_steps

    @property
    def ok(self) -> bool:
        """True when no limit was violated on any step."""
        return not (
            self.voltage_violation.any()
            or self.line_overload.any()
            or self.trafo_overload.any()
            or self.backflow.any()
        )

    def summary(self) -> dict:
        """The summary as plain JSON-able values."""
        return {
            "ok": self.ok,
            "steps": int(self.voltage_violation.shape[0]),
            "voltage_violations": self.voltage_violation_steps,
            "v_band_pu": list(self.v_band_pu),
            "v_min_pu": self.v_min_pu,
            "v_min_bus": self.v_min_bus,
            "v_max_pu": self.v_max_pu,
            "v_max_bus": self.v_max_bus,
            "line_overloads": self.line_overload_steps,
            "max_line_loading_pct": self.max_line_loading_pct,
            "max_line": self.max_line,
            "trafo_overloads": self.trafo_overload_steps,
            "max_trafo_loading_pct": self.max_trafo_loading_pct,
            "max_trafo": self.max_trafo,
            "backflow": {
                name: {"steps": int(n), "max_export_kw": float(x)}
                for name, n, x in zip(
                    self.enterprise_names, self.backflow_steps, self.max_export_kw, strict=True
                )
                if n > 0
            },
            "exchange": {
                "max_import_kw": self.exchange_max_import_kw,
                "max_export_kw": self.exchange_max_export_kw,
                "import_kwh": _json_float(self.exchange_import_kwh),
                "export_kwh": _json_float(self.exchange_export_kwh),
            },
        }


def _json_float(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def _as_series(series: GridSeries | GridSnapshot) -> GridSeries:
    if isinstance(series, GridSeries):
        return series
    return GridSeries(
        **{
            name: np.asarray(getattr(series, name))[None]
            for name in GridSeries.__dataclass_fields__
        }
    )


def _argmax_name(
    values: np.ndarray, names: tuple[str, ...], lowest: bool = False
) -> tuple[float, str]:
    if values.size == 0 or np.all(np.isnan(values)):
        return float("nan"), ""
    flat = np.nanargmin(values) if lowest else np.nanargmax(values)
    _, j = np.unravel_index(flat, values.shape)
    return float(values.flat[flat]), names[j]


def check_limits(
    series: GridSeries | GridSnapshot,
    park: ParkGrid,
    *,
    dt_s: float | None = None,
    limits: GridLimits | None = None,
    v_band_pu: tuple[float, float] | None = None,
    loading_limit_pct: float | None = None,
) -> LimitReport:
    """Flag every step of `series` (from ``park.run`` or ``park.solve``) and summarise.

    `limits`: default `parktwin.limits.grid_limits()`; `v_band_pu` (low, high) and
    `loading_limit_pct` replace its band and loading limit. `dt_s` (the step length) turns
    the exchange into energies [kWh]; without it they are NaN.
    """
    lim = limits or grid_limits()
    if v_band_pu is not None:
        lim = lim.model_copy(update={"v_min_pu": v_band_pu[0], "v_max_pu": v_band_pu[1]})
    if loading_limit_pct is not None:
        lim = lim.model_copy(update={"loading_max_pct": loading_limit_pct})
    s = _as_series(series)
    lo, hi = lim.v_min_pu, lim.v_max_pu
    vm = s.vm_pu[:, park.checked_bus]
    bus_names = tuple(n for n, c in zip(park.bus_names, park.checked_bus, strict=True) if c)
    v_bad = voltage_outside(vm, lim).any(axis=1)
    line_bad = overloaded(s.line_loading_pct, lim).any(axis=1)
    trafo_bad = overloaded(s.trafo_loading_pct, lim).any(axis=1)
    backflow = s.pcc_kw < 0.0
    v_min, v_min_bus = _argmax_name(vm, bus_names, lowest=True)
    v_max, v_max_bus = _argmax_name(vm, bus_names)
    l_max, l_name = _argmax_name(s.line_loading_pct, park.line_names)
    t_max, t_name = _argmax_name(s.trafo_loading_pct, park.trafo_names)
    export = np.clip(-s.pcc_kw, 0.0, None)
    ex = s.ext_grid_kw
    if dt_s is None:
        e_imp = e_exp = float("nan")
    else:
        h = dt_s / 3600.0
        e_imp = float(np.clip(ex, 0.0, None).sum() * h)
        e_exp = float(np.clip(-ex, 0.0, None).sum() * h)
    return LimitReport(
        enterprise_names=park.enterprise_names,
        v_band_pu=(float(lo), float(hi)),
        voltage_violation=v_bad,
        line_overload=line_bad,
        trafo_overload=trafo_bad,
        backflow=backflow,
        voltage_violation_steps=int(v_bad.sum()),
        v_min_pu=v_min,
        v_min_bus=v_min_bus,
        v_max_pu=v_max,
        v_max_bus=v_max_bus,
        line_overload_steps=int(line_bad.sum()),
        max_line_loading_pct=l_max,
        max_line=l_name,
        trafo_overload_steps=int(trafo_bad.sum()),
        max_trafo_loading_pct=t_max,
        max_trafo=t_name,
        backflow_steps=backflow.sum(axis=0).astype(np.int64),
        max_export_kw=export.max(axis=0) if export.shape[0] else np.zeros(export.shape[1]),
        exchange_max_import_kw=float(max(ex.max(), 0.0)),
        exchange_max_export_kw=float(max(-ex.min(), 0.0)),
        exchange_import_kwh=e_imp,
        exchange_export_kwh=e_exp,
    )
