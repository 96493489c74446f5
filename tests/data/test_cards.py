"""Dataset cards: every card validates and says what the paper used; bad cards are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import mlip_bench
from mlip_bench.data.cards import CARDS_DIR, DatasetCard, list_cards, load_card, parse_card
from mlip_bench.errors import ConfigError, DatasetError
from mlip_bench.units import KCAL_PER_MOL_IN_EV

PAPER_SPLITS = {  # name: (kind, n_val, n_test, ladder)
    "md17": ("molecule", 50, None, [50, 150, 350, 550, 750, 950]),
    "rmd17": ("molecule", 50, None, [50, 150, 350, 550, 750, 950]),
    "water": ("periodic", 100, 190, [10, 25, 50, 100, 250, 500, 750, 1000, 1303]),
    "lips": ("periodic", 100, None, [10, 100, 1000, 2500]),
    "cu-formate": ("periodic", 250, None, [2500]),
    "li3po4": ("periodic", 100, None, [1000]),
}


def test_the_six_paper_datasets_have_cards():
    assert list_cards() == sorted(PAPER_SPLITS)
    assert CARDS_DIR == Path(mlip_bench.__file__).resolve().parent / "cards"


@pytest.mark.parametrize("name", sorted(PAPER_SPLITS))
def test_card_has_paper_split_recipe_and_kind(name):
    card = load_card(name)
    kind, n_val, n_test, ladder = PAPER_SPLITS[name]
    assert card.kind == kind
    assert (card.splits.n_val, card.splits.n_test, card.ladder) == (n_val, n_test, ladder)
    assert card.citation.lstrip().startswith("@") and card.citation.count("{") == card.citation.count("}")
    assert card.license and card.level_of_theory
    for file in card.files:
        assert file.url.startswith(("http://", "https://"))
        # never an invented hash: an unpinned file must say why
        assert file.sha256 is not None or file.note


def test_units_convert_to_ev():
    for name in ("md17", "rmd17"):
        units = load_card(name).units
        assert units.energy == "kcal/mol" and units.energy_to_ev == KCAL_PER_MOL_IN_EV
        assert units.forces_to_ev_per_angstrom == KCAL_PER_MOL_IN_EV
    for name in ("water", "cu-formate", "lips", "li3po4"):
        assert load_card(name).units.energy_to_ev == 1.0


def test_molecule_cards():
    md17 = load_card("md17")
    dft = ["aspirin", "benzene", "ethanol", "malonaldehyde", "naphthalene", "salicylic_acid", "toluene", "uracil"]
    assert list(md17.molecules)[:8] == dft
    assert {"aspirin_ccsd", "benzene_ccsd_t", "ethanol_ccsd_t", "malonaldehyde_ccsd_t", "toluene_ccsd_t"} <= set(
        md17.molecules
    )
    ccsd = md17.variant_source("md17/aspirin_ccsd")
    assert [(m.path, m.subset) for m in ccsd.members] == [
        ("aspirin_ccsd-train.npz", "train"),
        ("aspirin_ccsd-test.npz", "test"),
    ]
    assert md17.file(ccsd.file).archive == "zip"
    assert "CCSD" in md17.level_of_theory_for("md17/aspirin_ccsd")
    assert md17.file("aspirin_dft.npz").url == "http://quantum-machine.org/gdml/data/npz/aspirin_dft.npz"
    # `mlip-bench download md17` fetches the eight DFT molecules; the CCSD sets are extras
    assert md17.main_variants == [f"md17/{m}" for m in dft]

    rmd17 = load_card("rmd17")
    assert len(rmd17.molecules) == 10 and "azobenzene" in rmd17.molecules
    eth = rmd17.variant_source("rmd17/ethanol")
    assert eth.members[0].path == "rmd17/npz_data/rmd17_ethanol.npz"
    assert sorted(eth.official_splits) == [f"official_0{k}" for k in range(1, 6)]
    assert eth.official_splits["official_03"] == {
        "train": "rmd17/splits/index_train_03.csv",
        "test": "rmd17/splits/index_test_03.csv",
    }
    assert rmd17.files[0].url == "https://figshare.com/ndownloader/files/23950376"
    assert rmd17.variant_source("rmd17/salicylic").members[0].path.endswith("rmd17_salicylic.npz")
    assert rmd17.main_variants == rmd17.variants and load_card("lips").main_variants == ["lips"]


def test_uncertain_url_is_marked_unverified():
    assert load_card("li3po4").files[0].url_status == "unverified"
    assert load_card("water").files[0].url.endswith("dataset_1593_eVAng.xyz")


def test_unknown_card_lists_valid_names():
    with pytest.raises(DatasetError, match="unknown dataset 'md18'; valid names: cu-formate, li3po4, lips, md17"):
        load_card("md18")


def _write_variant(tmp_path: Path, name: str, edit) -> Path:
    raw = yaml.safe_load((CARDS_DIR / "lips.yaml").read_text())
    edit(raw)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(
    "edit,message",
    [
        (lambda c: c["units"].update(energy_to_ev=0.5), "energy_to_ev"),
        (lambda c: c["files"][0].update(sha256="abc"), "64 lowercase hex"),
        (lambda c: c["files"][0].update(note=None), "add a note"),
        (lambda c: c.update(kind="crystal"), "kind"),
        (lambda c: c.update(ladder=[10, 100]), "ladder"),
        (lambda c: c["splits"].update(ladder=[100, 10], default_n_train=10), "increasing"),
        (lambda c: c["source"].update(file="other.xyz"), "other.xyz"),
        (lambda c: c.update(molecules={"x": c["source"]}), "exactly one"),
        (lambda c: c.update(surprise=1), "surprise"),
        (lambda c: c["source"].update(extra=True), "cannot be extra"),
        (lambda c: c.update(molecules={"x": {**c.pop("source"), "extra": True}}), "every molecule is `extra`"),
    ],
)
def test_invalid_cards_are_refused_with_the_file_named(tmp_path, edit, message):
    path = _write_variant(tmp_path, "lips", edit)
    with pytest.raises(ConfigError, match=message) as info:
        parse_card(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_card_name_must_match_file(tmp_path):
    path = _write_variant(tmp_path, "other", lambda c: None)
    with pytest.raises(ConfigError, match="must match the file name"):
        parse_card(path)


def test_cards_dir_override(tmp_path):
    _write_variant(tmp_path, "lips", lambda c: c.update(card_version=7))
    assert list_cards(tmp_path) == ["lips"]
    card = load_card("lips", cards_dir=tmp_path)
    assert isinstance(card, DatasetCard) and card.card_version == 7
