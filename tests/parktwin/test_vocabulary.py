"""The shared vocabulary in `parktwin`: each name list agrees with its enum or Literal."""

import pytest

from parktwin.errors import InputError
from parktwin.industries import INDUSTRIES
from parktwin.pcs_states import PcsState
from parktwin.strategy_names import BUILTIN_STRATEGIES, StrategyName
from parktwin.tariff_periods import PERIOD_CODES, PERIOD_KEYS, Period


def test_period_names_are_the_enum_in_code_order() -> None:
    # PeriodName (the Literal files are validated against) and Period (the codes) are
    # two spellings in one module; this holds them in step.
    assert tuple(p.key for p in Period) == PERIOD_KEYS
    assert [PERIOD_CODES[k] for k in PERIOD_KEYS] == list(range(len(Period)))


def test_period_parse_takes_names_codes_and_members_and_names_bad_input() -> None:
    assert Period.parse("deep_valley") is Period.DEEP_VALLEY
    assert Period.parse(4) is Period.SHARP
    assert Period.parse(Period.FLAT) is Period.FLAT
    with pytest.raises(InputError, match=r"^period: unknown 'noon', expected one of deep_valley"):
        Period.parse("noon")


def test_strategy_names_are_plain_strings() -> None:
    assert BUILTIN_STRATEGIES == ("tou", "peak_shaving", "lp", "idle", "external")
    assert all(type(s) is str for s in BUILTIN_STRATEGIES)
    assert StrategyName("peak_shaving") is StrategyName.PEAK_SHAVING


def test_industries_and_pcs_codes_are_fixed() -> None:
    # The order of INDUSTRIES seeds the load profiles; the PCS codes are on the registers.
    assert INDUSTRIES[0] == "magnets" and len(INDUSTRIES) == len(set(INDUSTRIES)) == 8
    assert [int(s) for s in PcsState] == [0, 1, 2, 3, 4]
