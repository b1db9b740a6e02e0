"""Time series that drive the twin: enterprise loads, rooftop PV, weather, tariffs, bills.

Time convention: local time Asia/Shanghai (UTC+8, no DST); a run is ``(start, n_steps,
step_s)``, step k covers ``[start + k*step_s, start + (k+1)*step_s)`` and every series is
a float64 array of the mean over each step. `start` is a date (its midnight), a naive
datetime (local time) or an aware datetime (converted).

    load_kw       synthetic enterprise load by industry (INDUSTRIES), annual energy and peak
    pv_kw         rooftop PV AC output (pvlib chain, seeded clouds); pv_clear_sky_kw its envelope
    ambient_c     Huzhou air temperature (climatology, seeded day-to-day weather)
    tariff_for    the Zhejiang TOU scheme in force on a date; tou_series periods/prices of a run
    bill          monthly bill of a metered series (energy by period, basic charge on a capacity,
                  demand or contract basis, power-factor adjustment)
    read_agency_prices  the grid company's monthly agency-purchase prices from a CSV file
    read_meter_csv  validated meter (or PV) CSV, resampled to the run's step

This package never imports `twin`, `hil` or `grid`.
"""

from profiles.bill import Bill, BillMonth, Savings, basic_charge_yuan, bill, savings
from profiles.loads import INDUSTRIES, load_kw, natural_load_factor
from profiles.meter import MeterSeries, read_meter_csv
from profiles.pv import pv_clear_sky_kw, pv_kw
from profiles.tariff import (
    AgencyPrices,
    Period,
    TariffScheme,
    TouSeries,
    load_scheme,
    read_agency_prices,
    schemes,
    tariff_for,
    tou_series,
)
from profiles.weather import ambient_c

__all__ = [
    "INDUSTRIES",
    "AgencyPrices",
    "Bill",
    "BillMonth",
    "MeterSeries",
    "Period",
    "Savings",
    "TariffScheme",
    "TouSeries",
    "ambient_c",
    "basic_charge_yuan",
    "bill",
    "load_kw",
    "load_scheme",
    "natural_load_factor",
    "pv_clear_sky_kw",
    "pv_kw",
    "read_agency_prices",
    "read_meter_csv",
    "savings",
    "schemes",
    "tariff_for",
    "tou_series",
]
