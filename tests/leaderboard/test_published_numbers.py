"""mlip_bench/configs/published.yaml: loads, every number has units, a source and an evidence tag;
bad files are refused."""

from __future__ import annotations

import pytest
import yaml

from mlip_bench.errors import ConfigError
from mlip_bench.leaderboard.published import default_published_path, load_published
from mlip_bench.units import KCAL_PER_MOL_IN_EV

PUBLISHED = default_published_path()


def test_default_path_is_the_checkout_file():
    assert default_published_path() == PUBLISHED


def test_paper_tables_are_all_there_with_tags_and_units():
    pub = load_published(PUBLISHED)
    ids = {v.id for v in pub.values}
    # the rMD17 table: NequIP and every compared method, energy and force for each of 10 molecules
    for group in (
        "rmd17-nequip-l3",
        "rmd17-nequip-l3-n50",
        "rmd17-ace",
        "rmd17-fchl19",
        "rmd17-gap",
        "rmd17-ani-pretrained",
        "rmd17-ani-random",
    ):
        assert sum(i.startswith(group + "/") for i in ids) == 20, group
    # invariant baselines of FACTS §6 (PaiNN has no benzene) and the DeePMD water reference
    for group, count in (
        ("md17-sgdml", 16),
        ("md17-schnet", 16),
        ("md17-dimenet", 16),
        ("md17-painn", 14),
        ("water-deepmd-reference", 8),
        ("md17-nequip-l3", 4),
    ):
        assert sum(i.startswith(group + "/") for i in ids) == count, group
    for v in pub.values:
        assert v.unit in {"meV", "meV/atom", "meV/H2O", "meV/Å"}
        assert v.source and v.table and v.evidence


def test_key_numbers_and_their_evidence():
    values = {v.id: v for v in load_published(PUBLISHED).values}
    aspirin_f = values["rmd17-nequip-l3/aspirin/force_mae"]
    assert (aspirin_f.value, aspirin_f.unit, aspirin_f.evidence) == (8.2, "meV/Å", "ISSUE")
    assert aspirin_f.is_target
    dimenet = values["md17-dimenet/aspirin/force_mae"]
    # kcal/mol/Å converted with the same factor as mlip_bench.units
    assert dimenet.reported_value == 0.499 and dimenet.reported_unit == "kcal/mol/Å"
    assert dimenet.conversion_factor == pytest.approx(KCAL_PER_MOL_IN_EV * 1000)
    assert dimenet.value == pytest.approx(21.64, abs=0.01)
    ani = values["rmd17-ani-random/aspirin/force_mae"]
    assert ani.evidence == "MEM-L" and not ani.is_target
    painn = values["md17-painn/aspirin/energy_mae"]
    assert painn.evidence == "MEM-L" and "0.159" in painn.note


def test_learning_curve_claims_have_no_numeric_target():
    pub = load_published(PUBLISHED)
    claims = {c.id: c for c in pub.file.claims}
    c = claims["lc-equivariant-steeper-than-l0"]
    assert c.kind == "steeper" and c.steeper.matches("nequip", 2) and not c.steeper.matches("nequip", 0)
    assert c.than.matches("nequip", 0) and not c.than.matches("schnet", None)
    inv = claims["lc-equivariant-steeper-than-invariant"].than
    assert inv.matches("schnet", None) and inv.matches("dimenet", None) and not inv.matches("nequip", 0)
    assert pub.file.not_recovered


def _write(tmp_path, mutate):
    raw = yaml.safe_load(PUBLISHED.read_text())
    mutate(raw)
    path = tmp_path / "published.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return path


@pytest.mark.parametrize(
    "mutate, words",
    [
        (lambda raw: raw["groups"][0].update(evidence="MEM-X"), ["groups.0.evidence"]),
        (
            lambda raw: raw["groups"][0]["reported_units"].update(force_mae="kcal/mol"),
            ["does not fit metric force_mae"],
        ),
        (lambda raw: raw["groups"][0]["rows"]["aspirin"].update(force_mae=-1.0), ["groups.0.rows.aspirin.force_mae"]),
        (lambda raw: raw["groups"].append(raw["groups"][0]), ["duplicate group ids"]),
        (lambda raw: raw["claims"][0].pop("than"), ["needs a 'than' selector"]),
    ],
)
def test_malformed_file_is_refused_naming_the_field(tmp_path, mutate, words):
    path = _write(tmp_path, mutate)
    with pytest.raises(ConfigError) as err:
        load_published(path)
    message = str(err.value)
    assert str(path) in message and "\n" not in message
    for w in words:
        assert w in message


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read published numbers"):
        load_published(tmp_path / "nope.yaml")
