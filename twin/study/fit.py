"""The three verdicts of a candidate: where on the feeders it fits, and at what price.

A study runs every candidate (and the status quo) both ways: **as dispatched** (the
strategy as it is) and **grid-aware** (the guard of `twin.grid_guard` caps storage where
it would push a line, transformer or bus voltage past its limit). Each run is judged
against the status quo run the same way (`twin.study.verdict.grid_verdict`). From the two:

1. *fits as dispatched*: no violation of the candidate's making with the strategy as it is;
2. *fits grid-aware*: none with the guard on; what that costs is the candidate's savings
   as dispatched minus its savings grid-aware (each beyond its own status quo) [yuan/yr];
3. *reinforce*: it does not fit without reinforcement; ``reinforce_from_year`` names the
   elements it breaks and the first calendar year it breaks each (as dispatched: what a
   reinforcement must carry to let it run as its strategy wants).

The verdict is the first of these that holds; a verdict whose run a study skipped
(``[study] grid_aware = true`` or ``false``) is None, and ``open`` says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from twin.study.verdict import GridVerdict

FITS = "fits"
FITS_GRID_AWARE = "fits grid-aware"
REINFORCE = "reinforce"
OPEN = "open"  # breaks a limit as dispatched; the grid-aware run was not made


@dataclass(frozen=True)
class Fit:
    """A candidate's three verdicts (see the module doc)."""

    fits_as_dispatched: bool | None  # None: the study did not run it as dispatched
    fits_grid_aware: bool | None  # None: the study did not run it grid-aware
    grid_aware_cost_yuan_per_year: float  # savings given up to the guard (NaN: one way only)
    reinforce_from_year: dict[str, int]  # "line:NAME" -> first calendar year it is broken
    verdict: str  # FITS, FITS_GRID_AWARE, REINFORCE or OPEN


def first_years(added_per_year: list[dict[str, int]], start_year: int) -> dict[str, int]:
    """Element -> the calendar year of the first simulated year it is broken in, most
    steps first within a year (`twin.study.verdict.added_by_year`)."""
    out: dict[str, int] = {}
    for k, added in enumerate(added_per_year):
        for element, _ in sorted(added.items(), key=lambda kv: -kv[1]):
            out.setdefault(element, start_year + k)
    return out


def fit_of(
    dispatched: GridVerdict | None,
    aware: GridVerdict | None,
    breaks: dict[str, int],
    savings_dispatched_yuan: float = math.nan,
    savings_aware_yuan: float = math.nan,
) -> Fit:
    """The verdicts from the grid verdicts of the two runs (None: not run), the elements
    `breaks` (element -> first year: as dispatched, or grid-aware where that is all there
    is) and the mean savings per year of each run beyond its status quo [yuan/yr]."""
    a = dispatched.grid_ok if dispatched is not None else None
    b = aware.grid_ok if aware is not None else None
    if a:
        verdict = FITS
    elif b:
        verdict = FITS_GRID_AWARE
    elif b is None:
        verdict = OPEN
    else:
        verdict = REINFORCE
    return Fit(
        fits_as_dispatched=a,
        fits_grid_aware=b,
        grid_aware_cost_yuan_per_year=savings_dispatched_yuan - savings_aware_yuan,
        reinforce_from_year={} if a else dict(breaks),
        verdict=verdict,
    )


def reinforce_text(reinforce_from_year: dict[str, int], most: int = 3) -> str:
    """``line:F08 to spinning 2028; trafo:... 2029`` (the first `most`, then ``+N``)."""
    items = [f"{e} {y}" for e, y in sorted(reinforce_from_year.items(), key=lambda kv: kv[1])]
    more = f"; +{len(items) - most}" if len(items) > most else ""
    return "; ".join(items[:most]) + more
