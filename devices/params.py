"""Parameters of a storage unit (cabin + PCS), validated and frozen, loaded from package data.

A unit type is one TOML file in ``devices/data/units/<name>.toml``. Each scalar section has a
``sources`` table naming where every value comes from (a datasheet, a standard, a paper or a
stated assumption); a missing note is an error, so no number enters without its origin.
Units: cell values per cell; pack values per cabin; powers in kW, energies in kWh, resistances
in mOhm per cell, temperatures in C.
"""

from __future__ import annotations

import itertools
import math
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from pydantic import Field, model_validator

from parktwin.config import Frozen, package_text, parse_toml, validate
from parktwin.errors import InputError
from parktwin.files import is_unit_type_file, read_user_text

_PKG = "devices"

if TYPE_CHECKING:
    from devices.caes_params import CaesParams

#: a unit type of either technology (the array-of-units interface: both have ``name``,
#: ``technology``, ``e_nom_kwh``, ``p_max_kw``, ``pcs_kva``, ``soc_min``/``soc_max``,
#: ``ramp_kw_per_s``, ``v_nom``)
AnyUnitParams: TypeAlias = "UnitParams | CaesParams"


class _Sourced(Frozen):
    """A section whose every value needs a note in ``sources``."""

    sources: dict[str, str]

    @model_validator(mode="after")
    def _every_value_has_a_source(self) -> _Sourced:
        missing = [k for k in type(self).model_fields if k != "sources" and k not in self.sources]
        if missing:
            raise ValueError(f"no source note for {', '.join(missing)}")
        extra = sorted(set(self.sources) - set(type(self).model_fields))
        if extra:
            raise ValueError(f"source note for unknown field {', '.join(extra)}")
        return self


def _increasing(xs: list[float], what: str) -> None:
    if any(b <= a for a, b in itertools.pairwise(xs)):
        raise ValueError(f"{what} must be strictly increasing")


class CellParams(_Sourced):
    """One LFP cell (datasheet values at 25 C)."""

    capacity_ah: float = Field(gt=0)
    v_nom: float = Field(gt=0)
    v_max: float = Field(gt=0)
    v_min: float = Field(gt=0)
    r0_mohm: float = Field(gt=0)
    r1_mohm: float = Field(ge=0)
    tau1_s: float = Field(gt=0)
    c_rate_charge_max: float = Field(gt=0)
    c_rate_discharge_max: float = Field(gt=0)
    coulombic_eff: float = Field(gt=0.5, le=1)
    hysteresis_mv: float = Field(ge=0, lt=200)
    self_discharge_per_month: float = Field(ge=0, lt=0.5)
    mass_kg: float = Field(gt=0)

    @model_validator(mode="after")
    def _voltage_window(self) -> CellParams:
        if not self.v_min < self.v_nom < self.v_max:
            raise ValueError("need v_min < v_nom < v_max")
        return self


class PackParams(_Sourced):
    """Topology of the cabin: racks of series cells, connected in parallel on the DC bus."""

    cells_series: int = Field(gt=0)
    racks_parallel: int = Field(gt=0)
    r_connection_mohm_per_cell: float = Field(ge=0)
    soc_min: float = Field(ge=0, lt=1)
    soc_max: float = Field(gt=0, le=1)
    rated_power_kw: float = Field(gt=0)

    @model_validator(mode="after")
    def _window(self) -> PackParams:
        if self.soc_max - self.soc_min < 0.05:
            raise ValueError("soc_max must exceed soc_min by at least 0.05")
        return self


class OcvTable(Frozen):
    """Open-circuit voltage of one cell vs SOC (piecewise linear)."""

    soc: list[float] = Field(min_length=2)
    v_cell: list[float] = Field(min_length=2)
    source: str

    @model_validator(mode="after")
    def _shape(self) -> OcvTable:
        if len(self.soc) != len(self.v_cell):
            raise ValueError("soc and v_cell need the same length")
        _increasing(self.soc, "soc")
        _increasing(self.v_cell, "v_cell")  # a monotone OCV keeps the current solve unique
        if self.soc[0] != 0.0 or self.soc[-1] != 1.0:
            raise ValueError("soc must run from 0.0 to 1.0")
        return self


class ResistanceFactors(Frozen):
    """Multipliers of R0 and R1 vs SOC and vs cell temperature (separable, piecewise linear)."""

    soc: list[float] = Field(min_length=2)
    soc_factor: list[float] = Field(min_length=2)
    temp_c: list[float] = Field(min_length=2)
    temp_factor: list[float] = Field(min_length=2)
    source: str

    @model_validator(mode="after")
    def _shape(self) -> ResistanceFactors:
        if len(self.soc) != len(self.soc_factor) or len(self.temp_c) != len(self.temp_factor):
            raise ValueError("each axis needs as many factors as points")
        _increasing(self.soc, "soc")
        _increasing(self.temp_c, "temp_c")
        if min(self.soc_factor + self.temp_factor) <= 0:
            raise ValueError("factors must be > 0")
        return self


class ThermalParams(_Sourced):
    """Lumped cabin: one thermal node, envelope to ambient, HVAC with proportional control."""

    c_th_kj_per_k: float = Field(gt=0)
    ua_w_per_k: float = Field(ge=0)
    t_cool_c: float
    t_heat_c: float
    kp_kw_per_k: float = Field(gt=0)
    q_cool_max_kw: float = Field(ge=0)
    q_heat_max_kw: float = Field(ge=0)
    cop_cool: float = Field(gt=0)
    cop_heat: float = Field(gt=0)
    p_bms_ems_kw: float = Field(ge=0)

    @model_validator(mode="after")
    def _deadband(self) -> ThermalParams:
        if self.t_heat_c >= self.t_cool_c:
            raise ValueError("t_heat_c must be below t_cool_c")
        return self


class PcsParams(_Sourced):
    """Bidirectional inverter: rating, part-load efficiency per direction, dynamics, states."""

    s_kva: float = Field(gt=0)
    load_fraction: list[float] = Field(min_length=1)
    eff_charge: list[float] = Field(min_length=1)
    eff_discharge: list[float] = Field(min_length=1)
    p_noload_kw: float = Field(ge=0)
    p_standby_kw: float = Field(ge=0)
    ramp_pu_per_s: float = Field(gt=0)
    tau_s: float = Field(gt=0)
    t_start_s: float = Field(ge=0)
    idle_to_standby_s: float = Field(gt=0)

    @model_validator(mode="after")
    def _curve(self) -> PcsParams:
        n = len(self.load_fraction)
        if len(self.eff_charge) != n or len(self.eff_discharge) != n:
            raise ValueError("load_fraction, eff_charge and eff_discharge need the same length")
        _increasing(self.load_fraction, "load_fraction")
        if self.load_fraction[0] <= 0 or self.load_fraction[-1] > 1.5:
            raise ValueError("load_fraction must lie in (0, 1.5]")
        if not all(0.5 < e < 1 for e in self.eff_charge + self.eff_discharge):
            raise ValueError("efficiencies must lie in (0.5, 1)")
        for eff, name in ((self.eff_charge, "charge"), (self.eff_discharge, "discharge")):
            loss = _loss_curve(self.s_kva, self.load_fraction, eff, self.p_noload_kw, name)
            slopes = [
                (loss[1][k + 1] - loss[1][k]) / (loss[0][k + 1] - loss[0][k])
                for k in range(len(loss[0]) - 1)
            ]
            if max(slopes) >= 0.5:
                raise ValueError(f"{name} loss curve too steep (efficiency table implausible)")
        return self


class AgingParams(_Sourced):
    """BLAST-Lite ``Lfp_Gr_250AhPrismatic`` (doi:10.1016/j.est.2023.109042) plus R growth."""

    p1: float
    p2: float
    p3: float
    pcal: float = Field(gt=0, le=1)
    p4: float
    p5: float
    p6: float
    p7: float
    p8: float
    pcyc: float = Field(gt=0, le=1)
    window_s: float = Field(gt=0)
    r_growth_per_fade: float = Field(ge=0)
    rf_hysteresis_soc: float = Field(ge=0, lt=0.2)


class AnodeParams(Frozen):
    """Graphite anode potential vs SOC (a stressor of the calendar fade)."""

    xa0: float
    xa1: float
    ua_c0: float
    ua_c1: float
    ua_c2: float
    ua_tanh: list[tuple[float, float, float]]
    source: str

    def ua_v(self, soc: float) -> float:
        """Anode-to-lithium potential [V] at `soc` [1]."""
        xa = self.xa0 + soc * (self.xa1 - self.xa0)
        ua = self.ua_c0 + self.ua_c1 * math.exp(self.ua_c2 * xa)
        for a, b, w in self.ua_tanh:
            ua += a * math.tanh((xa - b) / w)
        return ua


class UnitParams(Frozen):
    """One storage unit type: cabin (cells, pack, OCV, resistance, thermal) + PCS + aging."""

    name: str = Field(min_length=1)
    description: str = ""
    cell: CellParams
    pack: PackParams
    ocv: OcvTable
    resistance: ResistanceFactors
    thermal: ThermalParams
    pcs: PcsParams
    aging: AgingParams
    anode: AnodeParams

    @property
    def technology(self) -> str:
        """The storage technology ("lfp"; compressed-air units are `CaesParams`)."""
        return "lfp"

    @property
    def capacity_ah(self) -> float:
        """Nameplate charge of the cabin [Ah] (racks in parallel)."""
        return self.cell.capacity_ah * self.pack.racks_parallel

    @property
    def v_nom(self) -> float:
        """Nominal DC voltage of the pack [V]."""
        return self.cell.v_nom * self.pack.cells_series

    @property
    def e_nom_kwh(self) -> float:
        """Nameplate energy [kWh]: cells x Ah x nominal V."""
        return self.capacity_ah * self.v_nom / 1000.0

    @property
    def pcs_kva(self) -> float:
        """PCS apparent-power rating [kVA]."""
        return self.pcs.s_kva

    @property
    def p_max_kw(self) -> float:
        """Rated AC active power [kW]: the lower of the PCS rating and the cabin's rated power."""
        return min(self.pcs.s_kva, self.pack.rated_power_kw)

    @property
    def soc_min(self) -> float:
        return self.pack.soc_min

    @property
    def soc_max(self) -> float:
        return self.pack.soc_max

    @property
    def ramp_kw_per_s(self) -> float:
        """PCS ramp-rate limit [kW/s]."""
        return self.pcs.ramp_pu_per_s * self.pcs.s_kva

    def loss_curve(self, direction: str) -> tuple[list[float], list[float]]:
        """PCS loss [kW] vs apparent power [kVA] for "charge" or "discharge" (see `_loss_curve`)."""
        eff = self.pcs.eff_charge if direction == "charge" else self.pcs.eff_discharge
        return _loss_curve(
            self.pcs.s_kva, self.pcs.load_fraction, eff, self.pcs.p_noload_kw, direction
        )


def _loss_curve(
    s_kva: float, load_fraction: list[float], eff: list[float], p_noload_kw: float, direction: str
) -> tuple[list[float], list[float]]:
    """Loss [kW] at AC apparent power [kVA], from the datasheet efficiency at each load point.

    The loss, not the efficiency, is interpolated so that the no-load point (0 kVA, no-load
    loss) joins the curve. Charging: eta = P_dc / P_ac, so loss = P_ac (1 - eta); discharging:
    eta = P_ac / P_dc, so loss = P_ac (1 / eta - 1).
    """
    xs = [0.0] + [f * s_kva for f in load_fraction]
    if direction == "charge":
        ys = [p_noload_kw] + [x * (1.0 - e) for x, e in zip(xs[1:], eff, strict=True)]
    else:
        ys = [p_noload_kw] + [x * (1.0 / e - 1.0) for x, e in zip(xs[1:], eff, strict=True)]
    return xs, ys


def unit_types(technology: str | None = None) -> tuple[str, ...]:
    """Names of the shipped unit parameter sets (of one `technology`, "lfp" or "caes")."""
    folder = resources.files(_PKG).joinpath("data", "units")
    names = tuple(sorted(f.name[:-5] for f in folder.iterdir() if f.name.endswith(".toml")))
    if technology is None:
        return names
    return tuple(n for n in names if _load(n).technology == technology)


def _validate_any(data: object, source: str) -> AnyUnitParams:
    """A unit type of either technology: ``technology = "caes"`` picks `CaesParams`."""
    from devices.caes_params import CaesParams

    if isinstance(data, dict) and data.get("technology", "lfp") == "caes":
        return validate(data, CaesParams, source)
    if isinstance(data, dict) and data.get("technology", "lfp") != "lfp":
        raise InputError(
            f"{source}: technology: expected 'lfp' or 'caes' (got {data['technology']!r})"
        )
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k != "technology"}
    return validate(data, UnitParams, source)


@cache
def _load(name: str) -> AnyUnitParams:
    source = f"{_PKG}/data/units/{name}.toml"
    try:
        text = package_text(_PKG, f"units/{name}.toml")
    except FileNotFoundError as exc:
        raise InputError(f"{source}: no such package data file") from exc
    return _validate_any(parse_toml(text, source), source)


@cache
def _load_file(path: str, mtime_ns: int) -> AnyUnitParams:
    # keyed on the modification time: a unit-type file rewritten by `twin calibrate` is re-read
    text = read_user_text(path, "a TOML file")
    return _validate_any(parse_toml(text, path), path)


def _resolve(ref: str) -> AnyUnitParams:
    if is_unit_type_file(ref):
        path = Path(ref).expanduser()
        try:
            mtime_ns = path.stat().st_mtime_ns
        except OSError:
            mtime_ns = -1  # read_user_text names what is wrong (missing, a folder)
        return _load_file(str(path.resolve()), mtime_ns)
    if ref not in unit_types():
        raise InputError(
            f"unit type {ref!r}: unknown; shipped: {', '.join(unit_types())}, "
            "or the path of a unit-type .toml file"
        )
    p = _load(ref)
    if p.name != ref:
        raise InputError(f"devices/data/units/{ref}.toml: name: must equal the file name")
    return p


def load_unit_params(name: str, pcs_kva: float | None = None) -> AnyUnitParams:
    """Validated, frozen parameters of a unit type; `pcs_kva` overrides the PCS rating.

    `name` is a shipped unit type (`unit_types`) or the path of a unit-type TOML file (the
    shipped files' layout, e.g. written by `twin calibrate`); a relative path is taken from
    the current directory (site and study files resolve theirs from their own folder). A
    compressed-air unit's `pcs_kva` sets both of its trains' ratings [kW].
    """
    if not isinstance(name, str) or not name:
        raise InputError(f"unit type: expected a name or a file path (got {name!r})")
    p = _resolve(name)
    if pcs_kva is not None:
        if not (isinstance(pcs_kva, int | float) and math.isfinite(pcs_kva) and pcs_kva > 0):
            raise InputError(f"pcs_kva: must be a positive number of kVA (got {pcs_kva!r})")
        data = p.model_dump()
        if p.technology == "caes":
            data["rating"]["p_charge_kw"] = float(pcs_kva)
            data["rating"]["p_discharge_kw"] = float(pcs_kva)
        else:
            data["pcs"]["s_kva"] = float(pcs_kva)
        try:
            p = type(p).model_validate(data)
        except ValueError as exc:
            raise InputError(f"pcs_kva={pcs_kva}: {exc}".splitlines()[0]) from exc
    return p
