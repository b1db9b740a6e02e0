"""Rooftop PV at the park with pvlib: clear sky, plane of array, seeded cloud, cell
temperature, DC and inverter.

The chain (parameters and sources in ``profiles/data/pv_system.toml``), on a 5-min grid:

1. solar position (pvlib NREL SPA, numpy) and Ineichen clear-sky GHI/DNI/DHI with the
   park's monthly Linke turbidity;
2. plane of array for the given tilt and azimuth (Hay-Davies transposition, ground albedo),
   beam incidence loss by pvlib's physical IAM;
3. cloud: the seeded clear-sky index k(t) of `profiles.weather` (daily Beta draws with
   monthly means, intra-day AR(1)), 0 < k <= 1, applied to the plane-of-array irradiance
   (a common simplification: cloud attenuation acts on beam and diffuse alike; cloud
   enhancement above clear sky is not modelled, so output never exceeds the clear-sky
   envelope);
4. cell temperature (Faiman) from the seeded ambient temperature of `profiles.weather`;
5. DC power by PVWatts with the temperature coefficient, minus DC losses;
6. AC power by the PVWatts inverter model, clipped at the AC rating (kWp / DC-AC ratio).

Positive = generated power [kW]; the meter sign (import positive) is the caller's job.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np
from pydantic import Field

from parktwin.config import Frozen, load_package_toml
from parktwin.errors import InputError
from profiles.timebase import DAY_S, UTC_OFFSET_S, check_seed
from profiles.weather import (
    BASE_DT_S,
    ambient_base,
    base_window,
    clear_sky_index_base,
    monthly_on_days,
    to_run,
)


class PvSite(Frozen):
    source: str = Field(min_length=1)
    altitude_m: float
    linke_turbidity: list[float] = Field(min_length=12, max_length=12)
    albedo: float = Field(ge=0, le=1)


class PvModule(Frozen):
    source: str = Field(min_length=1)
    gamma_pdc_per_k: float = Field(gt=-0.01, lt=0)


class PvTemperature(Frozen):
    source: str = Field(min_length=1)
    u0: float = Field(gt=0)
    u1: float = Field(ge=0)
    wind_speed_m_per_s: float = Field(ge=0)


class PvLosses(Frozen):
    source: str = Field(min_length=1)
    dc_loss_fraction: float = Field(ge=0, lt=1)


class PvInverter(Frozen):
    source: str = Field(min_length=1)
    eta_inv_nom: float = Field(gt=0.5, le=1)
    dc_ac_ratio: float = Field(ge=0.8, le=2)


class PvSystem(Frozen):
    site: PvSite
    module: PvModule
    temperature: PvTemperature
    losses: PvLosses
    inverter: PvInverter


@lru_cache(maxsize=1)
def pv_system() -> PvSystem:
    """The shipped PV system parameters."""
    return load_package_toml("profiles", "pv_system.toml", PvSystem)


def _check(kwp: float, tilt_deg: float, azimuth_deg: float, latitude: float, longitude: float):
    if not (np.isfinite(kwp) and kwp >= 0):
        raise InputError(f"kwp: expected a number >= 0, got {kwp!r}")
    if not 0 <= tilt_deg <= 90:
        raise InputError(f"tilt_deg: expected 0..90, got {tilt_deg!r}")
    if not 0 <= azimuth_deg <= 360:
        raise InputError(f"azimuth_deg: expected 0..360 (180 = south), got {azimuth_deg!r}")
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise InputError(f"latitude/longitude: out of range ({latitude!r}, {longitude!r})")


@lru_cache(maxsize=32)
def _clear_poa(
    d0: int, n_days: int, tilt_deg: float, azimuth_deg: float, latitude: float, longitude: float
) -> np.ndarray:
    """Clear-sky effective plane-of-array irradiance [W/m2] on the 5-min grid (midpoints)."""
    import pandas as pd  # on first use, as pvlib: a cached run never needs them
    import pvlib

    sys = pv_system()
    n = int(n_days * DAY_S / BASE_DT_S)
    t_local = d0 * DAY_S + (np.arange(n) + 0.5) * BASE_DT_S
    # Asia/Shanghai is UTC+8 with no DST: build UTC stamps directly (zoneinfo localising
    # of 10^5 stamps costs seconds).
    times = pd.DatetimeIndex(pd.to_datetime(t_local - UTC_OFFSET_S, unit="s", utc=True))
    sp = pvlib.solarposition.get_solarposition(
        times, latitude, longitude, altitude=sys.site.altitude_m, method="nrel_numpy"
    )
    days = np.floor(t_local / DAY_S).astype(np.int64)
    linke = pd.Series(monthly_on_days(sys.site.linke_turbidity, days), index=times)
    loc = pvlib.location.Location(latitude, longitude, tz="UTC", altitude=sys.site.altitude_m)
    cs = loc.get_clearsky(times, model="ineichen", solar_position=sp, linke_turbidity=linke)
    dni_extra = pvlib.irradiance.get_extra_radiation(times)
    airmass = pvlib.atmosphere.get_relative_airmass(sp["apparent_zenith"])
    poa = pvlib.irradiance.get_total_irradiance(
        tilt_deg,
        azimuth_deg,
        sp["apparent_zenith"],
        sp["azimuth"],
        cs["dni"],
        cs["ghi"],
        cs["dhi"],
        dni_extra=dni_extra,
        airmass=airmass,
        albedo=sys.site.albedo,
        model="haydavies",
    )
    aoi = pvlib.irradiance.aoi(tilt_deg, azimuth_deg, sp["apparent_zenith"], sp["azimuth"])
    iam = pvlib.iam.physical(aoi)
    eff = (
        poa["poa_direct"].to_numpy() * np.nan_to_num(iam.to_numpy()) + poa["poa_diffuse"].to_numpy()
    )
    eff = np.nan_to_num(eff, nan=0.0)
    eff[sp["apparent_zenith"].to_numpy() >= 90.0] = 0.0
    return np.maximum(eff, 0.0)


def _ac_kw(kwp: float, poa_w_m2: np.ndarray, temp_air_c: np.ndarray) -> np.ndarray:
    import pvlib

    sys = pv_system()
    t_cell = pvlib.temperature.faiman(
        poa_w_m2,
        temp_air_c,
        sys.temperature.wind_speed_m_per_s,
        sys.temperature.u0,
        sys.temperature.u1,
    )
    pdc = pvlib.pvsystem.pvwatts_dc(poa_w_m2, t_cell, kwp, sys.module.gamma_pdc_per_k)
    pdc = np.asarray(pdc) * (1.0 - sys.losses.dc_loss_fraction)
    pac0 = kwp / sys.inverter.dc_ac_ratio
    if pac0 <= 0:
        return np.zeros_like(pdc)
    pac = pvlib.inverter.pvwatts(pdc, pac0 / sys.inverter.eta_inv_nom, sys.inverter.eta_inv_nom)
    return np.clip(np.nan_to_num(np.asarray(pac, dtype=np.float64)), 0.0, pac0)


def _pv(
    kwp, start, n_steps, step_s, seed, tilt_deg, azimuth_deg, latitude, longitude, cloudy: bool
) -> np.ndarray:
    _check(kwp, tilt_deg, azimuth_deg, latitude, longitude)
    seed = check_seed(seed)
    d0, nd = base_window(start, n_steps, step_s)
    if n_steps == 0:
        return np.zeros(0)
    poa = _clear_poa(d0, nd, float(tilt_deg), float(azimuth_deg), float(latitude), float(longitude))
    if cloudy:
        poa = poa * clear_sky_index_base(seed, d0, nd)
    base = _ac_kw(float(kwp), poa, ambient_base(seed, d0, nd))
    return np.maximum(to_run(base, d0, start, n_steps, step_s), 0.0)


def pv_kw(
    kwp: float,
    start: dt.date | dt.datetime,
    n_steps: int,
    step_s: float,
    seed: int = 0,
    tilt_deg: float = 20.0,
    azimuth_deg: float = 180.0,
    latitude: float = 30.9,
    longitude: float = 119.9,
) -> np.ndarray:
    """AC output [kW] >= 0 of a rooftop array of `kwp` kWp DC, mean of each step; 0 at night.

    `azimuth_deg` is clockwise from north (180 = south). Weather (cloud and ambient
    temperature) comes from `seed`.
    """
    return _pv(kwp, start, n_steps, step_s, seed, tilt_deg, azimuth_deg, latitude, longitude, True)


def pv_clear_sky_kw(
    kwp: float,
    start: dt.date | dt.datetime,
    n_steps: int,
    step_s: float,
    seed: int = 0,
    tilt_deg: float = 20.0,
    azimuth_deg: float = 180.0,
    latitude: float = 30.9,
    longitude: float = 119.9,
) -> np.ndarray:
    """The clear-sky envelope of `pv_kw` [kW]: same system and ambient, no cloud."""
    return _pv(kwp, start, n_steps, step_s, seed, tilt_deg, azimuth_deg, latitude, longitude, False)
