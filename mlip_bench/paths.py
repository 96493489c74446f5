"""Where the package's own files are: the one module that knows the layout.

Everything the package needs at run time ships inside it as package data, so a wheel, a plain
``pip install .`` and an editable checkout find the same files:

- ``mlip_bench/cards/<name>.yaml``: one dataset card per dataset;
- ``mlip_bench/configs/models/<name>.yaml``: one model config per variant;
- ``mlip_bench/configs/protocols/<name>.yaml``: one training protocol preset per name;
- ``mlip_bench/configs/published.yaml``: the papers' published numbers;
- ``mlip_bench/embedded/``: the demo store.

User files are layered on top where a command takes them: a model or protocol YAML path instead
of a name, ``--published FILE``, ``--root`` / ``$MLIP_BENCH_ROOT`` for stores and downloads.
"""

from __future__ import annotations

from pathlib import Path

#: the installed ``mlip_bench`` package directory
PACKAGE_DIR: Path = Path(__file__).resolve().parent

#: dataset cards (``<name>.yaml``)
CARDS_DIR: Path = PACKAGE_DIR / "cards"

#: model configs (``<variant>.yaml``)
MODEL_CONFIGS_DIR: Path = PACKAGE_DIR / "configs" / "models"

#: training protocol presets (``<name>.yaml``)
PROTOCOLS_DIR: Path = PACKAGE_DIR / "configs" / "protocols"

#: the published-numbers file the leaderboard compares against
PUBLISHED_PATH: Path = PACKAGE_DIR / "configs" / "published.yaml"

#: demo data shipped inside the package
EMBEDDED_DIR: Path = PACKAGE_DIR / "embedded"

#: the directory holding the package: the source checkout when running from one (editable
#: install); for a wheel, the site-packages folder, which holds none of the checkout's files
CHECKOUT_ROOT: Path = PACKAGE_DIR.parent


def source_checkout() -> Path | None:
    """The source checkout this package runs from (it has ``pyproject.toml``), else None."""
    return CHECKOUT_ROOT if (CHECKOUT_ROOT / "pyproject.toml").is_file() else None


def model_config_path(name: str) -> Path:
    """The packaged config file of model variant ``name`` (it may not exist)."""
    return MODEL_CONFIGS_DIR / f"{name}.yaml"


def protocol_path(name: str) -> Path:
    """The packaged file of protocol preset ``name`` (it may not exist)."""
    return PROTOCOLS_DIR / f"{name}.yaml"


def is_protocol_path(name_or_path: str | Path) -> bool:
    """Whether ``name_or_path`` names a protocol file (it has a suffix, e.g. ``my.yaml``) rather
    than a preset (``cpu``)."""
    return bool(Path(name_or_path).suffix)


def protocol_name(name_or_path: str | Path) -> str:
    """The name the runs of a protocol carry: a preset's name, or a protocol file's stem."""
    return Path(name_or_path).stem if is_protocol_path(name_or_path) else str(name_or_path)
