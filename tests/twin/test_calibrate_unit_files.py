"""A unit type given as the path of a TOML file wherever a unit type is asked for."""

from __future__ import annotations

from importlib import resources

import pytest

from devices import load_unit_params
from parktwin.errors import InputError
from twin.cli import main

SHIPPED = "lfp280-2236kwh"


def shipped_file(tmp_path, name: str = "mine.toml", edit=None):
    src = resources.files("devices").joinpath("data", "units", f"{SHIPPED}.toml")
    dst = tmp_path / name
    text = src.read_text()
    dst.write_text(edit(text) if edit else text)
    return dst


def test_a_file_loads_as_the_shipped_name_does(tmp_path) -> None:
    path = shipped_file(tmp_path)
    assert load_unit_params(str(path)) == load_unit_params(SHIPPED)
    # a relative path, from the current directory
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        assert load_unit_params("./mine.toml").e_nom_kwh == load_unit_params(SHIPPED).e_nom_kwh
        assert load_unit_params("mine.toml", pcs_kva=1000.0).pcs_kva == 1000.0


def test_a_rewritten_file_is_read_again(tmp_path) -> None:
    path = shipped_file(tmp_path)
    assert load_unit_params(str(path)).cell.capacity_ah == 280.0
    shipped_file(tmp_path, edit=lambda t: t.replace("capacity_ah = 280.0", "capacity_ah = 270.0"))
    import os

    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    assert load_unit_params(str(path)).cell.capacity_ah == 270.0


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (None, r"nowhere\.toml: no such file"),
        (lambda t: t.replace("r0_mohm = 0.5", "r0_mohm = -0.5"), r"bad\.toml: cell\.r0_mohm"),
        (lambda t: t.replace("[pcs]", "[pcs"), r"bad\.toml: not valid TOML"),
    ],
)
def test_bad_unit_type_files_are_one_line(tmp_path, edit, match) -> None:
    path = tmp_path / "nowhere.toml" if edit is None else shipped_file(tmp_path, "bad.toml", edit)
    with pytest.raises(InputError, match=match) as info:
        load_unit_params(str(path))
    assert "\n" not in str(info.value)


def test_unknown_name_says_a_path_is_accepted() -> None:
    with pytest.raises(InputError, match=r"lead-acid.*shipped: .*unit-type \.toml file"):
        load_unit_params("lead-acid")


def test_unit_test_accepts_a_unit_type_file(tmp_path, capsys) -> None:
    path = shipped_file(tmp_path)
    code = main(["unit", "test", "--unit-type", str(path), "--dt", "60", "--cycles", "1"])
    assert code == 0
    assert "unit test: lfp280-2236kwh" in capsys.readouterr().out
    code = main(["unit", "test", "--unit-type", str(tmp_path / "x.toml"), "--dt", "60"])
    err = capsys.readouterr().err
    assert code == 2 and "x.toml: no such file" in err and "Traceback" not in err


def test_study_plan_accepts_a_unit_type_file(tmp_path) -> None:
    from twin.study.model import load_study
    from twin.study.runner import plan_study

    path = shipped_file(tmp_path, edit=lambda t: t.replace("s_kva = 1250.0", "s_kva = 1000.0"))
    study_toml = tmp_path / "study.toml"
    study_toml.write_text(
        f'[[candidates]]\nenterprises = ["xinsheng"]\nunit_type = "{path}"\nunits = 1\n'
    )
    plan = plan_study(load_study(study_toml))
    assert plan.candidates[0].pcs_kva == 1000.0


def test_site_storage_accepts_a_unit_type_file(tmp_path) -> None:
    from grid import default_site
    from twin.layout import layout_from_site

    path = shipped_file(
        tmp_path, edit=lambda t: t.replace("capacity_ah = 280.0", "capacity_ah = 250.0")
    )
    site = default_site()
    group = site.storage[0].model_copy(update={"unit_type": str(path)})
    site = site.model_copy(update={"storage": (group, *site.storage[1:])})
    layout = layout_from_site(site)
    assert layout.unit_params[0].cell.capacity_ah == 250.0


def test_a_relative_unit_type_file_is_taken_from_the_site_or_study_file(tmp_path) -> None:
    from grid import load_site
    from twin.layout import layout_from_site
    from twin.study.model import load_study
    from twin.study.runner import plan_study

    folder = tmp_path / "xinsheng"
    folder.mkdir()
    shipped_file(
        folder, "unit.toml", lambda t: t.replace("capacity_ah = 280.0", "capacity_ah = 250.0")
    )
    park = resources.files("grid").joinpath("data", "park.toml").read_text()
    site_path = folder / "site.toml"
    site_path.write_text(park.replace('unit_type = "lfp280-2236kwh"', 'unit_type = "unit.toml"', 1))
    study_path = folder / "study.toml"
    study_path.write_text(
        '[study]\nsite = "site.toml"\n'
        '[[candidates]]\nenterprises = ["xinsheng"]\nunit_type = "./unit.toml"\nunits = 1\n'
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)  # elsewhere: the files' own folder decides
        site = load_site(site_path)
        assert site.storage[0].unit_type == str(folder / "unit.toml")
        assert site.storage[1].unit_type == "lfp280-2236kwh"
        assert layout_from_site(site).unit_params[0].cell.capacity_ah == 250.0
        plan = plan_study(load_study(study_path))
    assert plan.candidates[0].unit_type == str(folder / "unit.toml")
