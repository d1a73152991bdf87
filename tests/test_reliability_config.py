"""Config words and types (docs/reliability.md), generated from the schema so it follows every rename: every
bool and Literal field given YAML 1.1 words (on/off/yes/no), wrong types, negative sizes and
unknown keys end in a ConfigError naming the field and what it accepts; nothing starts."""

from __future__ import annotations

import re
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import pytest
from annotated_types import Ge, Gt
from pydantic import BaseModel

from clusterface.cli import main
from clusterface.config import ConfigError, load_config
from clusterface.config.schema import MARGIN_CONFIGS, Config

WORDS = {"on": True, "off": False, "yes": True, "no": False}


def _sections() -> list[tuple[str, type[BaseModel], dict[str, str]]]:
    """(section name, its class, the overrides that select it): margin once per kind."""
    out: list[tuple[str, type[BaseModel], dict[str, str]]] = []
    for name, field in Config.model_fields.items():
        if name == "margin":
            out += [("margin", cls, {"margin.kind": kind}) for kind, cls in MARGIN_CONFIGS.items()]
        else:
            out.append((name, field.annotation, {}))  # type: ignore[arg-type]
    return out


def _fields(kind: str) -> list[tuple[str, str, Any, dict[str, str]]]:
    """(section, field, FieldInfo, selecting overrides) of every field whose type is ``kind``."""
    found = []
    for section, cls, select in _sections():
        for name, info in cls.model_fields.items():
            ann = info.annotation
            members = get_args(ann) if get_origin(ann) in (Union, UnionType) else (ann,)
            if name == "kind" and section == "margin":
                continue  # the kind picks the class: covered by the unknown-kind test in test_config.py
            is_kind = {
                "bool": ann is bool,
                "literal": get_origin(ann) is Literal,
                "number": bool({int, float} & set(members)) and bool not in members,
            }[kind]
            if is_kind:
                found.append((section, name, info, select))
    return found


def _ids(cases: list[tuple[str, str, Any, dict[str, str]]]) -> list[str]:
    return [f"{s}.{f}" + (f"[{sel['margin.kind']}]" if sel else "") for s, f, _, sel in cases]


def _load(tmp_path: Path, section: str, field: str, raw: str, select: dict[str, str]) -> Config:
    """The value written bare in a YAML file, and separately as an override; both must agree."""
    path = tmp_path / "c.yaml"
    path.write_text(f"{section}:\n  {field}: {raw}\n")
    overrides = [f"{k}={v}" for k, v in select.items()]
    from_file = load_config(path, overrides)
    from_override = load_config(None, [*overrides, f"{section}.{field}={raw}"])
    assert from_file == from_override
    return from_file


BOOLS = _fields("bool")
LITERALS = _fields("literal")
NUMBERS = _fields("number")


def test_the_schema_has_fields_of_every_kind() -> None:
    # guards the generated cases against a schema change that would leave them empty
    assert len(BOOLS) >= 8 and len(LITERALS) >= 6 and len(NUMBERS) >= 30


@pytest.mark.parametrize(("section", "field", "info", "select"), BOOLS, ids=_ids(BOOLS))
def test_bool_fields_take_yaml_words(tmp_path: Path, section: str, field: str, info: Any, select: dict) -> None:
    for word, expected in WORDS.items():
        assert getattr(getattr(_load(tmp_path, section, field, word, select), section), field) is expected
    with pytest.raises(ConfigError, match=rf"{section}\.{field}: .*'maybe'.*accepted: true/false, yes/no, on/off"):
        _load(tmp_path, section, field, "maybe", select)


@pytest.mark.parametrize(("section", "field", "info", "select"), LITERALS, ids=_ids(LITERALS))
def test_literal_fields_take_every_choice_bare_and_name_them(
    tmp_path: Path, section: str, field: str, info: Any, select: dict
) -> None:
    choices = get_args(info.annotation)
    for choice in choices:  # "off", "no", ... written without quotes stay the word written
        assert getattr(getattr(_load(tmp_path, section, field, str(choice), select), section), field) == choice
    for wrong in ("definitely-not", "yes", "off" if "off" not in choices else "on"):
        with pytest.raises(ConfigError) as info_:
            _load(tmp_path, section, field, wrong, select)
        message = str(info_.value)
        assert f"{section}.{field}:" in message and repr(wrong) in message
        assert all(repr(c) in message for c in choices), message


@pytest.mark.parametrize(("section", "field", "info", "select"), NUMBERS, ids=_ids(NUMBERS))
def test_number_fields_refuse_booleans_words_and_negative_sizes(
    tmp_path: Path, section: str, field: str, info: Any, select: dict
) -> None:
    # before: `true` / `yes` were read as 1 by int and float fields and the run started
    for raw in ("true", "yes", "abc", "[1, 2]"):
        with pytest.raises(ConfigError, match=rf"{section}\.{field}: "):
            _load(tmp_path, section, field, raw, select)
    bound = next((m for m in info.metadata if isinstance(m, Ge | Gt)), None)
    if bound is not None and float(getattr(bound, "ge", getattr(bound, "gt", -1))) >= 0:
        with pytest.raises(ConfigError, match=rf"{section}\.{field}: Input should be greater than .*\(got -1\)"):
            _load(tmp_path, section, field, "-1", select)


@pytest.mark.parametrize(("section", "cls", "select"), _sections(), ids=[s[0] + str(s[2]) for s in _sections()])
def test_unknown_keys_name_the_accepted_ones(tmp_path: Path, section: str, cls: type[BaseModel], select: dict) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, [*(f"{k}={v}" for k, v in select.items()), f"{section}.no_such_key=1"])
    message = str(info.value)
    assert re.search(rf"{section}\.no_such_key: unknown key[^;]*; accepted keys: ", message), message
    if select:  # the margin's keys depend on its kind, which the message names
        assert f"for margin.kind={select['margin.kind']}" in message
    assert all(name in message for name in cls.model_fields)


def test_unknown_section_names_the_sections() -> None:
    with pytest.raises(ConfigError, match=r"trian: unknown key; accepted keys: synth, data, model, margin"):
        load_config(None, ["trian.lr=1"])


def test_a_bad_value_starts_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    code = main(["train", "--out", str(out), "schedule.batch_size=true", "--no-progress"])
    assert code != 0
    assert "schedule.batch_size" in capsys.readouterr().err
    assert not out.exists()
