"""Dataset cards: one YAML file per dataset, shipped in ``mlip_bench/cards/`` (see mlip_bench.paths).

A card says where the official files live (URL, alternates, sha256, size), how each archive is
laid out, which units the raw files use and the factors to eV and eV/Å, the level of theory,
citation, license, and the paper's default split recipe. Variant names are ``NAME`` for a
single-system dataset (``lips``) or ``NAME/MOLECULE`` (``rmd17/ethanol``).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mlip_bench.config_files import load_yaml_model
from mlip_bench.errors import ConfigError, DatasetError
from mlip_bench.paths import CARDS_DIR
from mlip_bench.units import ENERGY_UNITS_TO_EV, LENGTH_UNITS_TO_ANGSTROM

ArchiveKind = Literal["none", "zip", "tar", "tar.gz", "tar.bz2", "tar.xz"]
#: a full sha256, or a published prefix of one (at least 12 hex digits, as load-atoms pins rMD17)
_SHA256_RE = re.compile(r"^[0-9a-f]{12,64}$")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceFile(_Strict):
    """One official download. ``name`` is the file name a mirror must hold it under."""

    name: str
    url: str
    alternates: list[str] = Field(default_factory=list)
    #: the full sha256, or a published prefix of it (12 to 63 hex digits); cite the source in ``note``
    sha256: str | None = None
    size: int | None = Field(default=None, description="bytes")
    #: "known": the URL is the one reference code downloads from; "unverified": best guess, not checked
    url_status: Literal["known", "unverified"] = "known"
    archive: ArchiveKind = "none"
    note: str | None = None

    @model_validator(mode="after")
    def _check(self) -> "SourceFile":
        if "/" in self.name or self.name in ("", ".", ".."):
            raise ValueError(f"file name {self.name!r} must be a plain file name")
        if self.sha256 is not None and not _SHA256_RE.match(self.sha256):
            raise ValueError(
                f"sha256 of {self.name} must be 64 lowercase hex digits (or a published prefix of 12 or more)"
            )
        if self.sha256 is not None and len(self.sha256) < 64 and not self.note:
            raise ValueError(f"{self.name} pins a sha256 prefix: add a note citing where it is published")
        if self.sha256 is None and not self.note:
            raise ValueError(f"{self.name} has no sha256: add a note saying why it is not pinned")
        return self


class Member(_Strict):
    """One data file inside a download (``path`` relative to the archive root; for a plain
    file, its file name). ``subset`` labels its frames (e.g. the sGDML ``train``/``test`` files)."""

    path: str
    format: Literal["npz", "extxyz", "xyz"]
    subset: str | None = None


class VariantSource(_Strict):
    """Where one variant's frames come from and what they should look like."""

    file: str = Field(description="name of a SourceFile of this card")
    members: list[Member]
    #: archive members holding official train/test index lists: split name -> {"train": path, "test": path}
    official_splits: dict[str, dict[str, str]] = Field(default_factory=dict)
    n_frames: int | None = None
    atoms_per_frame: int | None = None
    species: list[str] = Field(default_factory=list)
    level_of_theory: str | None = Field(default=None, description="overrides the card's")
    aliases: list[str] = Field(default_factory=list)
    #: an extra variant: ``mlip-bench download NAME`` leaves it out unless asked (``--all``)
    extra: bool = False
    note: str | None = None


class Units(_Strict):
    """Units of the raw files and the factors that convert them to eV, Å and eV/Å."""

    energy: str
    length: str = "Angstrom"
    forces: str
    energy_to_ev: float
    forces_to_ev_per_angstrom: float

    @model_validator(mode="after")
    def _check(self) -> "Units":
        if self.energy not in ENERGY_UNITS_TO_EV:
            raise ValueError(f"energy unit {self.energy!r} unknown; use one of {list(ENERGY_UNITS_TO_EV)}")
        if self.length not in LENGTH_UNITS_TO_ANGSTROM:
            raise ValueError(f"length unit {self.length!r} unknown")
        expected_e = ENERGY_UNITS_TO_EV[self.energy]
        expected_f = expected_e / LENGTH_UNITS_TO_ANGSTROM[self.length]
        if abs(self.energy_to_ev - expected_e) > 1e-9 * max(1.0, expected_e):
            raise ValueError(f"energy_to_ev {self.energy_to_ev} disagrees with {self.energy} = {expected_e} eV")
        if abs(self.forces_to_ev_per_angstrom - expected_f) > 1e-9 * max(1.0, expected_f):
            raise ValueError(f"forces_to_ev_per_angstrom {self.forces_to_ev_per_angstrom} disagrees with {expected_f}")
        return self


class SplitRecipe(_Strict):
    """The paper's default split: a validation set of ``n_val`` frames, a training ladder of
    nested sizes, and a test set that is either every remaining frame (``n_test: null``) or a
    fixed number of held-out frames."""

    n_val: int = Field(gt=0)
    n_test: int | None = Field(default=None, gt=0)
    ladder: list[int] = Field(min_length=1)
    default_n_train: int
    note: str | None = None

    @model_validator(mode="after")
    def _check(self) -> "SplitRecipe":
        if sorted(set(self.ladder)) != list(self.ladder) or self.ladder[0] <= 0:
            raise ValueError("ladder must be strictly increasing positive training sizes")
        if self.default_n_train not in self.ladder:
            raise ValueError("default_n_train must be one of the ladder sizes")
        return self


class DatasetCard(_Strict):
    """A validated dataset card (see ``mlip_bench/cards/*.yaml``)."""

    name: str
    title: str
    card_version: int = Field(ge=1)
    kind: Literal["molecule", "periodic"]
    description: str
    level_of_theory: str
    license: str
    citation: str
    units: Units
    files: list[SourceFile] = Field(min_length=1)
    source: VariantSource | None = None
    molecules: dict[str, VariantSource] = Field(default_factory=dict)
    splits: SplitRecipe
    ladder: list[int]
    notes: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> "DatasetCard":
        if not _NAME_RE.match(self.name):
            raise ValueError(f"card name {self.name!r} must be lowercase letters, digits, '_', '.', '-'")
        if (self.source is None) == (not self.molecules):
            raise ValueError("a card needs exactly one of `source` (single system) or `molecules`")
        file_names = [f.name for f in self.files]
        if len(set(file_names)) != len(file_names):
            raise ValueError("file names must be unique")
        seen: set[str] = set()
        for key, src in self._sources().items():
            if src.file not in file_names:
                raise ValueError(f"{key or self.name}: file {src.file!r} is not one of {file_names}")
            for name in [key, *src.aliases] if key else []:
                if not _NAME_RE.match(name) or name in seen:
                    raise ValueError(f"molecule name {name!r} is invalid or repeated")
                seen.add(name)
        if list(self.ladder) != list(self.splits.ladder):
            raise ValueError("`ladder` must equal `splits.ladder`")
        if self.source is not None and self.source.extra:
            raise ValueError("`extra` marks a molecule; a single-system card's source cannot be extra")
        if self.molecules and all(src.extra for src in self.molecules.values()):
            raise ValueError("every molecule is `extra`: `mlip-bench download NAME` would fetch nothing")
        return self

    def _sources(self) -> dict[str, VariantSource]:
        return dict(self.molecules) if self.molecules else {"": self.source}  # type: ignore[dict-item]

    @property
    def variants(self) -> list[str]:
        """Every variant name this card defines (``NAME`` or ``NAME/MOLECULE``)."""
        if self.molecules:
            return [f"{self.name}/{m}" for m in self.molecules]
        return [self.name]

    @property
    def main_variants(self) -> list[str]:
        """The variants ``mlip-bench download NAME`` fetches: all but the ``extra`` ones."""
        if self.molecules:
            return [f"{self.name}/{m}" for m, src in self.molecules.items() if not src.extra]
        return [self.name]

    def canonical_molecule(self, molecule: str) -> str | None:
        """The molecule key for ``molecule`` or one of its aliases, else None."""
        if molecule in self.molecules:
            return molecule
        for key, src in self.molecules.items():
            if molecule in src.aliases:
                return key
        return None

    def variant_source(self, variant: str) -> VariantSource:
        """The source entry of a variant of this card (``NAME`` or ``NAME/MOLECULE``)."""
        _, _, molecule = variant.partition("/")
        if not self.molecules:
            if molecule:
                raise DatasetError(f"dataset {self.name!r} has no molecules; use `{self.name}`")
            return self.source  # type: ignore[return-value]
        key = self.canonical_molecule(molecule)
        if key is None:
            raise DatasetError(f"unknown molecule {molecule!r} for {self.name}; valid: {', '.join(self.molecules)}")
        return self.molecules[key]

    def file(self, name: str) -> SourceFile:
        """The SourceFile called ``name``."""
        for f in self.files:
            if f.name == name:
                return f
        raise DatasetError(f"card {self.name!r} has no file {name!r}")

    def level_of_theory_for(self, variant: str) -> str:
        return self.variant_source(variant).level_of_theory or self.level_of_theory


def card_path(name: str, cards_dir: Path | None = None) -> Path:
    """Path of the YAML card for dataset ``name``."""
    return (cards_dir or CARDS_DIR) / f"{name}.yaml"


def parse_card(path: Path) -> DatasetCard:
    """Read and validate one card file (ConfigError naming the file when it is invalid)."""
    card = load_yaml_model(path, DatasetCard, "dataset card")
    if card.name != Path(path).stem:
        raise ConfigError(f"dataset card {path} has name {card.name!r}; it must match the file name")
    return card


@cache
def _load_card_cached(path: str, mtime: float) -> DatasetCard:
    return parse_card(Path(path))


def list_cards(cards_dir: Path | None = None) -> list[str]:
    """Names of all dataset cards, sorted."""
    directory = cards_dir or CARDS_DIR
    return sorted(p.stem for p in directory.glob("*.yaml"))


def load_card(name: str, cards_dir: Path | None = None) -> DatasetCard:
    """The validated card of dataset ``name`` (``DatasetError`` listing valid names if unknown)."""
    base = name.split("/", 1)[0]
    path = card_path(base, cards_dir)
    if not _NAME_RE.match(base) or not path.is_file():
        raise DatasetError(f"unknown dataset {base!r}; valid names: {', '.join(list_cards(cards_dir)) or '(no cards)'}")
    return _load_card_cached(str(path), path.stat().st_mtime)
