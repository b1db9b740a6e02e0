"""`twin calibrate`: fit a unit type to a unit's measured series and write it as a file."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from parktwin.errors import InputError
from twin.cli.common import console, err_console, output_file


def calibrate(
    data: Path = typer.Argument(
        ..., help="A `twin unit test --out` folder, or a CSV/Parquet export of a BMS/SCADA."
    ),
    unit_type: str = typer.Option(
        ..., "--unit-type", help="Starting unit type: a shipped name or a unit-type .toml file."
    ),
    out: Path = typer.Option(..., "--out", help="The fitted unit type to write (.toml)."),
    name: str = typer.Option(
        None, "--name", help="Name of the fitted unit type (default: OUT's stem)."
    ),
    mapping: Path = typer.Option(None, "--mapping", help="Column mapping TOML of an export."),
    column: list[str] = typer.Option(
        [], "--column", help="CHANNEL=COLUMN[:UNIT] of an export (repeatable; over --mapping)."
    ),
    time_zone: str = typer.Option(None, "--time-zone", help="Time zone of naive time stamps."),
    sign: str = typer.Option(
        None, "--sign", help="charge_positive (default) or discharge_positive power in the export."
    ),
    holdout: float = typer.Option(
        None, "--holdout", help="Fraction of the time span, at the end, kept out of the fit (0.2)."
    ),
    figure: Path = typer.Option(None, "--figure", help="Before/after PNG (default: OUT.png)."),
    report: Path = typer.Option(None, "--report", help="Fit report JSON (default: OUT.fit.json)."),
) -> None:
    """Fit a unit type to measured data: PCS loss per direction, usable capacity (SOH), R0 and
    the RC branch, OCV hysteresis, self-discharge, cabin auxiliaries vs ambient temperature.

    The fit replays the measured power through the twin's own unit kernel (scipy least
    squares). Prints each parameter with its 95 % interval and identifiability, the RMSE of
    each channel before and after on the fit rows and on the hold-out (the last 20 % in time),
    and the energy error per cycle; writes OUT (a unit type `twin run` and the rest accept),
    a before/after figure and a JSON report.
    """
    from devices import load_unit_params
    from parktwin.files import write_json
    from twin.calibrate import calibrate as fit
    from twin.calibrate import load_mapping, load_measured
    from twin.calibrate.figures import write_fit_figure
    from twin.calibrate.report import report_dict
    from twin.calibrate.unitfile import write_unit_file

    if out.suffix != ".toml":
        raise InputError(f"--out {out}: a unit type is written as a .toml file")
    figure = figure or out.with_suffix(".png")
    report = report or out.with_suffix(".fit.json")
    for path, option in ((out, "--out"), (figure, "--figure"), (report, "--report")):
        output_file(path, option)
    base = load_unit_params(unit_type)
    if base.technology != "lfp":
        raise InputError(
            f"--unit-type {unit_type}: a {base.technology} unit; calibration fits LFP cabins"
            " (cells, PCS, cabin) only"
        )
    is_export = not (data.is_dir() or data.name == "timeseries.parquet")
    maps = load_mapping(mapping, column, time_zone, sign) if is_export else None
    m, _ = load_measured(data, base.pcs_kva, maps)
    for w in m.warnings:
        err_console.print(f"[yellow]warning:[/] {w}", highlight=False, soft_wrap=True)
    with console.status("fitting...") as status:
        c = fit(m, base, holdout, progress=lambda s: status.update(f"fitting: {s}..."))
    console.print(params_table(c))
    console.print(quality_table(c))
    if c.cycles:
        console.print(cycles_line(c))
    for w in c.warnings[len(m.warnings) :]:
        err_console.print(f"[yellow]warning:[/] {w}", highlight=False, soft_wrap=True)
    write_unit_file(out, c, name or out.stem)
    write_fit_figure(c, figure)
    write_json(report, report_dict(c))
    console.print(
        f"fit {c.fit_s:.1f} s over {c.n_fit_rows:,} rows; wrote {out}, {figure}, {report}"
    )


def _g(x: float, unit: str = "") -> str:
    import math

    return "n/a" if not math.isfinite(x) else f"{x:.4g}{unit}"


def params_table(c) -> Table:
    t = Table(title=f"fitted parameters (base {c.base.name})")
    for col in ("parameter", "base", "fitted", "+- 95 %", "status"):
        t.add_column(col, justify="left" if col in ("parameter", "status") else "right")
    for p in c.params:
        status = p.status if not p.note else f"{p.status}: {p.note}"
        t.add_row(f"{p.section}.{p.name}", _g(p.start), _g(p.value), _g(p.ci95), status)
    return t


def quality_table(c) -> Table:
    t = Table(
        title=f"RMSE, twin vs measured ({c.n_fit_rows:,} rows fitted, {c.n_holdout_rows:,} held out)"
    )
    for col in ("channel", "unit", "base", "fitted", "base hold-out", "fitted hold-out"):
        t.add_column(col, justify="left" if col in ("channel", "unit") else "right")
    for q in c.channels:
        t.add_row(
            q.channel, q.unit, _g(q.rmse_before), _g(q.rmse_after),
            _g(q.rmse_before_holdout), _g(q.rmse_after_holdout),
        )  # fmt: skip
    return t


def cycles_line(c) -> str:
    def worst(rows, attr):
        vals = [abs(getattr(r, attr)) / r.e_discharged_kwh for r in rows]
        return f"{100 * max(vals):.2f} %" if vals else "n/a"

    fit = [r for r in c.cycles if not r.holdout]
    hold = [r for r in c.cycles if r.holdout]
    return (
        f"energy error per cycle (of the energy discharged), worst: base {worst(fit, 'error_before_kwh')}, "
        f"fitted {worst(fit, 'error_after_kwh')}; hold-out: base {worst(hold, 'error_before_kwh')}, "
        f"fitted {worst(hold, 'error_after_kwh')} ({len(c.cycles)} cycles)"
    )
