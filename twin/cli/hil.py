"""`twin hil`: the Modbus bench: serve the twin, drive a real PCS, verify a controller."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from parktwin.config import validate
from parktwin.errors import InputError
from twin.cli.common import (
    check_listen_address,
    check_range,
    check_seed,
    console,
    output_dir,
    output_file,
)

if TYPE_CHECKING:
    from hil.bench import Bench
    from hil.dashboard import Dashboard

app = typer.Typer(
    help="HIL bench: emulated SunSpec/vendor Modbus devices backed by the twin, a safe "
    "driver for real PCS units, and verdicts on a controller.",
    no_args_is_help=True,
)


def _bench_config(**kw):
    from hil.bench import BenchConfig

    return validate(kw, BenchConfig, "twin hil")


@app.command("serve")
def serve_cmd(
    port: int = typer.Option(5020, "--port", help="TCP port (0: any free port)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback by default)."),
    allow_remote: bool = typer.Option(False, "--allow-remote", help="Allow binding off loopback."),
    speed: float = typer.Option(1.0, "--speed", help="Simulated seconds per real second."),
    scenario: Path = typer.Option(
        None, "--scenario", help="Scenario TOML (default: the built-in park, all storage)."
    ),
    step: float = typer.Option(0.2, "--step", help="Plant step [s] (0.1 .. 1)."),
    days: int = typer.Option(1, "--days", help="Days the plant can run."),
    duration: float = typer.Option(
        None, "--duration", help="Stop after this many simulated seconds."
    ),
    watchdog: float = typer.Option(
        10.0, "--watchdog", help="Revert after this many seconds without a write (0: off)."
    ),
    fallback_kw: float = typer.Option(
        0.0, "--fallback-kw", help="Power a silent unit reverts to [kW, + charging]."
    ),
    vendor_map: Path = typer.Option(
        None, "--vendor-map", help="Vendor register list TOML (default: shipped PCS map)."
    ),
    fault: list[str] = typer.Option(
        None, "--fault", help="KIND:TARGET@AT[+DURATION][=VALUE], repeatable."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of meter noise."),
    rtu: str = typer.Option(
        None,
        "--rtu",
        help="Also serve Modbus RTU on this serial port (e.g. /dev/ttyUSB0, or a pty of socat).",
    ),
    baudrate: int = typer.Option(9600, "--baudrate", help="RTU baud rate."),
    parity: str = typer.Option("N", "--parity", help="RTU parity: N, E or O (8 data bits)."),
    stopbits: int = typer.Option(1, "--stopbits", help="RTU stop bits: 1 or 2."),
    dashboard: bool = typer.Option(False, "--dashboard", help="Serve the live page too."),
    http_port: int = typer.Option(8020, "--http-port", help="Dashboard port (0: any free)."),
    http_host: str = typer.Option(
        "127.0.0.1", "--http-host", help="Dashboard address (loopback by default)."
    ),
    http_allow_remote: bool = typer.Option(
        False, "--http-allow-remote", help="Allow the dashboard off loopback (warns)."
    ),
    allow_faults: bool = typer.Option(
        False, "--allow-faults", help="Let the dashboard inject faults (with the printed token)."
    ),
) -> None:
    """Run the twin's plant in wall-clock time and serve every unit and meter over Modbus TCP
    (and RTU with --rtu); with --dashboard, a live page in the browser.

    Unit ids: storage units 1..N (SunSpec at 40000, vendor map at 4096..), meters 101..
    (SunSpec 1 + 213), site information 200. Stop with Ctrl-C.
    """
    from hil.faults import parse_fault
    from hil.serve import serve
    from twin.hil_plant import bench_scenario, serve_bench
    from twin.scenario import load_scenario

    if not 0.1 <= step <= 1.0:
        raise InputError(f"--step: expected 0.1 .. 1 s, got {step}")
    if speed <= 0:
        raise InputError(f"--speed: must be > 0, got {speed}")
    if rtu is not None and "://" not in rtu and not Path(rtu).exists():
        raise InputError(f"--rtu: no serial port {rtu}")
    check_range(duration, "--duration", 0.0, 366 * 86400.0, " s", above=True)
    check_range(days, "--days", 1, 366)
    check_range(watchdog, "--watchdog", 0.0, 86400.0, " s")
    check_seed(seed)
    check_listen_address(host, port, allow_remote)
    _check_dashboard(dashboard, http_host, http_port, http_allow_remote, allow_faults)
    config = _bench_config(
        host=host,
        port=port,
        allow_remote=allow_remote,
        watchdog_s=watchdog,
        fallback_kw=fallback_kw,
        vendor_map=vendor_map,
        faults=[parse_fault(f) for f in fault or []],
        seed=seed,
        rtu=None
        if rtu is None
        else {"port": rtu, "baudrate": baudrate, "parity": parity, "stopbits": stopbits},
    )
    sc = bench_scenario(load_scenario(scenario) if scenario else None, step_s=step, days=days)
    bench = _ready_bench(lambda: serve_bench(sc, config, speed))

    def ready(bench, bound: int) -> None:
        from hil.bench import METER_ID_FIRST, SITE_ID, UNIT_ID_FIRST

        t = Table("unit id", "device", "registers", title=f"Modbus TCP {host}:{bound}")
        for i, u in enumerate(bench.units):
            t.add_row(
                str(UNIT_ID_FIRST + i),
                f"{u.name} ({u.r.unit_type})",
                "SunSpec 1/701/702/704/713/802 @40000; vendor map @4096",
            )
        for j, m in enumerate(bench.meters):
            t.add_row(str(METER_ID_FIRST + j), f"PCC meter {m.name}", "SunSpec 1/213 @40000")
        t.add_row(str(SITE_ID), "site information", "clock, tariff period, price, limits @0")
        console.print(t)
        if config.rtu is not None:
            r = config.rtu
            console.print(
                f"Modbus RTU on {r.port}, {r.baudrate} Bd 8{r.parity}{r.stopbits}: the same unit "
                "ids, each a device on the bus"
            )
        console.print(
            f"plant at {speed:g}x wall clock, step {step:g} s; watchdog {watchdog:g} s. Ctrl-C stops."
        )
        if page is not None:
            _start_dashboard(page)

    page = _dashboard(bench, dashboard, http_host, http_port, allow_faults)
    try:
        summary = serve(bench, duration, ready)
    finally:
        if page is not None:
            page.stop()
    console.print(
        f"served {summary.t_s:.0f} s of plant time; {summary.writes} writes accepted, "
        f"{summary.rejected} refused, {summary.reverts} watchdog reverts; "
        f"max lag {summary.max_lag_s:.3f} s"
    )


def _check_dashboard(
    on: bool, host: str, port: int, allow_remote: bool, allow_faults: bool
) -> None:
    if not on:
        if allow_faults:
            raise InputError("--allow-faults: only with --dashboard (faults come from its page)")
        return
    check_listen_address(
        host, port, allow_remote, ("--http-host", "--http-port", "--http-allow-remote")
    )


def _dashboard(
    bench: Bench, on: bool, host: str, port: int, allow_faults: bool
) -> Dashboard | None:
    """The bench's live page (its step hook in place before the plant runs), or None."""
    if not on:
        return None
    from hil.dashboard import Dashboard

    return Dashboard(bench, host=host, port=port, allow_faults=allow_faults)


def _start_dashboard(page: Dashboard) -> None:
    from twin.cli.common import LOOPBACK

    page.start()
    console.print(f"dashboard {page.url}")
    if page.host not in LOOPBACK:
        console.print(
            f"[bold yellow]warning:[/] the dashboard listens on {page.host}, off this machine's"
            " loopback: anyone who reaches it sees the bench"
        )
    if page.allow_faults:
        console.print(f"faults from the page are allowed with the token {page.token}")


def _ready_bench(build: Callable[[], Bench]) -> Bench:
    """Build the bench and ready its plant (kernels compiled, first step taken) under a
    spinner: the port opens only once every register holds a measurement."""
    with console.status(
        "building the park, compiling the kernels and taking the first step"
        " (the first run after an install compiles for a few minutes)"
    ):
        bench = build()
        bench.plant.prepare()
    return bench


@app.command("drive")
def drive_cmd(
    map_file: Path = typer.Option(
        None, "--map", help="Vendor register list TOML (default: shipped PCS map)."
    ),
    host: str = typer.Option(None, "--host", help="Modbus TCP host."),
    port: int = typer.Option(502, "--port", help="Modbus TCP port."),
    serial: str = typer.Option(
        None, "--serial", help="Serial port for Modbus RTU (instead of --host)."
    ),
    baudrate: int = typer.Option(9600, "--baudrate", help="RTU baud rate."),
    parity: str = typer.Option("N", "--parity", help="RTU parity: N, E or O."),
    unit_id: int = typer.Option(1, "--unit-id", help="Modbus unit id of the PCS."),
    strategy: str = typer.Option(
        "idle", "--strategy", help="idle, hold:KW, tou, peak_shaving, lp or module:Class."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Log every write, send none."),
    p_max_kw: float = typer.Option(
        None, "--p-max-kw", help="Setpoint limit [kW] (narrows the device's rating)."
    ),
    e_nom_kwh: float = typer.Option(
        None, "--e-nom-kwh", help="Unit energy [kWh] if the map has none."
    ),
    ramp: float = typer.Option(100.0, "--ramp", help="Ramp limit [kW/s]."),
    soc_min: float = typer.Option(0.10, "--soc-min", help="No discharge at or below this SOC."),
    soc_max: float = typer.Option(0.90, "--soc-max", help="No charge at or above this SOC."),
    period: float = typer.Option(1.0, "--period", help="Control period [s]."),
    duration: float = typer.Option(None, "--duration", help="Stop after this many seconds."),
    allow: str = typer.Option(
        "p_set,heartbeat,run_cmd", "--allow", help="Writable points (comma-separated)."
    ),
    comm_timeout: float = typer.Option(
        5.0, "--comm-timeout", help="Stop (P=0) after a link loss this long [s]."
    ),
) -> None:
    """Command one PCS with a twin strategy inside the safety envelope (try --dry-run first)."""
    import logging

    from hil.driver import DriverConfig, drive
    from twin.hil_decider import twin_decider

    cfg = validate(
        {
            "map": map_file,
            "host": host,
            "port": port,
            "serial": serial,
            "baudrate": baudrate,
            "parity": parity,
            "unit_id": unit_id,
            "strategy": strategy,
            "dry_run": dry_run,
            "p_max_kw": p_max_kw,
            "e_nom_kwh": e_nom_kwh,
            "ramp_kw_per_s": ramp,
            "soc_min": soc_min,
            "soc_max": soc_max,
            "period_s": period,
            "duration_s": duration,
            "allow": tuple(a for a in allow.split(",") if a),
            "comm_timeout_s": comm_timeout,
        },
        DriverConfig,
        "twin hil drive",
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    out = drive(cfg, strategies=twin_decider)
    sent = sum(1 for *_, s in out.writes if s)
    console.print(
        f"{len(out.writes)} writes ({sent} sent{', dry run' if dry_run else ''}), "
        f"{out.clamps} clamped by the envelope, {out.reconnects} reconnects"
        + (f"; stopped: {out.stopped}" if out.stopped else "")
    )
    if out.stopped:
        raise typer.Exit(5)


@app.command("verify")
def verify_cmd(
    controller: str = typer.Option(
        ..., "--controller", help='Command that starts the controller, e.g. "python my_ems.py".'
    ),
    scenario: Path = typer.Option(
        None, "--scenario", help="Verify scenario TOML (default: the shipped compressed day)."
    ),
    speed: float = typer.Option(
        None, "--speed", help="Override the scenario's speed (simulated s per real s)."
    ),
    junit: Path = typer.Option(None, "--junit", help="Write the verdicts as JUnit XML here."),
    out: Path = typer.Option(
        Path("hil-verify"),
        "--out",
        help="Folder for report.html, verdicts.json, trace.parquet, run.png, controller.log"
        " (and compare.json, compare.csv with --compare-offline).",
    ),
    dashboard: bool = typer.Option(False, "--dashboard", help="Serve the live page while it runs."),
    http_port: int = typer.Option(8020, "--http-port", help="Dashboard port (0: any free)."),
    http_host: str = typer.Option(
        "127.0.0.1", "--http-host", help="Dashboard address (loopback by default)."
    ),
    http_allow_remote: bool = typer.Option(
        False, "--http-allow-remote", help="Allow the dashboard off loopback (warns)."
    ),
    compare_offline: bool = typer.Option(
        False,
        "--compare-offline",
        help="Replay the controller's setpoints through the offline twin and run the twin's "
        "own strategy on the same day: compare.json/csv and a report section.",
    ),
    reference: str = typer.Option(
        None,
        "--reference",
        help="The twin's strategy to compare against: tou, peak_shaving or lp "
        "(default: the scenario's reference_strategy).",
    ),
) -> None:
    """Serve a compressed day, run the controller against it, and judge each requirement.

    The controller gets PARKTWIN_HIL_HOST/PORT/UNITS/METER/SITE in its environment, and
    {host} {port} {units} {meter} {site} in its command are filled in. Exit code 0 only
    if every requirement passes (the offline comparison informs, it does not judge).
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from hil.verify import load_verify_spec, run_verify
    from parktwin.files import staged_dir
    from twin.hil_plant import engine_plant, verify_scenario

    spec = load_verify_spec(scenario)
    if speed is not None:
        if not 0 < speed <= 100:
            raise InputError(f"--speed: expected 0 < speed <= 100, got {speed}")
        spec = spec.model_copy(update={"speed": speed})
    output_dir(out, "--out")
    _check_dashboard(dashboard, http_host, http_port, http_allow_remote, False)
    if reference is not None and not compare_offline:
        raise InputError("--reference: only with --compare-offline")
    if compare_offline:
        from twin.hil_compare import reference_name

        reference_name(spec, reference)  # a bad name fails before the park is built
    if junit is not None:
        output_file(junit, "--junit")
    with console.status(
        "building the park, compiling the kernels and taking the first step"
        " (the first run after an install compiles for a few minutes)"
    ):
        plant = engine_plant(verify_scenario(spec), spec.speed)
        plant.prepare()
    compare = None
    if compare_offline:
        from twin.hil_compare import compare_hook

        compare = compare_hook(spec, plant, reference)
    with Progress(
        TextColumn("verify"),
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f} s"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("run", total=spec.duration_s)
        with staged_dir(out) as stage:  # the folder is replaced whole, at the end

            def on_bench(bench: Bench) -> Callable[[], None]:
                page = _dashboard(bench, dashboard, http_host, http_port, False)
                if page is None:
                    return lambda: None
                _start_dashboard(page)
                return page.stop

            result = run_verify(
                spec,
                controller,
                stage,
                plant,
                junit,
                lambda t_s: bar.update(task, completed=t_s),
                on_bench,
                compare,
            )
    t = Table("requirement", "verdict", "evidence", title=f"HIL verify: {controller}")
    for v in result.verdicts:
        mark = {"pass": "[green]PASS[/]", "fail": "[bold red]FAIL[/]"}.get(
            v.status, "[bold red]NOT EXERCISED[/]"
        )
        t.add_row(v.requirement, mark, v.evidence)
    console.print(t)
    if result.compare_error:
        console.print(f"[bold yellow]offline versus bench not made:[/] {result.compare_error}")
    if result.comparison is not None:
        c = result.comparison
        earn = c.earns_yuan
        console.print(
            f"offline versus bench: {c.replay.summary()}; against the twin's"
            f" {c.reference_strategy} the controller {'earns' if earn >= 0 else 'costs'}"
            f" {abs(earn):.2f} yuan (compare.json, compare.csv)"
        )
    console.print(
        f"report {out / 'report.html'}; outputs in {out}" + (f", JUnit {junit}" if junit else "")
    )
    if not result.passed:
        raise typer.Exit(1)


@app.command("map")
def map_cmd(
    kind: str = typer.Argument("vendor", help="unit (SunSpec), meter (SunSpec) or vendor."),
    map_file: Path = typer.Option(None, "--map", help="Vendor register list TOML (kind vendor)."),
) -> None:
    """Print a register map: address, point, type, scale, unit, access, bound quantity."""
    from hil import sunspec
    from hil.emulated import UNIT_WRITABLE
    from hil.vendor import load_vendor_file, vendor_map

    ratings = {
        "p_max_kw": 1118.0,
        "s_max_kva": 1250.0,
        "q_max_kvar": 400.0,
        "hundred": 100.0,
        "revert_max_s": 3600.0,
    }
    if kind in ("unit", "meter"):
        writable = UNIT_WRITABLE if kind == "unit" else frozenset()
        regmap, _ = sunspec.device_map(kind, ratings, writable=writable)
    elif kind == "vendor":
        regmap = vendor_map(load_vendor_file(map_file), ratings, str(map_file or "vendor_pcs.toml"))
    else:
        raise InputError(f"kind: expected unit, meter or vendor, got {kind!r}")
    t = Table(
        "address", "point", "type", "scale", "unit", "access", "bound to", title=regmap.source
    )
    for p in regmap.points:
        scale = f"sf {p.sf}" if p.sf else (f"{p.scale:g}" if p.scale != 1 else "")
        bound = f"{p.gain:g} x {p.bind}" if p.bind and p.gain != 1 else (p.bind or "")
        t.add_row(
            str(p.address),
            p.name,
            p.dtype + (f"[{p.size}]" if p.size else ""),
            scale,
            p.unit,
            p.access,
            bound,
        )
    console.print(t)
