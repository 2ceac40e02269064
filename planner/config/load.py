"""Read a scenario: YAML → ``extends`` deep merge → ``--set`` overrides → validated model.

Every problem with a scenario is reported at once, one line each, naming the
file, the line where it can be found, the key path, the bad value, what is
allowed, and a "did you mean" for misspelt keys. Nothing is solved or written
before the whole scenario is valid.
"""

from __future__ import annotations

import copy
import difflib
import textwrap
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from planner.config.models import Scenario
from planner.errors import ConfigError
from planner.resources import shipped_scenario, shipped_scenarios

__all__ = ["load_scenario", "find_scenario", "parse_override", "deep_merge", "scenario_to_yaml", "defaults_yaml"]


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``override`` into a copy of ``base``; nested mappings merge, anything else replaces."""
    out: dict[str, Any] = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def find_scenario(ref: str | Path) -> Path:
    """A scenario reference as a file: an existing path, else the shipped scenario of that name.

    ``china-1000``, ``china-1000.yaml`` and ``scenarios/china-1000.yaml`` (from the checkout)
    all name the default scenario; an existing file always wins over a shipped name.

    Raises
    ------
    ConfigError
        Neither an existing file nor a shipped name (the message lists the names).
    """
    path = Path(ref).expanduser()
    if path.exists():
        return path
    shipped = shipped_scenario(str(ref))
    if shipped is not None:
        return shipped
    names = ", ".join(shipped_scenarios())
    raise ConfigError(
        f"{ref}: scenario file not found (working directory {Path.cwd()}) and not a shipped scenario "
        f"({names}). Give a path, a shipped name, or copy them to edit with `planner init DIR`."
    )


def _duplicate_keys(node: yaml.Node | None, prefix: tuple[str, ...] = ()) -> list[str]:
    """Every key given twice in one mapping of a composed YAML tree, as ``key path: line a and line b``.

    PyYAML keeps the last of two equal keys without a word; a scenario that says
    ``total_stores: 800`` and later ``total_stores: 900`` is a mistake we report.
    """
    found: list[str] = []
    if isinstance(node, yaml.MappingNode):
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key == "<<":  # a YAML merge key may repeat; it is not a scenario key
                continue
            if key in first_line:
                found.append(f"`{'.'.join((*prefix, key))}`: line {first_line[key]} and line {line}")
            else:
                first_line[key] = line
            found += _duplicate_keys(value_node, (*prefix, key))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found += _duplicate_keys(item, (*prefix, str(i)))
    return found


def _read_yaml(path: Path) -> tuple[dict[str, Any], yaml.Node | None]:
    """Read one YAML file, returning the data and its node tree (for line numbers)."""
    if not path.exists():
        raise ConfigError(f"{path}: scenario file not found. Check the path (relative to {Path.cwd()}).")
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, not a scenario file. Give a .yaml file.")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason}). Save the scenario as UTF-8.") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: not valid YAML at {where}: {problem}.") from None
    duplicates = _duplicate_keys(node)
    if duplicates:
        noun = "key is" if len(duplicates) == 1 else "keys are"
        raise ConfigError(
            f"{path}: {len(duplicates)} {noun} given twice (only one value can hold; delete or merge one of them):",
            problems=duplicates,
        )
    if data is None:
        raise ConfigError(
            f"{path}: the scenario is empty. Start from scenarios/defaults.yaml or "
            "`extends: china-1000.yaml`."
        )
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the top level must be a mapping of sections (name:, objective:, ...), "
            f"got a {type(data).__name__}."
        )
    return data, node


def _line_of(node: yaml.Node | None, loc: Iterable[Any]) -> int | None:
    """1-based line of the key path ``loc`` in a composed YAML tree, or of its deepest found parent."""
    line = None
    for part in loc:
        if not isinstance(node, yaml.MappingNode):
            break
        for key_node, value_node in node.value:
            if str(key_node.value) == str(part):
                line = key_node.start_mark.line + 1
                node = value_node
                break
        else:
            break
    return line


def _resolve_chain(path: Path, seen: tuple[Path, ...] = ()) -> tuple[dict[str, Any], list[tuple[Path, Any]]]:
    """Follow ``extends:`` from ``path`` down to its root, merging bases under children."""
    path = path.resolve()
    if path in seen:
        cycle = " → ".join(str(p.name) for p in (*seen, path))
        raise ConfigError(f"{seen[0]}: `extends` forms a cycle ({cycle}). Remove one of the links.")
    data, node = _read_yaml(path)
    sources = [(path, node)]
    base_ref = data.get("extends")
    if base_ref is None:
        return data, sources
    if not isinstance(base_ref, str):
        raise ConfigError(f"{path}: `extends` must be a file name, got {base_ref!r}.")
    base_path = (path.parent / base_ref).resolve()
    if not base_path.exists():
        # a name of a shipped scenario (``extends: china-1000.yaml``) works from any folder
        shipped = shipped_scenario(base_ref)
        if shipped is None:
            raise ConfigError(
                f"{path}, line {_line_of(node, ['extends'])}: key `extends`: base scenario "
                f"{base_ref!r} not found (looked for {base_path}, and it is not the name of a "
                "shipped scenario: `planner scenarios` lists them)."
            )
        base_path = shipped.resolve()
    base, base_sources = _resolve_chain(base_path, (*seen, path))
    base.pop("name", None)  # a child never inherits its base's name
    merged = deep_merge(base, data)
    return merged, base_sources + sources


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse ``key.path=value`` (value read as YAML, so ``800``, ``true``, ``[a, b]`` work)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key.path=value, e.g. constraints.total_stores=800.")
    key, _, raw = text.partition("=")
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"--set {text!r}: the key path is empty.")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return parts, value


def _apply_override(data: dict[str, Any], parts: list[str], value: Any) -> None:
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names valid at ``loc`` (the parent of an unknown key), walking nested models."""
    current: Any = model
    for part in loc:
        fields = getattr(current, "model_fields", None)
        if fields is None or part not in fields:
            if fields is None and hasattr(current, "__args__"):
                # dict[str, Model]: the key is a free name, the value a model
                args = [a for a in current.__args__ if hasattr(a, "model_fields")]
                if args:
                    current = args[0]
                    continue
            return []
        current = fields[part].annotation
        if not hasattr(current, "model_fields"):
            args = [a for a in getattr(current, "__args__", ()) if hasattr(a, "model_fields")]
            current = args[0] if args else current
    fields = getattr(current, "model_fields", None)
    return sorted(fields) if fields else []


def _describe(err: Mapping[str, Any], sources: list[tuple[Path, Any]], origin: str) -> str:
    loc = tuple(err["loc"])
    key_path = ".".join(str(p) for p in loc)
    where = origin
    for path, node in reversed(sources):
        line = _line_of(node, loc)
        if line is not None:
            where = f"{path}, line {line}"
            break
    if err["type"] == "extra_forbidden":
        allowed = _allowed_keys(Scenario, loc[:-1])
        hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        did_you_mean = f" Did you mean `{'.'.join(map(str, loc[:-1] + (hint[0],)))}`?" if hint else ""
        allowed_txt = f" Allowed here: {', '.join(allowed)}." if allowed else ""
        return f"{where}: unknown key `{key_path}`.{did_you_mean}{allowed_txt}"
    value = err.get("input")
    shown = repr(value) if not isinstance(value, dict | list) or len(repr(value)) < 80 else type(value).__name__
    msg = err["msg"].removeprefix("Value error, ")
    return f"{where}: key `{key_path}` = {shown}: {msg}."


def load_scenario(
    path: str | Path | None = None,
    *,
    overrides: Iterable[str] = (),
    data: Mapping[str, Any] | None = None,
) -> Scenario:
    """Load and validate a scenario.

    Parameters
    ----------
    path
        A scenario YAML file or the name of a shipped scenario (see :func:`find_scenario`);
        ``extends:`` inside it is followed (relative to the file; a
        name not found there may be a shipped scenario, e.g. ``extends: china-1000.yaml``).
    overrides
        ``key.path=value`` strings applied last (as ``planner run --set``).
    data
        A mapping used instead of (or, with ``path``, merged over) the file's content;
        notebooks use it to tweak a scenario from Python.

    Returns
    -------
    Scenario
        The validated scenario. When it came from a file, ``name`` defaults to the file stem.

    Raises
    ------
    ConfigError
        Listing every problem found, each with file, line, key path, value and what is allowed.
    """
    sources: list[tuple[Path, Any]] = []
    merged: dict[str, Any] = {}
    origin = "scenario"
    if path is not None:
        path = find_scenario(path)
        origin = str(path)
        merged, sources = _resolve_chain(path)
        merged.setdefault("name", path.stem)
    if data is not None:
        merged = deep_merge(merged, data)
    for text in overrides:
        parts, value = parse_override(text)
        _apply_override(merged, parts, value)
    merged.pop("extends", None)
    # a relative file name that is not found from the working directory is read next to the
    # scenario that names it (child first), so a scenario and its files travel together
    _resolve_files(merged, [p.parent for p, _ in reversed(sources)])
    try:
        return Scenario.model_validate(merged)
    except ValidationError as exc:
        problems = [_describe(e, sources, origin + " (--set or data)") for e in exc.errors()]
        noun = "problem" if len(problems) == 1 else "problems"
        raise ConfigError(f"{origin}: {len(problems)} {noun} in the scenario:", problems=problems) from None


#: Keys whose value may name an input file (besides the keywords ``embedded`` and ``generated``).
_FILE_KEYS = (("data", "city_tiers"), ("data", "province_income"), ("data", "travel_costs"),
              ("candidates", "file"), ("networks", "own", "source"))


def _resolve_files(merged: dict[str, Any], folders: list[Path]) -> None:
    """Point relative file names missing from the working directory at the scenario's folders."""
    def fix(value: Any) -> Any:
        if not isinstance(value, str) or not value or value in ("embedded", "generated"):
            return value
        name = Path(value).expanduser()
        if name.is_absolute() or name.exists():
            return value
        for folder in folders:
            if (folder / name).exists():
                return str(folder / name)
        return value  # the reader reports the missing file

    def at(keys: tuple[str, ...]) -> tuple[dict[str, Any], str] | None:
        node: Any = merged
        for k in keys[:-1]:
            node = node.get(k) if isinstance(node, dict) else None
        return (node, keys[-1]) if isinstance(node, dict) and keys[-1] in node else None

    spots = [at(k) for k in _FILE_KEYS]
    networks = merged.get("networks")
    competitors = networks.get("competitors") if isinstance(networks, dict) else None
    if isinstance(competitors, dict):
        spots += [(c, "source") for c in competitors.values() if isinstance(c, dict) and "source" in c]
    for spot in spots:
        if spot is not None:
            node, key = spot
            node[key] = fix(node[key])


def scenario_to_yaml(scenario: Scenario) -> str:
    """The resolved scenario as YAML (written with every run)."""
    return yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def defaults_yaml() -> str:
    """``scenarios/defaults.yaml``: every key with its default, generated from the models."""
    header = (
        "# Every scenario key with its default, generated from planner/config/models.py.\n"
        "# Do not edit by hand: `planner schema --defaults > scenarios/defaults.yaml`.\n"
        "# The JSON Schema (`planner schema`) documents each key, its unit and allowed values.\n"
    )
    marked = ", ".join(assumption_keys())
    header += (
        "# ASSUMPTIONS: the defaults of these keys are illustrative values, not sourced facts; replace them\n"
        "# with your own (the README's \"Money\" section says what each stands for):\n"
        + "".join(f"#   {line}\n" for line in textwrap.wrap(marked, 96))
    )
    return header + scenario_to_yaml(Scenario())


def assumption_keys(model: type[BaseModel] = Scenario, prefix: str = "") -> list[str]:
    """Dotted keys whose description marks their default an ASSUMPTION (``<name>``: any dict key)."""
    out: list[str] = []
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        if "ASSUMPTION" in (info.description or ""):
            out.append(key)
        ann = info.annotation
        inner = typing.get_args(ann)[-1] if typing.get_origin(ann) is dict else ann
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            sub = f"{key}.<name>." if typing.get_origin(ann) is dict else f"{key}."
            out += assumption_keys(inner, sub)
    return out
