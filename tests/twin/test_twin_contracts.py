"""Contracts between packages that cannot import each other (so no single source of truth).

The grid's site file names each enterprise's industry; the profiles package must have a
load shape for every name the site model accepts, and the site model must accept every
industry profiles can draw.
"""

import typing

from grid.site import Industry
from profiles import INDUSTRIES


def test_site_industries_are_exactly_the_profiled_ones() -> None:
    assert tuple(typing.get_args(Industry)) == tuple(INDUSTRIES)


def test_every_unit_type_of_the_default_site_is_shipped_by_devices() -> None:
    from devices import unit_types
    from grid import default_site

    assert {g.unit_type for g in default_site().storage} <= set(unit_types())
