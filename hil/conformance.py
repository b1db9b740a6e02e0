"""The bench's conformance table: every point of every device it serves, from the code.

For each point of the emulated unit (SunSpec 1, 701, 702, 704, 713, 802 and the vendor
map), the PCC meter (SunSpec 1, 213) and the site device: what it reads (the plant
quantity, rating, setting or constant behind it, or "not implemented"), whether it is
writable, what a write does to the plant, and what an invalid write answers. The rows
are built from the same maps, bindings and write handlers the devices serve, so the
table cannot drift from the bench; `tests/hil/test_hil_conformance.py` checks that
``docs/bench-conformance.md`` is current and walks every row over a real socket.

Regenerate the page with ``python -m hil.conformance docs/bench-conformance.md``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from devices import load_unit_params
from hil import sunspec
from hil.emulated import UNIT_WRITES, EmulatedMeter, EmulatedUnit, SiteDevice
from hil.plant import UnitRatings, ratings_of
from hil.registers import ILLEGAL_ADDRESS, ILLEGAL_VALUE, Point, RegisterImage
from hil.vendor import load_vendor_file
from parktwin import files

#: what each bound quantity is, and where the bench takes it from
QUANTITIES: dict[str, str] = {
    # plant measurements (hil.plant.PlantSample), every plant step
    "p_ac_kw": "plant: unit AC active power [kW, + charging]",
    "q_ac_kvar": "plant: unit reactive power [kvar]",
    "s_ac_kva": "plant: unit apparent power [kVA]",
    "pf": "plant: |P| / S",
    "i_ac_a": "plant: AC current at the PCS terminals [A] (S / (sqrt 3 x 702 VNomRtg))",
    "p_phase_kw": "plant: active power per phase [kW, + charging] (balanced: a third)",
    "q_phase_kvar": "plant: reactive power per phase [kvar] (balanced: a third)",
    "s_phase_kva": "plant: apparent power per phase [kVA] (balanced: a third)",
    "e_var_inj_kvarh": "plant: reactive energy injected since the bench started [kvarh]",
    "e_var_abs_kvarh": "plant: reactive energy absorbed since the bench started [kvarh]",
    "e_ac_in_phase_kwh": "plant: AC energy charged per phase [kWh] (a third)",
    "e_ac_out_phase_kwh": "plant: AC energy discharged per phase [kWh] (a third)",
    "e_var_inj_phase_kvarh": "plant: reactive energy injected per phase [kvarh] (a third)",
    "e_var_abs_phase_kvarh": "plant: reactive energy absorbed per phase [kvarh] (a third)",
    "i_max_a": "rating: AC current at the kVA rating [A]",
    "a_cha_max_a": "plant: BMS charge current limit [A] (allowed power / nominal DC voltage)",
    "a_dis_max_a": "plant: BMS discharge current limit [A] (allowed power / nominal DC voltage)",
    "p_dc_kw": "plant: battery DC power [kW, + charging] (AC power when the plant gives none)",
    "soc": "plant: state of charge [0..1]",
    "soh": "plant: state of health [0..1]",
    "dod": "plant: 1 - SOC",
    "temp_c": "plant: cabin temperature [C] (>= 60 C during an over-temperature fault)",
    "ambient_c": "plant: ambient temperature at the park [C]",
    "pcs_state": "plant: PCS state (0 off, 1 standby, 2 starting, 3 running, 4 fault)",
    "inv_state": "plant: PCS state as 701 InvSt",
    "bat_state": "plant: PCS state as 802 State",
    "der_on": "plant: 1 while the PCS runs",
    "cha_st": "plant: charge status from SOC, power and PCS state",
    "p_charge_max_kw": "plant: power the BMS allows to charge now [kW]",
    "p_discharge_max_kw": "plant: power the BMS allows to discharge now [kW]",
    "e_avail_kwh": "plant: energy above the SOC floor [kWh] ((SOC - SoCMin) x WHRtg x SOH)",
    "e_ac_in_kwh": "plant: AC energy charged since the bench started [kWh]",
    "e_ac_out_kwh": "plant: AC energy discharged since the bench started [kWh]",
    "n_cycles": "plant: equivalent full cycles",
    "heartbeat_out": "plant clock [s] modulo 65536",
    "alarm_bits": "faults: bit 7 OVER_TEMP, bit 16 MANUFACTURER_ALRM (PCS trip)",
    "bat_events": "faults: bit 1 OVER_TEMP_ALARM",
    "vendor_alarms": "faults: bit 0 watchdog revert, bit 1 over-temperature, bit 2 PCS trip",
    "storage_status": "faults: 0 OK, 1 WARNING (over-temperature), 2 ERROR (trip)",
    # ratings (hil.plant.UnitRatings)
    "unit_type": "rating: unit type name",
    "unit_name": "rating: unit name in the park",
    "device_address": "the Modbus unit id the device answers at",
    "p_max_kw": "rating: rated active power [kW]",
    "s_max_kva": "rating: PCS apparent power [kVA]",
    "q_max_kvar": "rating: reactive power [kvar]",
    "e_nom_kwh": "rating: nameplate energy [kWh]",
    "ah_rtg": "rating: nameplate charge [Ah] (WHRtg / nominal DC voltage)",
    "soc_min": "rating: BMS SOC floor [0..1]",
    "soc_max": "rating: BMS SOC ceiling [0..1]",
    "ramp_pct_per_s": "rating: ramp limit [% of WMaxRtg per s]",
    # the unit's commands and settings in force (hil.emulated.EmulatedUnit)
    "p_set_kw": "in force: active power setpoint [kW, + charging], after revert and limits",
    "p_set_pct": "in force: active power setpoint [% of WMax, + charging]",
    "q_set_kvar": "in force: reactive power setpoint [kvar]",
    "wset_ena": "setting: setpoints enabled",
    "wset_mod": "setting: setpoint mode (0 W_MAX_PCT, 1 WATTS)",
    "var_set_ena": "setting: reactive setpoint enabled",
    "p_revert_kw": "setting: fallback power after a watchdog revert [kW]",
    "revert_s": "setting: watchdog time [s]",
    "revert_ena": "setting: watchdog enabled",
    "revert_rem_s": "in force: seconds left before the watchdog reverts",
    "watchdog_s": "in force: watchdog time [s], 0 = off",
    "w_max_kw": "setting: power cap [kW]",
    "w_cha_max_kw": "setting: charging power cap [kW]",
    "w_dis_max_kw": "setting: discharging power cap [kW]",
    "w_max_lim_ena": "setting: WMaxLimPct cap enabled",
    "w_max_lim_pct": "setting: power cap [% of WMax]",
    "soc_rsv_min": "setting: SOC reserve floor [0..1]",
    "soc_rsv_max": "setting: SOC reserve ceiling [0..1]",
    "throttle_pct": "in force: power cap [% of WMaxRtg]",
    "throttle_src": "in force: why the power is capped (bit 0 MAX_W, 1 FIXED_W, 14 DERATED)",
    "ctrl_status": "in force: why the setpoint in force differs (bits in the vendor map)",
    "run_cmd": "plant: 1 while the PCS starts or runs, else 0",
    "set_inv_state": "plant: INVERTER_STARTED while running, STANDBY in standby, else STOPPED",
    "set_op": "plant: CONNECT while running, else DISCONNECT",
    "alarm_reset": "command: alarm reset (reads 0)",
    "ctrl_hb": "command: the controller's last heartbeat",
    # meter (hil.emulated.EmulatedMeter), the PCC flow from the plant
    "meter_name": "the meter's enterprise name",
    "pcc_kw": "plant: PCC active power [kW, import +] (faults may freeze, delay or noise it)",
    "pcc_kvar": "plant: PCC reactive power [kvar]",
    "pcc_kva": "plant: PCC apparent power [kVA]",
    "pcc_pf": "plant: PCC |P| / S",
    "v_ll_v": "the PCC's nominal line-to-line voltage [V]",
    "v_ln_v": "the PCC's nominal line-to-neutral voltage [V]",
    "i_a": "plant: PCC current [A]",
    "e_imp_kwh": "plant: energy imported since the bench started [kWh]",
    "e_exp_kwh": "plant: energy exported since the bench started [kWh]",
    # site device (hil.emulated.SiteDevice)
    "t_s": "plant clock [s]",
    "period_code": "plant or scenario: tariff period (0 deep valley .. 4 sharp)",
    "price_yuan_per_kwh": "plant or scenario: energy price [yuan/kWh]",
    "export_margin_kw": "bench: import to keep at each PCC [kW]",
    "demand_target_kw": "bench: demand target at the host PCC [kW]",
    "n_units": "bench: storage units served",
    "n_meters": "bench: meters served",
    "fault_kind": "command: fault to inject",
    "fault_target": "command: fault target unit id",
    "fault_duration_s": "command: fault duration [s]",
    "fault_value": "command: fault value (noise sigma kW or delay s)",
}

#: what a write to the site device's bench-control points does
SITE_WRITES: dict[str, str] = {
    "fault_kind": "injects the fault now (through the plant's fault path for unit faults)",
    "fault_target": "sets the next injected fault's target",
    "fault_duration_s": "sets the next injected fault's duration",
    "fault_value": "sets the next injected fault's value",
}

#: the unit type the page shows (devices/data/units/); ranges scale with the rating
EXAMPLE_UNIT_TYPE = "lfp280-2236kwh"


def example_ratings(unit_type: str = EXAMPLE_UNIT_TYPE) -> UnitRatings:
    """Ratings of a unit of a shipped type, as the twin hands them to the bench."""
    return ratings_of(load_unit_params(unit_type), "xinsheng-1")


@dataclass(frozen=True)
class Row:
    """One point of one served device."""

    device: str  # "unit SunSpec", "unit vendor map", "meter SunSpec", "site"
    address: int
    point: str
    dtype: str
    access: str  # "r" | "rw"
    reads: str
    write: str  # what an accepted write does ("" for read-only points)
    invalid: str  # what a refused write answers


class _NoSink:
    def setpoint(self, index: int, p_kw: float, q_kvar: float) -> None:
        pass

    def command(self, index: int, action: str) -> None:
        pass


def _reads(img: RegisterImage, p: Point, static: dict) -> str:
    if p.bind is not None:
        what = QUANTITIES[p.bind]
        return what if p.gain == 1 else f"{p.gain:g} x {what}"
    if p.name.endswith("_SF") and p.name in static:
        return f"scale factor {static[p.name]}"
    if p.name in static:
        return f"constant {static[p.name]!r}"
    if p.name.endswith(".Pad"):
        return "padding (0x8000)"
    if p.name in ("SunS", "end.ID", "end.L") or p.name.endswith((".ID", ".L")):
        return f"constant {img.get(p.name)!r} (SunSpec layout)"
    return "not implemented (the plant has no such quantity)"


def _invalid(p: Point) -> str:
    if p.access != "rw":
        return f"0x{ILLEGAL_ADDRESS:02X} ILLEGAL DATA ADDRESS (read-only)"
    parts = []
    if p.symbols:
        parts.append(f"a value outside {{{', '.join(map(str, p.symbols))}}}")
    if p.min is not None or p.max is not None:
        lo = "-inf" if p.min is None else f"{p.min:g}"
        hi = "inf" if p.max is None else f"{p.max:g}"
        parts.append(f"outside {lo}..{hi} {p.unit}".rstrip())
    if not parts:
        return f"0x{ILLEGAL_ADDRESS:02X} for a write covering part of the point"
    return f"0x{ILLEGAL_VALUE:02X} ILLEGAL DATA VALUE for " + " or ".join(parts)


def _rows(device: str, img: RegisterImage, static: dict, writes: dict[str, str]) -> list[Row]:
    out = []
    for p in img.map.points:
        size = f"[{p.regs}]" if p.dtype == "string" else ""
        out.append(
            Row(
                device=device,
                address=p.address,
                point=p.name,
                dtype=p.dtype + size,
                access=p.access,
                reads=_reads(img, p, static),
                write=writes[p.bind] if p.access == "rw" and p.bind is not None else "",
                invalid=_invalid(p),
            )
        )
    return out


def rows(ratings: UnitRatings | None = None) -> list[Row]:
    """Every point of every device the bench serves, for a unit of these ratings."""
    ratings = ratings or example_ratings()
    unit = EmulatedUnit(0, ratings, _NoSink(), vendor=load_vendor_file(), watchdog_s=10.0)
    meter = EmulatedMeter("xinsheng", 0)
    site = SiteDevice(on_control=lambda *a: None)
    lay = sunspec.layouts()
    out = _rows("unit SunSpec", unit.sunspec, lay.unit.static, UNIT_WRITES)
    assert unit.vendor is not None
    out += _rows("unit vendor map", unit.vendor, {}, UNIT_WRITES)
    out += _rows("meter SunSpec", meter.image, lay.meter.static, {})
    out += _rows("site", site.image, {}, SITE_WRITES)
    return out


def markdown(ratings: UnitRatings | None = None) -> str:
    """The conformance page (docs/bench-conformance.md)."""
    ratings = ratings or example_ratings()
    head = f"""# Bench conformance table

Every point of every device `twin hil serve` and `twin hil verify` serve: what it reads
and from which plant quantity, whether a client may write it, what a write does to the
plant, and what an invalid write answers. Generated from the bench's own maps and write
handlers by `python -m hil.conformance docs/bench-conformance.md`; a test fails when this
page is not current, and `tests/hil/test_hil_conformance.py` reads every point of every
model with pysunspec2 for a 2.236 MWh and a 5.016 MWh unit and shows each write's effect
in the plant's trajectory.

Rules the table follows:

- A point the model defines as writable but the unit cannot act on is served read-only:
  a write answers 0x02 ILLEGAL DATA ADDRESS, never an echo that changes nothing.
- Scale factors are chosen so every rated value fits its register; the bench refuses to
  start (one line naming the point) if a unit's rating cannot be shown, so no point reads
  SunSpec's not-implemented marker unless the plant lacks that quantity.
- Setpoint points read the setpoint **in force**: after a watchdog revert the fallback,
  after a cap the capped value. Why it differs is in 701 `ThrotSrc` and the vendor map's
  `ctrl_status` (bit 0 watchdog revert, 1 setpoints disabled, 2 power cap WMax /
  WMaxLimPct, 3 charge/discharge rate cap, 4 SOC reserve, 5 BMS limit).
- Unit ids: storage units 1..N, meters 101.., the site device 200 (model 1 `DA` reads
  the id and is read-only).

Example unit: `{ratings.unit_type}` ({ratings.p_max_kw:g} kW, {ratings.s_max_kva:g} kVA,
{ratings.e_nom_kwh:g} kWh); ranges that follow the rating scale with the unit.

"""
    parts = [head]
    device = None
    for r in rows(ratings):
        if r.device != device:
            device = r.device
            parts.append(
                f"\n## {device}\n\n"
                "| register | point | type | access | reads | a write does | an invalid write answers |\n"
                "| --- | --- | --- | --- | --- | --- | --- |\n"
            )
        cells = (
            str(r.address),
            f"`{r.point}`",
            r.dtype,
            r.access,
            r.reads,
            r.write or "-",
            r.invalid,
        )
        parts.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |\n")
    return "".join(parts)


def main(argv: list[str]) -> int:
    """``python -m hil.conformance PATH``: write the page."""
    if len(argv) != 1:
        print("usage: python -m hil.conformance docs/bench-conformance.md", file=sys.stderr)
        return 2
    files.write_text(Path(argv[0]), markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
