"""Load a config from YAML plus dotted ``section.field=value`` overrides; save it back."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from clusterface.config.migrate import is_old_layout, migrate_config_tree, renamed_key
from clusterface.config.schema import DEFAULT_MARGIN_KIND, MARGIN_CONFIGS, Config


class ConfigError(ValueError):
    """A config file or override that cannot be used; the message names it and the fix."""


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 booleans: only true/false are booleans.

    YAML 1.1 also reads yes/no/on/off as booleans, so ``runtime.amp: off`` arrived as False and
    failed against the choice "off", and ``data.source: no`` was not a string. Here they stay the
    words written; bool fields still accept them (pydantic reads "on", "off", "yes", "no" as bools).
    """


_BOOL_TAG = "tag:yaml.org,2002:bool"
_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(_BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def load_yaml(text: str) -> Any:
    """Parse config YAML (safe: plain data only) with YAML 1.2 booleans, see :class:`_Yaml12Loader`."""
    return yaml.load(text, Loader=_Yaml12Loader)


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``a.b=value`` into (["a", "b"], value); the value is parsed as YAML (``1e-3``, ``[1,2]``)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not of the form section.field=value (e.g. optim.lr=0.05)")
    key, raw = text.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"override {text!r} has an empty key")
    value = load_yaml(raw) if raw.strip() else ""
    return parts, value


def _set_nested(tree: dict[str, Any], parts: list[str], value: Any) -> None:
    node = tree
    for p in parts[:-1]:
        child = node.setdefault(p, {})
        if not isinstance(child, dict):
            raise ConfigError(f"cannot set {'.'.join(parts)}: {p} is not a section")
        node = child
    node[parts[-1]] = value


def merge_trees(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge: ``update`` wins; neither input is modified."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_trees(out[key], value)
        else:
            out[key] = value
    return out


def load_config(
    path: str | Path | None = None, overrides: list[str] | None = None, base: dict[str, Any] | None = None
) -> Config:
    """Defaults <- ``base`` (a command's own defaults) <- YAML file (optional) <- overrides, validated."""
    tree: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist (see configs/ for examples)")
        try:
            loaded = load_yaml(path.read_text())
        except yaml.YAMLError as err:
            raise ConfigError(f"config file {path} is not valid YAML: {err}") from err
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must hold a mapping of sections, got {type(loaded).__name__}")
        tree = loaded or {}
    tree = merge_trees(base or {}, tree)
    for text in overrides or []:
        parts, value = parse_override(text)
        _set_nested(tree, parts, value)
    source = str(path) if path else "overrides"
    _reject_old_keys(tree, source)
    return _validate(tree, source)


def _reject_old_keys(tree: dict[str, Any], source: str) -> None:
    """User-written configs use the current layout; name the new key of every old one found."""
    hints = []
    for section in ("train", "margin"):
        node = tree.get(section)
        if isinstance(node, dict):
            for key in node:
                new = renamed_key(f"{section}.{key}")
                if new is not None:
                    hints.append(f"  {section}.{key} is now {new}")
    if hints:
        raise ConfigError(f"invalid config ({source}): keys of the old layout:\n" + "\n".join(hints))


def config_from_dict(tree: dict[str, Any], source: str = "dict") -> Config:
    """Validate a stored config (e.g. a checkpoint's) into a ``Config``; the old layout is migrated."""
    return _validate(migrate_config_tree(tree) if is_old_layout(tree) else tree, source)


def _validate(tree: dict[str, Any], source: str) -> Config:
    try:
        return Config.model_validate(tree)
    except ValidationError as err:
        lines = [f"invalid config ({source}):"]
        for e in err.errors():
            loc = ".".join(str(x) for x in e["loc"])
            lines.append(f"  {loc}: {_explain(e, tree)}")
        raise ConfigError("\n".join(lines)) from err


_BOOL_WORDS = "true/false, yes/no, on/off, 1/0"


def _explain(error: Any, tree: dict[str, Any]) -> str:
    """pydantic's message plus what was given and what is accepted, where pydantic leaves it out."""
    message, kind, loc = str(error["msg"]), str(error["type"]), error["loc"]
    if kind == "extra_forbidden":
        fields = _section_fields(loc[:-1], tree)
        if fields:
            close = difflib.get_close_matches(str(loc[-1]), fields, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            if tuple(loc[:1]) == ("margin",):  # the keys depend on the margin's kind: name it
                hint += f" for margin.kind={_margin_kind(tree)}"
            return f"unknown key{hint}; accepted keys: {', '.join(fields)}"
        return message
    given = f" (got {error['input']!r})" if "input" in error and not isinstance(error["input"], dict) else ""
    if kind.startswith("bool"):
        return f"{message}{given}; accepted: {_BOOL_WORDS}"
    return f"{message}{given}"


def _section_fields(loc: tuple[Any, ...], tree: dict[str, Any]) -> list[str]:
    """Field names of the config class at ``loc`` (a section; the margin class of its kind)."""
    model: Any = Config
    for part in loc:
        field = getattr(model, "model_fields", {}).get(str(part))
        if field is None:
            return []
        model = field.annotation
        if str(part) == "margin":
            model = MARGIN_CONFIGS.get(_margin_kind(tree), model)
    return list(getattr(model, "model_fields", {}))


def _margin_kind(tree: dict[str, Any]) -> str:
    margin = tree.get("margin")
    return str(margin.get("kind", DEFAULT_MARGIN_KIND)) if isinstance(margin, dict) else DEFAULT_MARGIN_KIND


def config_to_dict(config: Config) -> dict[str, Any]:
    """Plain JSON-compatible dict (paths as strings, tuples as lists)."""
    return config.model_dump(mode="json")


def save_config(config: Config, path: str | Path) -> Path:
    """Write the resolved config as YAML; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config_to_dict(config), sort_keys=False))
    return path
