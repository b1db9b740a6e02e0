"""Contracts between packages that cannot import each other.

The grid's site file names each storage unit's type; the devices package must ship every
type the default site uses.
"""


def test_every_unit_type_of_the_default_site_is_shipped_by_devices() -> None:
    from devices import unit_types
    from grid import default_site

    assert {g.unit_type for g in default_site().storage} <= set(unit_types())


def test_every_builtin_strategy_name_has_its_class() -> None:
    from parktwin.strategy_names import BUILTIN_STRATEGIES
    from twin.strategies import BUILTIN

    assert tuple(BUILTIN) == BUILTIN_STRATEGIES
