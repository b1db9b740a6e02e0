"""Before/after figure of a calibration: voltage, power, temperature and energy error."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from twin.calibrate.fit import Calibration, cycle_ids
from twin.figures import _figure, _save


def write_fit_figure(c: Calibration, path: Path) -> Path:
    """One PNG, four panels against time [h]: DC voltage, auxiliary power, cabin temperature,
    the twin's stored-energy error (or, without SOC, its cumulative DC energy error), for the
    base unit type and the fitted one, driven by the measured AC power; the hold-out shaded."""
    m = c.data
    t_h = m.t_s / 3600.0
    fig = _figure((10, 10))
    axes = fig.subplots(4, 1, sharex=True)
    panels = (
        ("v_dc_v", "DC voltage [V]"),
        ("p_aux_kw", "auxiliary power [kW]"),
        ("temp_c", "cabin temperature [C]"),
    )
    for ax, (ch, label) in zip(axes[:3], panels, strict=True):
        meas = getattr(m, ch)
        if meas is not None:
            ax.plot(t_h, meas, color="black", lw=1.0, label="measured")
        ax.plot(t_h, getattr(c.before, ch), color="tab:red", lw=0.8, label=f"{c.base.name}")
        ax.plot(t_h, getattr(c.after, ch), color="tab:blue", lw=0.8, ls="--", label="fitted")
        ax.set_ylabel(label)
    ax = axes[3]
    if m.soc is not None:
        for rep, color, label, e in (
            (c.before, "tab:red", c.base.name, c.base.e_nom_kwh),
            (c.after, "tab:blue", "fitted", c.fitted.e_nom_kwh),
        ):
            ax.plot(t_h, (rep.soc - m.soc) * e, color=color, lw=1.0, label=label)
        ax.set_ylabel("stored energy error\n(SOC x nameplate) [kWh]")
    elif m.p_dc_kw is not None:
        dt_h = np.diff(m.t_s, prepend=m.t_s[0]) / 3600.0
        for rep, color, label in (
            (c.before, "tab:red", c.base.name),
            (c.after, "tab:blue", "fitted"),
        ):
            err = np.nan_to_num((rep.p_dc_kw - m.p_dc_kw) * dt_h)
            ax.plot(t_h, np.cumsum(err), color=color, lw=1.0, label=label)
        ax.set_ylabel("DC energy error,\ncumulative [kWh]")
    ids = cycle_ids(m)
    ax.set_xlabel(f"time [h] ({len(np.unique(ids))} cycles)")
    t_hold = t_h[c.n_fit_rows] if c.n_holdout_rows else None
    for a in axes:
        if t_hold is not None:
            a.axvspan(t_hold, t_h[-1], color="0.9", zorder=0)
        a.grid(alpha=0.3)
    axes[0].legend(loc="best", fontsize=8)
    axes[0].set_title(f"twin calibrate: {m.source} (hold-out shaded)")
    _save(fig, path)
    return path
