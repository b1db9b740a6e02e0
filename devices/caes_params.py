"""Parameters of a compressed-air storage unit, validated and frozen, loaded from package data.

A compressed-air unit type is a TOML file in ``devices/data/units/`` with
``technology = "caes"`` at its top (``devices.params.load_unit_params`` dispatches on it). Each
scalar section has a ``sources`` table, as for the LFP units: no number without its origin.

The unit: a motor-driven compressor train (intercooled polytropic stages), an air store at the
store temperature (steel vessels or a cavern: the same equations, other numbers), for the
adiabatic variant a thermal store that keeps the compression heat, and an expander train
(reheated stages) driving a generator. The store's volume is not given: it is sized so that a
discharge at rated power from the maximum to the minimum pressure delivers the nameplate
energy ``rating.e_nom_kwh`` (the way a plant is specified: MW and MWh); the thermal store is
sized to take the heat of one full charge at its design temperature. What such a unit gives
back (its round trip) follows from the physics and is measured by the acceptance test.

Units: kW, kWh, bar (converted to Pa for the kernel), C (K in the kernel), kg, m3.
"""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from pydantic import Field, model_validator

from devices.caes_kernels import expander_work_j_per_kg, stage_outlet_k
from devices.params import _increasing, _Sourced
from parktwin.config import Frozen

BAR_PA = 1e5
ZERO_C_K = 273.15


class RatingParams(_Sourced):
    """Nameplate: rated charging (motor) and discharging (generator) power and energy."""

    p_charge_kw: float = Field(gt=0)
    p_discharge_kw: float = Field(gt=0)
    e_nom_kwh: float = Field(gt=0)
    v_ac_nom_v: float = Field(gt=0)


class AirParams(_Sourced):
    """Dry air as an ideal gas, and the air store (isothermal at ``temp_c``)."""

    r_j_per_kg_k: float = Field(gt=0)
    cp_j_per_kg_k: float = Field(gt=0)
    p_ambient_bar: float = Field(gt=0)
    store: Literal["vessel", "cavern"]
    p_max_bar: float = Field(gt=0)
    p_min_bar: float = Field(gt=0)
    temp_c: float = Field(gt=-50, lt=80)
    leak_per_day: float = Field(ge=0, lt=0.5)

    @model_validator(mode="after")
    def _pressures(self) -> AirParams:
        if self.cp_j_per_kg_k <= self.r_j_per_kg_k:
            raise ValueError("cp_j_per_kg_k must exceed r_j_per_kg_k (cp = cv + R)")
        if not self.p_ambient_bar < self.p_min_bar < self.p_max_bar:
            raise ValueError("need p_ambient_bar < p_min_bar < p_max_bar")
        return self


class TrainParams(_Sourced):
    """A compressor or expander train: stages, part-load polytropic efficiency, machine
    (motor or generator) efficiency, minimum load, ramp and start-up time."""

    stages: int = Field(ge=1, le=8)
    load_fraction: list[float] = Field(min_length=1)
    eta_poly: list[float] = Field(min_length=1)
    eta_machine: float = Field(gt=0.5, lt=1)
    min_load: float = Field(ge=0, lt=1)
    ramp_pu_per_s: float = Field(gt=0)
    t_start_s: float = Field(ge=0)

    @model_validator(mode="after")
    def _map(self) -> TrainParams:
        if len(self.load_fraction) != len(self.eta_poly):
            raise ValueError("load_fraction and eta_poly need the same length")
        _increasing(self.load_fraction, "load_fraction")
        if self.load_fraction[0] <= 0 or self.load_fraction[-1] > 1.2:
            raise ValueError("load_fraction must lie in (0, 1.2]")
        if not all(0.3 < e < 0.95 for e in self.eta_poly):
            raise ValueError("eta_poly must lie in (0.3, 0.95)")
        return self


class ExpanderParams(TrainParams):
    """The expander train adds its inlet pressure: the store's air is throttled to it."""

    p_inlet_max_bar: float = Field(gt=0)


class ThermalStoreParams(_Sourced):
    """Store of the compression heat (adiabatic variant); ``heat_capture = 0``: none.

    ``heat_capture``: share of each stage's outlet-to-store temperature difference the
    intercoolers put into the store; ``design_temp_c``: its temperature after a full charge
    (sizes its heat capacity); ``approach_k``: the reheaters' approach (expander inlet =
    store temperature - approach); ``loss_per_day``: share of its heat above the air-store
    temperature lost in a day.
    """

    heat_capture: float = Field(ge=0, lt=1)
    design_temp_c: float = Field(lt=700)
    approach_k: float = Field(ge=0)
    loss_per_day: float = Field(ge=0, lt=1)


class CaesAuxParams(_Sourced):
    """Auxiliaries beside the trains: controls and standby, and what a running train draws
    (cooling water, lube oil, ventilation) as a share of its power."""

    p_standby_kw: float = Field(ge=0)
    run_fraction: float = Field(ge=0, lt=0.2)
    idle_to_standby_s: float = Field(gt=0)


class CaesParams(Frozen):
    """One compressed-air unit type. The properties mirror `devices.UnitParams`'s (the
    array-of-units interface: ``e_nom_kwh``, ``p_max_kw``, ``pcs_kva``, ``soc_min``...)."""

    technology: Literal["caes"]
    name: str = Field(min_length=1)
    description: str = ""
    rating: RatingParams
    air: AirParams
    compressor: TrainParams
    expander: ExpanderParams
    thermal_store: ThermalStoreParams
    aux: CaesAuxParams

    @model_validator(mode="after")
    def _consistent(self) -> CaesParams:
        if self.expander.p_inlet_max_bar <= self.air.p_ambient_bar:
            raise ValueError("expander.p_inlet_max_bar must exceed air.p_ambient_bar")
        ts = self.thermal_store
        if ts.heat_capture > 0 and ts.design_temp_c - ts.approach_k <= self.air.temp_c:
            raise ValueError("thermal_store.design_temp_c - approach_k must exceed air.temp_c")
        if self.compressor.min_load * self.rating.p_charge_kw > self.rating.p_charge_kw:
            raise ValueError("compressor.min_load above rating")
        return self

    # ------------------------------------------------------------ the common interface
    @property
    def e_nom_kwh(self) -> float:
        """Nameplate energy [kWh]: a rated discharge from the maximum to the minimum pressure."""
        return self.rating.e_nom_kwh

    @property
    def p_max_kw(self) -> float:
        """Rated AC active power [kW]: the lower of the two trains' ratings (what the twin's
        strategies and guards plan with)."""
        return min(self.rating.p_charge_kw, self.rating.p_discharge_kw)

    @property
    def pcs_kva(self) -> float:
        """Apparent-power rating [kVA] of the machines (unity power factor: their larger kW)."""
        return max(self.rating.p_charge_kw, self.rating.p_discharge_kw)

    @property
    def soc_min(self) -> float:
        """SOC is the usable air mass (above the minimum pressure): the window is all of it."""
        return 0.0

    @property
    def soc_max(self) -> float:
        return 1.0

    @property
    def ramp_kw_per_s(self) -> float:
        """The slower train's ramp [kW/s] (the twin's ramp guard holds one value per unit)."""
        return min(
            self.compressor.ramp_pu_per_s * self.rating.p_charge_kw,
            self.expander.ramp_pu_per_s * self.rating.p_discharge_kw,
        )

    @property
    def v_nom(self) -> float:
        """Nominal AC voltage of the machines [V] (Modbus 802's AHRtg = WHRtg / V)."""
        return self.rating.v_ac_nom_v

    # ------------------------------------------------------------ derived sizes
    @property
    def t_store_k(self) -> float:
        return self.air.temp_c + ZERO_C_K

    @property
    def t_turbine_design_k(self) -> float:
        """Expander inlet temperature with the thermal store at its design temperature [K]."""
        ts = self.thermal_store
        if ts.heat_capture == 0.0:
            return self.t_store_k  # reheated by ambient-air exchangers to the store temperature
        return ts.design_temp_c - ts.approach_k + ZERO_C_K

    @cached_property
    def volume_m3(self) -> float:
        """Air-store volume [m3] that gives ``e_nom_kwh`` in a rated discharge."""
        a, ex = self.air, self.expander
        p_in_max = ex.p_inlet_max_bar * BAR_PA
        eta = full_load_eta(ex)
        n = 400
        lo, hi = a.p_min_bar * BAR_PA, a.p_max_bar * BAR_PA
        total = 0.0  # integral of the electric output per kg over pressure [J/kg Pa]
        for j in range(n):
            p = lo + (hi - lo) * (j + 0.5) / n
            w = expander_work_j_per_kg(
                min(p, p_in_max), a.p_ambient_bar * BAR_PA, self.t_turbine_design_k,
                ex.stages, eta, a.r_j_per_kg_k, a.cp_j_per_kg_k,
            )  # fmt: skip
            total += w * ex.eta_machine * (hi - lo) / n
        # m = p V / (R T): dm = V dp / (R T)
        return self.rating.e_nom_kwh * 3.6e6 * a.r_j_per_kg_k * self.t_store_k / total

    @cached_property
    def tes_heat_capacity_j_per_k(self) -> float:
        """Thermal store's heat capacity [J/K]: one full charge's captured heat raises it from
        the air-store temperature to its design temperature (0 without a thermal store)."""
        ts, a, c = self.thermal_store, self.air, self.compressor
        if ts.heat_capture == 0.0:
            return 0.0
        lo, hi = a.p_min_bar * BAR_PA, a.p_max_bar * BAR_PA
        n = 400
        vol = self.volume_m3
        heat = 0.0  # [J]: per kg, stage outlet down to the store's design temperature
        for j in range(n):
            p = lo + (hi - lo) * (j + 0.5) / n
            t_out = stage_outlet_k(p, a.p_ambient_bar * BAR_PA, self.t_store_k, c.stages,
                                   full_load_eta(c), a.r_j_per_kg_k, a.cp_j_per_kg_k)  # fmt: skip
            q = ts.heat_capture * c.stages * a.cp_j_per_kg_k * max(t_out - self.t_store_k, 0.0)
            heat += q * vol * (hi - lo) / n / (a.r_j_per_kg_k * self.t_store_k)
        return heat / (ts.design_temp_c - a.temp_c)


def full_load_eta(t: TrainParams) -> float:
    """The train's polytropic efficiency at rated load (its part-load table at 1.0)."""
    x, xs, ys = 1.0, t.load_fraction, t.eta_poly
    if x <= xs[0]:
        return ys[0]
    for k in range(1, len(xs)):
        if x <= xs[k]:
            return ys[k - 1] + (x - xs[k - 1]) / (xs[k] - xs[k - 1]) * (ys[k] - ys[k - 1])
    return ys[-1]
