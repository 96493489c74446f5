"""YAML config files -> validated pydantic models, with one-line errors that name the file.

Every config kind (dataset cards, model configs, protocols, sweep files, published numbers) is read here,
so a broken file reads the same whichever kind it is::

    cannot read <what> <path>: file not found
    <path>: not valid YAML at line 3 (<problem>); fix the syntax
    <path>: a <what> must be a YAML mapping, not a list
    <path>: field 'a.b': <message>       (errors.describe_validation_error)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from mlip_bench.errors import ConfigError, describe_validation_error

M = TypeVar("M", bound=BaseModel)


def read_yaml_mapping(path: str | Path, what: str, keys_hint: str = "") -> dict[str, Any]:
    """The YAML mapping in ``path`` (``what`` names the kind of file in errors, e.g. "sweep file";
    ``keys_hint``, e.g. ``" (name, model, ...)"``, follows "must be a YAML mapping")."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"cannot read {what} {path}: file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise ConfigError(f"cannot read {what} {path}: {reason}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML{line} ({problem}); fix the syntax") from None
    if not isinstance(data, dict):
        found = "an empty file" if data is None else f"a {type(data).__name__}"
        raise ConfigError(f"{path}: a {what} must be a YAML mapping{keys_hint}, not {found}")
    return data


def validate_config(data: Any, model: type[M], source: str | Path) -> M:
    """``model`` validated from ``data``; ``ConfigError`` ``"<source>: field 'x': ..."`` otherwise."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(f"{source}: {describe_validation_error(err)}") from None


def load_yaml_model(path: str | Path, model: type[M], what: str, defaults: dict[str, Any] | None = None) -> M:
    """Read ``path`` as a YAML mapping and validate it as ``model``.

    ``what`` names the kind of file in errors ("dataset card", "sweep file", ...); ``defaults``
    fill keys the file leaves out (e.g. a sweep's name from its file name).
    """
    data = read_yaml_mapping(path, what)
    for key, value in (defaults or {}).items():
        data.setdefault(key, value)
    return validate_config(data, model, path)
