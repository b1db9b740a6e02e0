"""`twin tariff show` and `twin profiles show/check` through the real CLI entry point."""

from __future__ import annotations

import json

from twin.cli import main


def test_tariff_show_json_format(capsys) -> None:
    assert main(["tariff", "show", "--date", "2024-10-03", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data) == ["date", "scheme", "hours"]
    assert data["date"] == "2024-10-03" and data["scheme"] == "zj-2024"
    assert [h["hour"] for h in data["hours"]] == list(range(24))
    assert all(list(h) == ["hour", "period", "price_yuan_per_kwh"] for h in data["hours"])
    assert {h["period"] for h in data["hours"]} <= {
        "deep_valley",
        "valley",
        "flat",
        "peak",
        "sharp",
    }
    assert [h["period"] for h in data["hours"][10:14]] == ["deep_valley"] * 4  # National Day
    assert data["hours"][0] == {"hour": 0, "period": "valley", "price_yuan_per_kwh": 0.2394}


def test_tariff_show_table_and_bad_date(capsys) -> None:
    assert main(["tariff", "show", "--date", "2026-08-12"]) == 0
    out = capsys.readouterr().out
    assert "zj-2026" in out and "sharp" in out and "demand charge" in out
    assert main(["tariff", "show", "--date", "12/08/2026"]) == 2
    err = capsys.readouterr().err
    assert err.strip().startswith("error: --date") and "Traceback" not in err


def test_profiles_show_default_site_with_png(tmp_path, capsys) -> None:
    png = tmp_path / "profiles.png"
    assert main(["profiles", "show", "--days", "1", "--step", "3600", "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert "xinsheng" in out and "park" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["profiles", "show", "--days", "0"]) == 2


def test_profiles_check_good_and_bad(tmp_path, capsys) -> None:
    good = tmp_path / "good.csv"
    good.write_text(
        "timestamp,power_kw\n2024-03-01 00:00,100\n2024-03-01 00:15,300\n2024-03-01 00:30,200\n",
        encoding="utf-8",
    )
    assert main(["profiles", "check", str(good)]) == 0
    out = capsys.readouterr().out
    assert "resolution 15 min" in out and "import 150.0 kWh" in out and "peak 300.0 kW" in out
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "timestamp,power_kw\n2024-03-01 00:00,100\n2024-03-01 00:15,x\n", encoding="utf-8"
    )
    assert main(["profiles", "check", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {bad}: row 3: power 'x' is not a number"


def test_profiles_show_uses_the_engines_series() -> None:
    # `twin profiles show --seed N` must show what `twin run` with seed N is driven by.
    import datetime as dt

    import numpy as np

    import grid
    from profiles.site_profiles import enterprise_profiles
    from twin.inputs import build_inputs

    site = grid.default_site()
    inputs = build_inputs(site, dt.date(2024, 7, 8), 96, 900, seed=3)
    shown = enterprise_profiles(
        site.enterprises,
        dt.date(2024, 7, 8),
        96,
        900,
        seed=3,
        latitude=site.latitude,
        longitude=site.longitude,
    )
    for i, p in enumerate(shown):
        assert np.array_equal(inputs.load_kw[:, i], p.load_kw)
        assert np.array_equal(inputs.pv_kw[:, i], p.pv_kw)
