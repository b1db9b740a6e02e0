"""The published figures of the first storage project and the twin's own assumptions.

Read from ``twin/data/first_project.toml``: every number there carries its source. The
tariff's prices and charges are the `profiles` package's data (one file per scheme); the grid
limits are `parktwin.limits`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from pydantic import Field

from parktwin.billing import BillingBasis
from parktwin.config import Frozen, load_package_toml


class Published(Frozen):
    source: str
    enterprise: str
    storage_group: str
    nameplate_kwh: Annotated[float, Field(gt=0)]
    nameplate_note: str
    throughput_kwh_per_day: Annotated[float, Field(gt=0)]
    throughput_note: str
    savings_yuan_per_year: Annotated[float, Field(gt=0)]
    savings_note: str
    target_deviation: Annotated[float, Field(gt=0, lt=1)]


class Economics(Frozen):
    basic_charge: BillingBasis
    basic_charge_source: str
    storage_in_capacity_base: bool
    storage_in_capacity_base_source: str
    one_way_efficiency: Annotated[float, Field(gt=0.5, le=1.0)]
    one_way_efficiency_source: str
    efficiency_spread: Annotated[float, Field(ge=0.0, lt=0.2)]
    efficiency_spread_source: str
    operating_days_note: str


class Availability(Frozen):
    """Default unavailability of a storage unit (a scenario may override each figure)."""

    planned_maintenance_days_per_year: Annotated[float, Field(ge=0, le=365)]
    planned_source: str
    forced_outage_rate: Annotated[float, Field(ge=0, lt=1)]
    forced_source: str
    grid_stop_days_per_year: Annotated[float, Field(ge=0, le=365)]
    grid_stop_source: str


class Comparable(Frozen):
    """A comparable project's published use, beside the twin's."""

    equivalent_full_cycles_per_year: Annotated[float, Field(gt=0)]
    source: str


class Assumptions(Frozen):
    published: Published
    economics: Economics
    availability: Availability
    comparable: Comparable


@lru_cache(maxsize=1)
def assumptions() -> Assumptions:
    """The shipped file, validated (cached)."""
    return load_package_toml("twin", "first_project.toml", Assumptions)
