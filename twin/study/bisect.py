"""Bisection for hosting capacity: the largest size that passes a monotone test."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Bracket:
    """Result of `bisect_largest`.

    `largest_ok` passed, `first_bad` failed (None: even `hi` passed, capacity >= hi);
    ``first_bad == largest_ok + 1`` whenever `first_bad` is not None. `probes` lists every
    (size, passed) tested, in order.
    """

    largest_ok: int
    first_bad: int | None
    probes: tuple[tuple[int, bool], ...]


def bisect_largest(ok: Callable[[int], bool], lo: int, hi: int) -> Bracket:
    """Largest n in [lo, hi] with ``ok(n)``, for `ok` monotone (passes up to a size, then fails).

    `lo` is taken as passing without a probe (the caller's status quo, e.g. 0 units). `hi`
    is probed first, so a bus that takes the whole range costs one run; otherwise
    ceil(log2(hi - lo)) more probes bracket the first failing size.
    """
    if hi < lo:
        raise ValueError(f"hi ({hi}) is below lo ({lo})")
    probes: list[tuple[int, bool]] = []

    def test(n: int) -> bool:
        passed = bool(ok(n))
        probes.append((n, passed))
        return passed

    if hi == lo or test(hi):
        return Bracket(hi, None, tuple(probes))
    good, bad = lo, hi  # invariant: ok(good), not ok(bad)
    while bad - good > 1:
        mid = (good + bad) // 2
        if test(mid):
            good = mid
        else:
            bad = mid
    return Bracket(good, bad, tuple(probes))
