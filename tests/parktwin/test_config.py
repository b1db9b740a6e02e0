"""Validated TOML loading: one-line errors naming file and field; typed results."""

from pathlib import Path

import pytest
from pydantic import Field

from parktwin.config import Frozen, load_toml, validate
from parktwin.errors import InputError


class Unit(Frozen):
    name: str
    p_kw: float = Field(gt=0)


class Site(Frozen):
    units: list[Unit]


def test_valid_file_gives_typed_model(tmp_path: Path) -> None:
    f = tmp_path / "site.toml"
    f.write_text('[[units]]\nname = "a"\np_kw = 1250\n')
    site = load_toml(f, Site)
    assert site.units[0].p_kw == 1250.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[[units]]\nname = "a"\np_kw = -5\n',
            "units[0].p_kw: Input should be greater than 0 (got -5)",
        ),
        ('[[units]]\nname = "a"\n', "units[0].p_kw: Field required"),
        (
            '[[units]]\nname = "a"\np_kw = 1\npkw = 2\n',
            "units[0].pkw: Extra inputs are not permitted",
        ),
        ("[[units]\n", "not valid TOML"),
    ],
)
def test_bad_file_gives_one_line_naming_file_and_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    f = tmp_path / "site.toml"
    f.write_text(text)
    with pytest.raises(InputError) as info:
        load_toml(f, Site)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(f))
    assert expected in message


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.toml: no such file"):
        load_toml(tmp_path / "nope.toml", Site)


def test_more_errors_are_counted() -> None:
    with pytest.raises(InputError, match=r"\(and 1 more\)"):
        validate({"units": [{"name": "a", "p_kw": -1}, {"name": "b", "p_kw": 0}]}, Site, "x")


def test_an_unknown_key_with_a_line_break_stays_one_line(tmp_path) -> None:
    # found by tests/twin/test_fuzz_inputs.py: a TOML key may hold any character
    class Model(Frozen):
        days: int = 1

    path = tmp_path / "s.toml"
    path.write_text('"\\n" = false\ndays = 2\n')
    with pytest.raises(InputError) as info:
        load_toml(path, Model)
    assert "\n" not in str(info.value) and "'\\n': Extra inputs are not permitted" in str(
        info.value
    )
