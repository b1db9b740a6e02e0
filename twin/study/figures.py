"""The study's figures: savings against grid margin, NPV by size, hosting capacity per feeder,
and with samples a fan chart of each ranked candidate's cumulative discounted cash flow."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from parktwin.files import atomic_path

if TYPE_CHECKING:
    from twin.study.runner import StudyResult


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
    return path


def _ok(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty or "status" not in frame:
        return frame.iloc[0:0]
    return frame[frame["status"] == "ok"]


def savings_vs_margin(results: pd.DataFrame, path: Path) -> Path | None:
    """Each candidate: savings per year against its grid margin; flagged ones as crosses."""
    import matplotlib.pyplot as plt

    ok = _ok(results)
    if ok.empty:
        return None
    fig, ax = plt.subplots(figsize=(8, 5))
    cmap = plt.get_cmap("tab20")
    for i, (ent, g) in enumerate(ok.groupby("enterprise", sort=True)):
        good = g[g["grid_ok"].astype(bool)]
        bad = g[~g["grid_ok"].astype(bool)]
        color = cmap(i % 20)
        ax.scatter(
            good["grid_margin_pct"],
            good["savings_yuan_per_year"] / 1e6,
            color=color,
            label=ent,
            s=40,
            edgecolor="k",
            linewidth=0.4,
        )
        ax.scatter(
            bad["grid_margin_pct"],
            bad["savings_yuan_per_year"] / 1e6,
            color=color,
            marker="x",
            s=50,
        )
    ax.axvline(0.0, color="r", lw=1, ls="--")
    ax.text(0.0, 1.0, " limit", color="r", transform=ax.get_xaxis_transform(), va="top")
    ax.set_xlabel("grid margin [% of the tightest limit's allowance] (x: a limit is broken)")
    ax.set_ylabel("added savings [M yuan/yr]")
    ax.set_title("Savings against grid margin, per candidate")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="best")
    out = _save(fig, path)
    plt.close(fig)
    return out


def npv_by_size(results: pd.DataFrame, path: Path) -> Path | None:
    """NPV against energy added, one marker per strategy, colour by PCS C-rate."""
    import matplotlib.pyplot as plt

    ok = _ok(results)
    if ok.empty:
        return None
    fig, ax = plt.subplots(figsize=(8, 5))
    markers = "osD^v<>P*"
    c_rate = ok["p_kw"] / ok["e_kwh"].where(ok["e_kwh"] > 0)
    vmin, vmax = float(np.nanmin(c_rate)), float(np.nanmax(c_rate))
    for i, (strategy, g) in enumerate(ok.groupby("strategy", sort=True)):
        sc = ax.scatter(
            g["e_kwh"] / 1000.0,
            g["npv_yuan"] / 1e6,
            c=c_rate[g.index],
            cmap="viridis",
            vmin=vmin,
            vmax=vmax if vmax > vmin else vmin + 1e-3,
            marker=markers[i % len(markers)],
            s=45,
            edgecolor="k",
            linewidth=0.4,
            label=strategy,
        )
    fig.colorbar(sc, ax=ax, label="PCS power / energy [1/h]")
    best = ok.sort_values("npv_yuan", ascending=False).head(5)
    for _, r in best.iterrows():
        ax.annotate(
            r["enterprise"],
            (r["e_kwh"] / 1000.0, r["npv_yuan"] / 1e6),
            fontsize=7,
            xytext=(4, 2),
            textcoords="offset points",
        )
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_xlabel("storage added [MWh nameplate]")
    ax.set_ylabel("NPV [M yuan]")
    ax.set_title("NPV by size (marker: strategy)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    out = _save(fig, path)
    plt.close(fig)
    return out


def hosting_capacity(hosting: pd.DataFrame, path: Path) -> Path | None:
    """Hosting capacity [MWh] of each enterprise bus, grouped and coloured by feeder."""
    import matplotlib.pyplot as plt

    ok = _ok(hosting)
    if ok.empty:
        return None
    ok = ok.sort_values(["feeder", "enterprise"])
    feeders = list(dict.fromkeys(ok["feeder"]))
    cmap = plt.get_cmap("tab10")
    colors = [cmap(feeders.index(f) % 10) for f in ok["feeder"]]
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(ok) + 1.5))
    y = np.arange(len(ok))
    at_least = ok["at_least"].astype(bool).to_numpy()
    ax.barh(
        y,
        ok["hosting_mwh"],
        color=colors,
        edgecolor="k",
        linewidth=0.4,
        hatch=["//" if a else "" for a in at_least],
    )
    for yi, (mwh, mw, a) in enumerate(
        zip(ok["hosting_mwh"], ok["hosting_mw"], at_least, strict=True)
    ):
        ax.text(
            mwh, yi, f" {'>=' if a else ''}{mwh:.1f} MWh / {mw:.1f} MW", va="center", fontsize=7
        )
    ax.set_yticks(
        y, [f"{f}  {e}" for f, e in zip(ok["feeder"], ok["enterprise"], strict=True)], fontsize=7
    )
    ax.invert_yaxis()
    ax.set_xlabel("largest storage with no limit broken [MWh] (hatched: the whole range passed)")
    ax.set_title("Hosting capacity per enterprise bus, by feeder")
    ax.grid(axis="x", alpha=0.3)
    xmax = float(ok["hosting_mwh"].max()) if len(ok) else 1.0
    ax.set_xlim(0, max(xmax * 1.45, 1.0) if math.isfinite(xmax) else 1.0)
    out = _save(fig, path)
    plt.close(fig)
    return out


def npv_fans(
    spread: pd.DataFrame,
    samples: pd.DataFrame,
    labels: dict[str, str],
    discount_rate: float,
    path: Path,
    top: int = 12,
) -> Path | None:
    """One panel per ranked candidate (the first `top`): its cumulative discounted cash flow
    at the end of each year over its samples, P10..P90 shaded, P50 drawn; where the P50
    crosses zero is its discounted payback, the last year's value its NPV."""
    import matplotlib.pyplot as plt

    from twin.study.samples import fan

    if spread.empty or samples.empty:
        return None
    keys = list(spread["key"])[:top]
    n = len(keys)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(4.2 * cols, 3.1 * rows), squeeze=False, sharex=True
    )
    for i, key in enumerate(keys):
        ax = axes[i // cols][i % cols]
        got = fan(samples, key, discount_rate)
        if got is None:
            ax.set_visible(False)
            continue
        years, p = got
        ax.fill_between(years, p[0] / 1e6, p[2] / 1e6, color="tab:blue", alpha=0.25,
                        label="P10..P90")  # fmt: skip
        ax.plot(years, p[1] / 1e6, color="tab:blue", lw=1.6, label="P50")
        ax.axhline(0.0, color="k", lw=0.8)
        ax.set_title(textwrap.fill(f"#{i + 1} {labels.get(key, key)}", 50), fontsize=8)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
        if i % cols == 0:
            ax.set_ylabel("cum. disc. cash flow [M yuan]", fontsize=7)
        if i == 0:
            ax.legend(fontsize=7, loc="upper left")
    for j in range(n, rows * cols):
        axes[j // cols][j % cols].set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("year", fontsize=7)
    n_samples = int(spread["samples"].max())
    fig.suptitle(
        f"Cumulative discounted cash flow per ranked candidate ({n_samples} samples; "
        f"the end value is the NPV)",
        fontsize=10,
    )
    fig.tight_layout()
    out = _save(fig, path)
    plt.close(fig)
    return out


def write_figures(
    result: StudyResult, feeders: dict[str, str] | None = None, discount_rate: float = 0.0
) -> list[Path]:
    """The figures into the study's folder; those without data are skipped. The fan chart
    (with samples) discounts at `discount_rate` [1/yr]."""
    import matplotlib

    matplotlib.use("Agg")
    out = result.out_dir
    made = [
        savings_vs_margin(result.results, out / "savings_vs_grid_margin.png"),
        npv_by_size(result.results, out / "npv_by_size.png"),
        hosting_capacity(result.hosting, out / "hosting_capacity.png"),
    ]
    if not result.spread.empty:
        r = result.results
        flags = r["grid_flags"].fillna("").astype(str)
        grid_ok = r["grid_ok"].astype("boolean").fillna(False).astype(bool)
        labels = {
            k: label if ok else f"{label} [grid: {f}]"
            for k, label, ok, f in zip(r["key"], r["label"], grid_ok, flags, strict=True)
        }
        made.append(
            npv_fans(result.spread, result.samples, labels, discount_rate, out / "npv_fan.png")
        )
    return [p for p in made if p is not None]
