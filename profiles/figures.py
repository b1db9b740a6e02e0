"""Figures of profiles (matplotlib, headless, written atomically)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from parktwin.files import atomic_path
from profiles.site_profiles import EnterpriseProfile
from profiles.timebase import to_local


def plot_profiles(
    profiles: Sequence[EnterpriseProfile],
    start: dt.date | dt.datetime,
    step_s: float,
    path: str | Path,
    title: str = "",
) -> Path:
    """Load (stacked by enterprise) and PV of a site over the window, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = profiles[0].load_kw.size if profiles else 0
    t0 = to_local(start)
    times = [t0 + dt.timedelta(seconds=k * step_s) for k in range(n)]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(13, 7), sharex=True, height_ratios=[3, 2])
    if profiles:
        ax1.stackplot(
            times,
            np.array([p.load_kw for p in profiles]) / 1000.0,
            labels=[p.name for p in profiles],
            step="post",
        )
        pv = np.sum([p.pv_kw for p in profiles], axis=0) / 1000.0
        net = np.sum([p.net_kw for p in profiles], axis=0) / 1000.0
        ax2.step(times, pv, where="post", color="tab:orange", label="PV")
        ax2.step(times, net, where="post", color="tab:blue", label="park net import (load - PV)")
    ax1.set_ylabel("load [MW]")
    if profiles:
        ax1.legend(
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            fontsize=7,
            ncol=1 if len(profiles) < 15 else 2,
        )
    ax1.set_title(title or "Enterprise loads and rooftop PV (local time, Asia/Shanghai)")
    ax2.set_ylabel("[MW]")
    ax2.legend(loc="upper left", fontsize=8)
    ax2.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path
