"""Dispatch strategies: what the site controller decides each control period.

Built in: ``tou`` (two charges, two discharges from the tariff's own windows),
``peak_shaving`` (monthly demand target), ``lp`` (day-ahead optimum, HiGHS), ``idle``,
``external`` (setpoints written from another thread: the HIL bench). A user's own class is
loaded from "module.path:ClassName" (see `load_strategy`). The guards (`twin.guards`) apply
over every one of them.
"""

from twin.strategies.base import (
    Forecast,
    Idle,
    Observation,
    ParkInfo,
    Strategy,
    load_strategy,
)
from twin.strategies.external import ExternalSetpoints
from twin.strategies.lp import DayAheadLP, solve_day
from twin.strategies.peak_shaving import PeakShaving
from twin.strategies.tou import TimeOfUse

BUILTIN: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (TimeOfUse, PeakShaving, DayAheadLP, Idle, ExternalSetpoints)
}

__all__ = [
    "BUILTIN",
    "DayAheadLP",
    "ExternalSetpoints",
    "Forecast",
    "Idle",
    "Observation",
    "ParkInfo",
    "PeakShaving",
    "Strategy",
    "TimeOfUse",
    "load_strategy",
    "solve_day",
]
