"""Figure styles: every curve a reader must tell apart gets its own colour or marker."""

from __future__ import annotations

from mlip_bench.leaderboard.plots import model_style


def test_width_controls_share_their_base_colour_but_not_its_marker() -> None:
    base = model_style("nequip-l0-cpu")
    for control in ("nequip-l0-cpu-features81", "nequip-l0-features173", "nequip-l0-features512"):
        style = model_style(control)
        assert style.colour == base.colour, control
        assert style.marker != base.marker and style.mpl_marker == "v", control


def test_the_cpu_and_paper_sizes_of_a_model_look_alike_and_models_differ() -> None:
    assert model_style("nequip-l1-cpu") == model_style("nequip-l1")
    assert model_style("nequip-l1-cpu").colour != model_style("nequip-l0-cpu").colour
    assert model_style("nequip-l1-periodic").marker == "diamond"
