"""The study file: validation with one-line errors, candidate expansion, stable keys."""

import textwrap

import pytest

from parktwin.errors import InputError
from twin.study.bisect import bisect_largest
from twin.study.candidates import Candidate, default_trafo_kva, expand_candidates
from twin.study.model import Study, default_finance, load_study

ENTERPRISES = ("xinsheng", "xunchi", "liyi")
RATED = {"lfp280-2236kwh": 1250.0, "lfp314-5016kwh": 2500.0}


def pcs_of(unit_type: str) -> float:
    if unit_type not in RATED:
        raise InputError(f"unknown unit type {unit_type!r}")
    return RATED[unit_type]


def write(tmp_path, text: str):
    path = tmp_path / "study.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_minimal_study_takes_the_defaults(tmp_path) -> None:
    study = load_study(
        write(
            tmp_path,
            '[[candidates]]\nenterprises = "xinsheng"\nunit_type = "lfp314-5016kwh"\nunits = 4\n',
        )
    )
    assert study.study.load_growth_per_year == pytest.approx(0.245)
    assert study.finance == default_finance()
    assert "capex_yuan_per_kwh" in study.finance.sources
    (cand,) = expand_candidates(study, ENTERPRISES, pcs_of)
    assert cand == Candidate(
        enterprise="xinsheng",
        unit_type="lfp314-5016kwh",
        units=4,
        pcs_kva=2500.0,
        trafo_kva=2500.0,
        strategy="tou",
    )


def test_grid_is_a_cartesian_product_and_ranges_expand(tmp_path) -> None:
    study = load_study(
        write(
            tmp_path,
            """
            [study]
            years = 2
            [finance]
            discount_rate = 0.08
            discount_rate_source = "owner's hurdle rate"
            [[candidates]]
            enterprises = "all"
            unit_type = ["lfp280-2236kwh"]
            units = { min = 1, max = 5, step = 2 }
            pcs_kva = [1000.0, 1250.0]
            strategy = ["tou", "lp"]
            [[candidates]]
            enterprises = ["liyi"]
            unit_type = "lfp280-2236kwh"
            units = [3]
            pcs_kva = 1000.0
            strategy = "tou"
            """,
        )
    )
    assert study.finance.discount_rate == 0.08
    assert study.finance.sources["discount_rate"] == "owner's hurdle rate"
    assert study.finance.lifetime_years == default_finance().lifetime_years
    cands = expand_candidates(study, ENTERPRISES, pcs_of)
    # 3 enterprises x 3 sizes x 2 PCS x 2 strategies; the second table repeats one: dropped
    assert len(cands) == 36
    assert {c.units for c in cands} == {1, 3, 5}
    assert {c.trafo_kva for c in cands} == {1000.0, 1250.0}
    assert len({c.key for c in cands}) == 36


def test_days_shortens_years_and_hosting(tmp_path) -> None:
    study = load_study(
        write(
            tmp_path,
            '[study]\ndays = 365\n[[candidates]]\nenterprises = "x"\nunit_type = "t"\n'
            "units = 1\n[hosting]\ndays = 7\n",
        )
    )
    assert study.with_days(None) is study
    assert (study.with_days(14).study.days, study.with_days(14).hosting.days) == (14, 7)
    assert (study.with_days(3).study.days, study.with_days(3).hosting.days) == (3, 3)
    with pytest.raises(InputError, match="--days"):
        study.with_days(0)


def test_key_is_stable_and_field_sensitive() -> None:
    a = Candidate(
        enterprise="x", unit_type="t", units=2, pcs_kva=1250.0, trafo_kva=1600.0, strategy="tou"
    )
    # a fixed value: the key must not change between runs, machines or versions of Python
    assert a.key == Candidate.model_validate(a.model_dump()).key
    assert len(a.key) == 16
    assert a.model_copy(update={"units": 3}).key != a.key
    assert a.model_copy(update={"pcs_kva": 1250.0000001}).key != a.key


def test_default_transformer_is_the_next_standard_rating() -> None:
    assert default_trafo_kva(1250.0) == 1250.0
    assert default_trafo_kva(1300.0) == 1600.0
    assert default_trafo_kva(2500.0) == 2500.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[study]\nyears = 1\n", "candidates: Field required"),
        (
            '[[candidates]]\nenterprises = "x"\nunit_type = "t"\nunits = 0\n',
            "candidates[0].units",
        ),
        (
            '[[candidates]]\nenterprises = "x"\nunit_type = "t"\nunits = {min = 4, max = 2}\n',
            "max (2) is below min (4)",
        ),
        (
            '[finance]\ndiscount_rate = "six"\n[[candidates]]\nenterprises = "x"\nunit_type = "t"\nunits = 1\n',
            "finance.discount_rate",
        ),
        (
            '[finance]\nbogus_source = "x"\n[[candidates]]\nenterprises = "x"\nunit_type = "t"\nunits = 1\n',
            "bogus_source: documents an unknown field",
        ),
        (
            '[study]\nyers = 3\n[[candidates]]\nenterprises = "x"\nunit_type = "t"\nunits = 1\n',
            "study.yers: Extra inputs are not permitted",
        ),
        ("[study\n", "not valid TOML"),
    ],
)
def test_bad_files_give_one_line(tmp_path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_study(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(str(path))
    assert message in msg


def test_unknown_enterprise_and_unit_type_name_the_field(tmp_path) -> None:
    study = Study.model_validate(
        {"candidates": [{"enterprises": ["nowhere"], "unit_type": "lfp314-5016kwh", "units": 1}]}
    )
    with pytest.raises(
        InputError, match=r"candidates\[0\]\.enterprises: unknown enterprise 'nowhere'"
    ):
        expand_candidates(study, ENTERPRISES, pcs_of)
    study = Study.model_validate(
        {"candidates": [{"enterprises": "all", "unit_type": "lead-acid", "units": 1}]}
    )
    with pytest.raises(InputError, match=r"candidates\[0\]\.unit_type: unknown unit type"):
        expand_candidates(study, ENTERPRISES, pcs_of)


def test_relative_site_is_taken_from_the_study_folder(tmp_path) -> None:
    path = write(
        tmp_path,
        '[study]\nsite = "my-site.toml"\n[[candidates]]\nenterprises = "x"\nunit_type = "t"\nunits = 1\n',
    )
    assert load_study(path).study.site == (tmp_path / "my-site.toml").resolve()


@pytest.mark.parametrize("threshold", [0, 1, 2, 5, 11, 12, 13])
def test_bisection_brackets_the_first_violating_size(threshold: int) -> None:
    # Sizes up to `threshold` pass (0 always: the status quo), larger ones break a limit.
    calls = []

    def passes(n: int) -> bool:
        calls.append(n)
        return n <= threshold

    b = bisect_largest(passes, 0, 12)
    if threshold >= 12:
        assert (b.largest_ok, b.first_bad) == (12, None)
        assert calls == [12]
    else:
        assert (b.largest_ok, b.first_bad) == (max(threshold, 0), threshold + 1)
        assert len(calls) <= 1 + 4  # hi, then ceil(log2(12)) halvings
    assert all(passed == (n <= threshold) for n, passed in b.probes)
