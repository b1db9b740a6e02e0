"""Meter CSV: good files read and resampled; broken files refused with one line."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from parktwin.errors import InputError
from profiles import read_meter_csv

from .strategies import broken_meter_csv


def _write(tmp_path, text: str, name: str = "meter.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_good_file_with_offsets_and_formats(tmp_path) -> None:
    text = (
        "timestamp,power_kw\n"
        "2024-03-01T00:00:00+08:00,800\n"
        "2024-02-29T16:15:00Z,600\n"  # = 2024-03-01 00:15 local
        "2024-03-01 00:30,400\n"
        "2024/03/01 00:45,-40\n"
    )
    m = read_meter_csv(_write(tmp_path, text))
    assert m.start == dt.datetime(2024, 3, 1)
    assert m.step_s == 900 and m.resolution_s == 900
    assert m.p_kw.tolist() == [800, 600, 400, -40]
    assert m.energy_kwh == pytest.approx((800 + 600 + 400) * 0.25)
    assert m.export_kwh == pytest.approx(10.0)
    assert m.peak_kw == 800
    assert m.end == dt.datetime(2024, 3, 1, 1)


def test_units_and_label(tmp_path) -> None:
    text = "timestamp,power_w\n2024-03-01 00:15,800000\n2024-03-01 00:30,600000\n"
    m = read_meter_csv(_write(tmp_path, text), label="end")
    assert m.start == dt.datetime(2024, 3, 1)
    assert m.p_kw.tolist() == [800.0, 600.0]


def test_resampling_conserves_energy(tmp_path) -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(100, 900, 96 * 2)
    t0 = dt.datetime(2024, 6, 1)
    rows = [f"{(t0 + dt.timedelta(minutes=15 * k)).isoformat()},{v:.6f}" for k, v in enumerate(p)]
    path = _write(tmp_path, "timestamp,power_kw\n" + "\n".join(rows) + "\n")
    base = read_meter_csv(path)
    for step in (60.0, 300.0, 3600.0, 86400.0):
        m = read_meter_csv(path, step_s=step)
        assert m.n_steps * m.step_s == base.span_s
        assert m.energy_kwh == pytest.approx(base.energy_kwh, rel=1e-12)
    assert read_meter_csv(path, step_s=3600).p_kw[0] == pytest.approx(base.p_kw[:4].mean())
    with pytest.raises(InputError, match="does not divide"):
        read_meter_csv(path, step_s=7 * 3600)


@pytest.mark.parametrize(
    ("header", "word"),
    [
        ("timestamp,energy_kwh", "energy"),
        ("timestamp,q_kvar", "reactive"),
        ("timestamp,s_kva", "apparent"),
        ("time,power_kw,extra", "header"),
        ("timestamp,current_a", "not a power"),
    ],
)
def test_wrong_units_or_header(tmp_path, header: str, word: str) -> None:
    path = _write(tmp_path, f"{header}\n2024-03-01 00:00,1\n2024-03-01 00:15,2\n")
    with pytest.raises(InputError) as info:
        read_meter_csv(path)
    msg = str(info.value)
    assert word in msg and "row 1" in msg and str(path) in msg and "\n" not in msg


def test_empty_short_and_missing_files(tmp_path) -> None:
    with pytest.raises(InputError, match="empty file"):
        read_meter_csv(_write(tmp_path, ""))
    with pytest.raises(InputError, match="1 data row"):
        read_meter_csv(_write(tmp_path, "timestamp,power_kw\n2024-03-01 00:00,1\n"))
    with pytest.raises(InputError, match="no such file"):
        read_meter_csv(tmp_path / "nope.csv")


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(broken_meter_csv())
def test_broken_files_are_refused_naming_file_row_and_problem(tmp_path, case) -> None:
    text, word, row = case
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as info:
        read_meter_csv(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: row {row}: "), msg
    assert word in msg, msg
