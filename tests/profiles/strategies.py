"""Hypothesis strategies for the profiles tests."""

from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

# Steps that meters and the engine use, and some odd ones.
STEPS_S = (60.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 86400.0)


def dates(lo: dt.date = dt.date(2020, 1, 1), hi: dt.date = dt.date(2035, 12, 31)):
    return st.dates(min_value=lo, max_value=hi)


def starts_on_grid(step_s: float):
    """Local datetimes aligned to `step_s` (steps divide a day)."""
    align = step_s
    return st.builds(
        lambda d, k: dt.datetime(d.year, d.month, d.day) + dt.timedelta(seconds=k * align),
        dates(dt.date(2023, 1, 1), dt.date(2027, 12, 31)),
        st.integers(0, int(86400 // align) - 1),
    )


def power_series(n_min: int = 1, n_max: int = 400):
    """Mean powers [kW] including export (negative) and zero."""
    return st.lists(
        st.floats(-500.0, 5000.0, allow_nan=False, allow_infinity=False),
        min_size=n_min,
        max_size=n_max,
    )


@st.composite
def broken_meter_csv(draw):
    """(text, expected problem word, expected row) of a meter CSV with one defect."""
    n = draw(st.integers(4, 30))
    start = dt.datetime(2024, 3, 1) + dt.timedelta(minutes=15 * draw(st.integers(0, 500)))
    rows = [
        ((start + dt.timedelta(minutes=15 * k)).isoformat(), f"{draw(st.floats(0, 3000)):.3f}")
        for k in range(n)
    ]
    k = draw(st.integers(1, n - 1))  # index of the broken data row (0-based); file row = k + 2
    kind = draw(
        st.sampled_from(
            [
                "gap",
                "duplicate",
                "unordered",
                "non_numeric",
                "nan",
                "impossible",
                "missing",
                "bad_time",
                "fields",
            ]
        )
    )
    expect_row = k + 2
    if kind == "gap":
        m = draw(st.integers(1, 3))
        rows = [
            ((start + dt.timedelta(minutes=15 * (j + (m if j >= k else 0)))).isoformat(), v)
            for j, (_, v) in enumerate(rows)
        ]
        word = "gap"
    elif kind == "duplicate":
        rows[k] = (rows[k - 1][0], rows[k][1])
        word = "duplicate"
    elif kind == "unordered":
        rows[k], rows[k - 1] = rows[k - 1], rows[k]
        word = "before"
    elif kind == "non_numeric":
        rows[k] = (rows[k][0], draw(st.sampled_from(["abc", "1;2", "12kW", "--"])))
        word = "not a number"
    elif kind == "nan":
        rows[k] = (rows[k][0], draw(st.sampled_from(["nan", "inf", "-inf"])))
        word = "not a finite"
    elif kind == "impossible":
        rows[k] = (rows[k][0], f"{draw(st.floats(1.0e5 + 1, 1e9)):.1f}")
        word = "impossible"
    elif kind == "missing":
        rows[k] = (rows[k][0], "")
        word = "missing"
    elif kind == "bad_time":
        rows[k] = (
            draw(st.sampled_from(["yesterday", "2024-13-01 00:00", "01.03.2024"])),
            rows[k][1],
        )
        word = "not a date-time"
    else:
        text_rows = [f"{a},{b}" for a, b in rows]
        text_rows[k] = text_rows[k] + ",extra"
        return "timestamp,power_kw\n" + "\n".join(text_rows) + "\n", "expected 2 fields", expect_row
    text = "timestamp,power_kw\n" + "\n".join(f"{a},{b}" for a, b in rows) + "\n"
    return text, word, expect_row
