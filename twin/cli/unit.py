"""`twin unit`: the storage unit on its own (acceptance test as at commissioning)."""

from __future__ import annotations

from pathlib import Path

import typer
from pydantic import ValidationError
from rich.table import Table

from parktwin.errors import InputError
from twin.cli.common import console, output_dir

STEP_BYTES = 15 * 40.0
"""Memory per recorded step of the unit test: 15 columns, each a Python float in a list
(24 bytes + an 8-byte slot) and, at the end, in an array (8 bytes)."""

app = typer.Typer(
    help="Storage-unit physics: the acceptance test of one unit (battery cabin + PCS).",
    no_args_is_help=True,
)

_OPTION = {
    "unit_type": "--unit-type",
    "dt_s": "--dt",
    "power_kw": "--power-kw",
    "cycles": "--cycles",
    "ambient_c": "--ambient-c",
    "years": "--years",
    "rest_s": "--rest-s",
    "pcs_kva": "--pcs-kva",
}


@app.command("test")
def test_cmd(
    unit_type: str = typer.Option(
        "lfp280-2236kwh",
        "--unit-type",
        help="Shipped unit type or the path of a unit-type .toml file.",
    ),
    dt: float = typer.Option(1.0, "--dt", help="Time step [s] (0 < dt <= 900)."),
    power_kw: float = typer.Option(None, "--power-kw", help="Test power [kW]; default rated."),
    cycles: int = typer.Option(3, "--cycles", help="Charge/discharge cycles (GB/T 36548: 3)."),
    ambient_c: float = typer.Option(25.0, "--ambient-c", help="Ambient temperature [C]."),
    years: int = typer.Option(0, "--years", help="Also age the unit this many years (SOH/yr)."),
    rest_s: float = typer.Option(600.0, "--rest-s", help="Rest after each phase [s]."),
    pcs_kva: float = typer.Option(None, "--pcs-kva", help="Override the PCS rating [kVA]."),
    out: Path = typer.Option(None, "--out", help="Write summary.json + timeseries.parquet here."),
    max_memory: float = typer.Option(
        2.0, "--max-memory", help="Refuse a test estimated to need more memory than this [GB]."
    ),
) -> None:
    """Charge at rated power from the SOC floor to full, rest, discharge to empty, rest; N cycles.

    Prints charged/discharged AC and DC energy, round-trip efficiency with and without
    auxiliaries and the losses by cause (GB/T 36548 style).
    """
    from devices.acceptance import AcceptanceConfig, run_acceptance, write_results
    from parktwin.files import staged_dir

    options = {
        "unit_type": unit_type,
        "dt_s": dt,
        "power_kw": power_kw,
        "cycles": cycles,
        "ambient_c": ambient_c,
        "years": years,
        "rest_s": rest_s,
        "pcs_kva": pcs_kva,
    }
    try:
        cfg = AcceptanceConfig(**options)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        name = _OPTION.get(str(err["loc"][0]), str(err["loc"][0])) if err["loc"] else "option"
        got = options.get(str(err["loc"][0])) if err["loc"] else None
        raise InputError(f"{name}: {err['msg']} (got {got!r})") from exc
    steps = _expected_steps(cfg)
    need = steps * STEP_BYTES
    if need > max_memory * 1e9:
        dt_ok = cfg.dt_s * need / (max_memory * 1e9)
        raise InputError(
            f"--dt {cfg.dt_s:g}: about {steps:,.0f} steps recorded, {need / 1e9:,.1f} GB of memory"
            f" (limit {max_memory:g} GB, --max-memory); use --dt {_round_up(dt_ok):g} or more,"
            " or fewer --cycles"
        )
    if out is not None:
        output_dir(out, "--out", need_bytes=steps * 15 * 8.0)
    with console.status(f"running the unit test ({steps:,.0f} steps of {cfg.dt_s:g} s)..."):
        summary, series = run_acceptance(cfg)
    console.print(summary_table(summary))
    if len(summary["per_cycle"]) > 1:
        console.print(cycles_table(summary["per_cycle"]))
    if summary.get("aging"):
        console.print(aging_table(summary["aging"], summary.get("technology", "lfp")))
    if out is not None:
        with staged_dir(out) as stage:
            names = [
                p.name for p in write_results(stage, {**summary, "run": _identity(cfg)}, series)
            ]
        console.print("wrote " + ", ".join(str(out / n) for n in names))


def _identity(cfg) -> dict:
    """What names the test in its summary.json: the options' hash and ParkTwin's version."""
    import hashlib
    import json
    from importlib.metadata import PackageNotFoundError, version

    text = json.dumps(cfg.model_dump(mode="json"), sort_keys=True)
    try:
        ours = version("parktwin")
    except PackageNotFoundError:
        ours = "unknown"
    return {"config_sha256": hashlib.sha256(text.encode()).hexdigest(), "version": ours}


def _expected_steps(cfg) -> float:
    """Steps the test will record: per cycle a charge and a discharge of about the SOC
    window's energy at the test power, and two rests."""
    from devices import load_unit_params

    p = load_unit_params(cfg.unit_type, pcs_kva=cfg.pcs_kva)
    power = p.p_max_kw if cfg.power_kw is None else cfg.power_kw
    e_window = (p.soc_max - p.soc_min) * p.e_nom_kwh
    per_cycle_s = 2.0 * e_window / max(power, 1e-9) * 3600.0 + 2.0 * cfg.rest_s
    return cfg.cycles * per_cycle_s / cfg.dt_s


def _round_up(dt_s: float) -> float:
    """The next step of 1, 2, 5 x 10^k at or above `dt_s`."""
    import math

    k = math.floor(math.log10(dt_s))
    for m in (1, 2, 5, 10):
        if m * 10.0**k >= dt_s * (1 - 1e-12):
            return m * 10.0**k
    return 10.0 ** (k + 1)


def summary_table(s: dict) -> Table:
    """The acceptance table: energies, efficiencies, losses by cause."""
    t = Table(
        title=(
            f"unit test: {s['unit_type']} ({s['e_nom_kwh']:.0f} kWh, "
            f"{'machines' if s.get('technology') == 'caes' else 'PCS'} {s['pcs_kva']:.0f} kVA), "
            f"{s['cycles']} cycles at {s['power_kw']:.0f} kW, dt {s['dt_s']:g} s, "
            f"ambient {s['ambient_c']:g} C"
        ),
        show_header=True,
    )
    t.add_column("quantity")
    t.add_column("value", justify="right")
    t.add_column("unit")
    caes = s.get("technology") == "caes"
    dc = "shaft" if caes else "DC"
    rows = [
        ("charged AC (import at PCS terminals)", s["charged_ac_kwh"], "kWh"),
        ("discharged AC", s["discharged_ac_kwh"], "kWh"),
        (
            f"charged {dc} (into the {'compressor' if caes else 'battery'})",
            s["charged_dc_kwh"],
            "kWh",
        ),
        (f"discharged {dc}", s["discharged_dc_kwh"], "kWh"),
        ("usable energy AC per cycle", s["usable_energy_kwh"], "kWh"),
        ("round trip AC, without auxiliaries", 100 * s["rte_ac"], "%"),
        ("round trip AC, with auxiliaries", 100 * s["rte_ac_with_aux"], "%"),
        (f"round trip {dc}", 100 * s["rte_dc"], "%"),
    ]
    if caes:
        rows += [
            ("loss motor + generator", s["loss_motor_generator_kwh"], "kWh"),
            ("loss compression (incl. heat rejected)", s["loss_compression_kwh"], "kWh"),
            ("loss expansion (incl. throttle, exhaust)", s["loss_expansion_kwh"], "kWh"),
            ("loss air leakage", s["loss_air_leak_kwh"], "kWh"),
            ("loss thermal store", s["loss_thermal_store_kwh"], "kWh"),
            ("auxiliaries (pumps, controls)", s["aux_kwh"], "kWh"),
            ("change of stored exergy", s["delta_stored_kwh"], "kWh"),
        ]
    else:
        rows += [
            ("loss PCS", s["loss_pcs_kwh"], "kWh"),
            ("loss battery, ohmic", s["loss_battery_ohmic_kwh"], "kWh"),
            ("loss battery, polarisation + hysteresis", s["loss_battery_polarisation_kwh"], "kWh"),
            ("loss battery, coulombic", s["loss_battery_coulombic_kwh"], "kWh"),
            ("loss battery, self-discharge", s["loss_battery_self_discharge_kwh"], "kWh"),
            ("auxiliaries, HVAC", s["aux_hvac_kwh"], "kWh"),
            ("auxiliaries, BMS/EMS", s["aux_bms_ems_kwh"], "kWh"),
        ]
    rows += [
        ("energy balance residual", s["energy_balance_residual_kwh"], "kWh"),
        ("peak air-store temperature" if caes else "peak cell temperature", s["temp_max_c"], "C"),
        ("duration", s["duration_h"], "h"),
    ]
    for name, value, unit in rows:
        fmt = f"{value:.2e}" if name.startswith("energy balance") else f"{value:,.1f}"
        t.add_row(name, fmt, unit)
    return t


def cycles_table(rows: list[dict]) -> Table:
    """One row per charge/discharge cycle (the standard averages them)."""
    t = Table(title="per cycle")
    for col in ("cycle", "charged AC kWh", "discharged AC kWh", "RTE AC %", "RTE AC+aux %"):
        t.add_column(col, justify="right")
    for n, r in enumerate(rows, start=1):
        t.add_row(
            str(n),
            f"{r['charged_ac_kwh']:,.1f}",
            f"{r['discharged_ac_kwh']:,.1f}",
            f"{100 * r['rte_ac']:.2f}",
            f"{100 * r['rte_ac_with_aux']:.2f}",
        )
    return t


def aging_table(rows: list[dict], technology: str = "lfp") -> Table:
    """SOH per year of the repeated daily profile."""
    model = (
        "compressed air: no cell fade" if technology == "caes" else "BLAST-Lite LFP 250 Ah model"
    )
    t = Table(title=f"aging: two charges + two discharges a day ({model})")
    for col in ("year", "SOH", "EFC", "R / R_new", "discharged AC MWh", "RTE AC %"):
        t.add_column(col, justify="right")
    for r in rows:
        t.add_row(
            str(r["year"]),
            f"{r['soh']:.4f}",
            f"{r['efc']:.0f}",
            f"{r['resistance_factor']:.3f}",
            f"{r['discharged_ac_mwh']:.0f}",
            f"{100 * r['rte_ac']:.1f}",
        )
    return t
