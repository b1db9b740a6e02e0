"""Names of the built-in dispatch strategies, as written in scenario and study files.

The strategies themselves live in `twin.strategies`; the names are here so that every
package that writes or checks a scenario (the twin, the HIL bench) spells them one way.
"""

from __future__ import annotations

from enum import StrEnum


class StrategyName(StrEnum):
    """A built-in strategy's name (a `str`: compares and serialises as its value)."""

    TOU = "tou"
    PEAK_SHAVING = "peak_shaving"
    LP = "lp"
    IDLE = "idle"
    EXTERNAL = "external"


#: Every built-in strategy name, in a fixed order (for messages and listings).
BUILTIN_STRATEGIES: tuple[str, ...] = tuple(s.value for s in StrategyName)
