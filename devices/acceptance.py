"""Acceptance test of one storage unit, as a commissioning engineer runs it (GB/T 36548 style).

Either technology: an LFP cabin reports its battery's losses by cause, a compressed-air unit
its compression, expansion, air-leak and thermal-store losses (`_summarise`).

From the SOC floor: charge at rated power until the unit stops taking power (SOC window or a
limit), rest, discharge at rated power until it stops delivering, rest; N cycles. Reports the
AC and DC energies, round-trip efficiency with and without auxiliaries, and the losses by
cause; optionally runs the aging model for some years on a repeated daily profile (two
charges, two discharges a day) and reports SOH per year.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
from pydantic import Field, field_validator, model_validator

from devices.fleet import Fleet, StepResult
from devices.params import AnyUnitParams, load_unit_params
from parktwin.config import Frozen, load_package_toml
from parktwin.errors import InputError, SimulationError
from parktwin.files import atomic_path, write_json
from parktwin.pcs_states import PcsState

SERIES_COLUMNS = (
    "t_s",
    "cycle",
    "phase",
    "p_set_kw",
    "p_ac_kw",
    "q_ac_kvar",
    "p_dc_kw",
    "soc",
    "temp_c",
    "loss_pcs_kw",
    "loss_battery_kw",
    "p_aux_kw",
    "pcs_state",
    "v_dc_v",
    "i_dc_a",
)
PHASES = ("charge", "rest_after_charge", "discharge", "rest_after_discharge")


class _TestData(Frozen):
    rest_s: float = Field(ge=0)
    cycles: int = Field(ge=1)
    end_fraction: float = Field(gt=0, lt=1)
    max_phase_factor: float = Field(gt=1)
    max_phase_factor_caes: float = Field(gt=1)
    sources: dict[str, str]


class _Daily(Frozen):
    blocks: list[tuple[float, float, float]]
    source: str

    @model_validator(mode="after")
    def _covers_a_day(self) -> _Daily:
        t = 0.0
        for start, dur, direction in self.blocks:
            if abs(start - t) > 1e-9 or dur <= 0 or direction not in (-1.0, 0.0, 1.0):
                raise ValueError("blocks must be contiguous [start_h, duration_h, -1|0|1] rows")
            t += dur
        if abs(t - 24.0) > 1e-9:
            raise ValueError("blocks must cover 24 h")
        return self


class _AcceptanceData(Frozen):
    test: _TestData
    daily: _Daily


@cache
def acceptance_data() -> _AcceptanceData:
    """Procedure constants and the daily aging profile (``devices/data/acceptance.toml``)."""
    return load_package_toml("devices", "acceptance.toml", _AcceptanceData)


class AcceptanceConfig(Frozen):
    """Options of `twin unit test` (validated; bad values name the option)."""

    unit_type: str = "lfp280-2236kwh"
    dt_s: float = Field(default=1.0, gt=0, le=900)
    power_kw: float | None = Field(default=None, gt=0)
    cycles: int = Field(default_factory=lambda: acceptance_data().test.cycles, ge=1, le=100)
    ambient_c: float = Field(default=25.0, ge=-40, le=60)
    years: int = Field(default=0, ge=0, le=30)
    rest_s: float = Field(default_factory=lambda: acceptance_data().test.rest_s, ge=0)
    pcs_kva: float | None = Field(default=None, gt=0)

    @field_validator("unit_type")
    @classmethod
    def _known_unit(cls, name: str) -> str:
        try:
            load_unit_params(name)
        except InputError as exc:
            raise ValueError(str(exc)) from None
        return name


def _phase_energy() -> dict[str, float]:
    keys = (
        "ac_in ac_out dc_in dc_out aux hvac loss_pcs loss_battery ohmic coulombic self "
        "fade comp exp leak tes duration_s"
    )
    return dict.fromkeys(keys.split(), 0.0)


def _add(tot: dict[str, float], r: StepResult, duration_s: float) -> None:
    e_dc = float(r.e_dc_kwh[0])
    tot["ac_in"] += float(r.e_ac_in_kwh[0])
    tot["ac_out"] += float(r.e_ac_out_kwh[0])
    tot["dc_in"] += max(e_dc, 0.0)
    tot["dc_out"] += max(-e_dc, 0.0)
    tot["aux"] += float(r.e_aux_kwh[0])
    tot["hvac"] += float(r.e_hvac_kwh[0])
    tot["loss_pcs"] += float(r.loss_pcs_kwh[0])
    tot["loss_battery"] += float(r.loss_battery_kwh[0])
    tot["ohmic"] += float(r.loss_ohmic_kwh[0])
    tot["coulombic"] += float(r.loss_coulombic_kwh[0])
    tot["self"] += float(r.loss_self_discharge_kwh[0])
    tot["fade"] += float(r.e_fade_kwh[0])
    tot["comp"] += float(r.loss_compression_kwh[0])
    tot["exp"] += float(r.loss_expansion_kwh[0])
    tot["leak"] += float(r.loss_air_leak_kwh[0])
    tot["tes"] += float(r.loss_thermal_store_kwh[0])
    tot["duration_s"] += duration_s


def _summarise(
    tot: dict[str, float], de_stored_kwh: float, cycles: int, technology: str = "lfp"
) -> dict[str, float]:
    """The acceptance figures; a compressed-air unit's DC rows are its shaft energies, its
    PCS loss its motor and generator losses, its battery loss its store side's, split into
    compression, expansion, air leak and thermal store (``stored`` is then exergy)."""
    ac_in, ac_out, aux = tot["ac_in"], tot["ac_out"], tot["aux"]
    polar = tot["loss_battery"] - tot["ohmic"] - tot["coulombic"] - tot["self"]
    out = {
        "charged_ac_kwh": ac_in,
        "discharged_ac_kwh": ac_out,
        "charged_dc_kwh": tot["dc_in"],
        "discharged_dc_kwh": tot["dc_out"],
        "rte_ac": ac_out / ac_in if ac_in > 0 else float("nan"),
        "rte_ac_with_aux": ac_out / (ac_in + aux) if ac_in + aux > 0 else float("nan"),
        "rte_dc": tot["dc_out"] / tot["dc_in"] if tot["dc_in"] > 0 else float("nan"),
        "usable_energy_kwh": ac_out / cycles,
        "usable_energy_dc_kwh": tot["dc_out"] / cycles,
        "aux_kwh": aux,
        "loss_pcs_kwh": tot["loss_pcs"],
        "loss_battery_kwh": tot["loss_battery"],
        "loss_battery_ohmic_kwh": tot["ohmic"],
        "loss_battery_polarisation_kwh": polar,
        "loss_battery_coulombic_kwh": tot["coulombic"],
        "loss_battery_self_discharge_kwh": tot["self"],
        "aux_hvac_kwh": tot["hvac"],
        "aux_bms_ems_kwh": aux - tot["hvac"],
        "delta_stored_kwh": de_stored_kwh,
        "energy_balance_residual_kwh": ac_in
        - ac_out
        - tot["loss_pcs"]
        - tot["loss_battery"]
        - tot["fade"]
        - de_stored_kwh,
        "duration_h": tot["duration_s"] / 3600.0,
    }
    if technology == "caes":
        for key in ("ohmic", "polarisation", "coulombic", "self_discharge"):
            del out[f"loss_battery_{key}_kwh"]
        del out["aux_hvac_kwh"], out["aux_bms_ems_kwh"]
        out.update(
            loss_motor_generator_kwh=tot["loss_pcs"],
            loss_compression_kwh=tot["comp"],
            loss_expansion_kwh=tot["exp"],
            loss_air_leak_kwh=tot["leak"],
            loss_thermal_store_kwh=tot["tes"],
        )
    return out


def run_acceptance(cfg: AcceptanceConfig) -> tuple[dict, dict[str, np.ndarray]]:
    """Run the test; returns (summary dict, time series columns as arrays)."""
    data = acceptance_data().test
    p = load_unit_params(cfg.unit_type, pcs_kva=cfg.pcs_kva)
    power = p.p_max_kw if cfg.power_kw is None else cfg.power_kw
    if power > p.pcs_kva:
        raise InputError(f"--power-kw: {power:g} kW exceeds the PCS rating {p.pcs_kva:g} kVA")
    fleet = Fleet([p], soc0=p.soc_min, temp0_c=cfg.ambient_c, pcs_state0=PcsState.RUNNING)
    dt = cfg.dt_s
    e_window = (p.soc_max - p.soc_min) * p.e_nom_kwh
    # a compressed-air unit draws two to three times its nameplate energy to fill its store
    factor = data.max_phase_factor_caes if p.technology == "caes" else data.max_phase_factor
    max_steps = int(np.ceil(factor * e_window / power * 3600.0 / dt)) + 1
    rest_steps = round(cfg.rest_s / dt)
    cols: dict[str, list] = {c: [] for c in SERIES_COLUMNS}
    total = _phase_energy()
    per_cycle = []
    e0 = float(fleet.e_stored_kwh[0])
    t = 0.0

    def record(cycle: int, phase: int, p_set: float, r: StepResult) -> None:
        for name, value in (
            ("t_s", t),
            ("cycle", cycle),
            ("phase", phase),
            ("p_set_kw", p_set),
            ("p_ac_kw", r.p_ac_kw[0]),
            ("q_ac_kvar", r.q_ac_kvar[0]),
            ("p_dc_kw", r.p_dc_kw[0]),
            ("soc", r.soc[0]),
            ("temp_c", r.temp_c[0]),
            ("loss_pcs_kw", r.loss_pcs_kwh[0] * 3600.0 / dt),
            ("loss_battery_kw", r.loss_battery_kwh[0] * 3600.0 / dt),
            ("p_aux_kw", r.p_aux_kw[0]),
            ("pcs_state", r.pcs_state[0]),
            ("v_dc_v", r.v_dc_v[0]),
            ("i_dc_a", r.i_dc_a[0]),
        ):
            cols[name].append(value)

    for cycle in range(1, cfg.cycles + 1):
        tot = _phase_energy()
        e_start = float(fleet.e_stored_kwh[0])
        for phase, p_set in enumerate((power, 0.0, -power, 0.0)):
            if p_set == 0.0:
                for _ in range(rest_steps):
                    r = fleet.step([0.0], dt, cfg.ambient_c)
                    t += dt
                    _add(tot, r, dt)
                    record(cycle, phase, 0.0, r)
                continue
            started = False
            for _ in range(max_steps):
                r = fleet.step([p_set], dt, cfg.ambient_c)
                t += dt
                _add(tot, r, dt)
                record(cycle, phase, p_set, r)
                delivering = abs(r.p_ac_kw[0]) >= data.end_fraction * power
                if r.pcs_state[0] == PcsState.RUNNING and delivering:
                    started = True
                elif started and r.pcs_state[0] == PcsState.RUNNING:
                    break
            else:
                raise SimulationError(
                    f"unit test: {PHASES[phase]} at {p_set:g} kW did not end within "
                    f"{max_steps * dt / 3600:.1f} h"
                )
        de = float(fleet.e_stored_kwh[0]) - e_start
        per_cycle.append(_summarise(tot, de, 1, p.technology))
        for key, value in tot.items():
            total[key] += value
    summary = _summarise(total, float(fleet.e_stored_kwh[0]) - e0, cfg.cycles, p.technology)
    summary.update(
        unit_type=p.name,
        technology=p.technology,
        e_nom_kwh=p.e_nom_kwh,
        pcs_kva=p.pcs_kva,
        power_kw=power,
        dt_s=dt,
        cycles=cfg.cycles,
        ambient_c=cfg.ambient_c,
        rest_s=cfg.rest_s,
        per_cycle=per_cycle,
        temp_max_c=float(np.max(cols["temp_c"])),
    )
    if cfg.years > 0:
        summary["aging"] = run_aging(p, power, cfg.years, cfg.ambient_c, dt_s=max(dt, 60.0))
    series = {c: np.asarray(v) for c, v in cols.items()}
    return summary, series


def run_aging(
    p: AnyUnitParams, power_kw: float, years: int, ambient_c: float, dt_s: float = 60.0
) -> list[dict[str, float]]:
    """Age one unit on the repeated daily profile; one row per year (SOH, EFC, R factor, energy)."""
    blocks = acceptance_data().daily.blocks
    fleet = Fleet([p], soc0=p.soc_min, temp0_c=ambient_c, pcs_state0=PcsState.RUNNING)
    rows = []
    for year in range(1, years + 1):
        e_out = e_in = e_aux = 0.0
        for _ in range(365):
            for _, dur_h, direction in blocks:
                n_sub = max(round(dur_h * 3600.0 / dt_s), 1)
                r = fleet.step([direction * power_kw], dt_s, ambient_c, n_sub=n_sub)
                e_out += float(r.e_ac_out_kwh[0])
                e_in += float(r.e_ac_in_kwh[0])
                e_aux += float(r.e_aux_kwh[0])
        rows.append(
            {
                "year": year,
                "soh": float(fleet.soh[0]),
                "efc": float(fleet.efc[0]),
                "resistance_factor": float(fleet.resistance_factor[0]),
                "charged_ac_mwh": e_in / 1000.0,
                "discharged_ac_mwh": e_out / 1000.0,
                "rte_ac": e_out / e_in if e_in > 0 else float("nan"),
                "aux_mwh": e_aux / 1000.0,
            }
        )
    return rows


def write_results(out_dir: str | Path, summary: dict, series: dict[str, np.ndarray]) -> list[Path]:
    """Write ``summary.json`` and ``timeseries.parquet`` into `out_dir` (atomically)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out: {out} exists and is not a directory")
    json_path = out / "summary.json"
    write_json(json_path, summary)
    table = pa.table({name: pa.array(values) for name, values in series.items()})
    pq_path = out / "timeseries.parquet"
    with atomic_path(pq_path) as tmp:
        pq.write_table(table, tmp)
    return [json_path, pq_path]
