"""ASE calculator serving any mlip-bench potential (energy eV, forces eV/Å, stress eV/Å^3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from ase.calculators.calculator import Calculator, all_changes
from ase.stress import full_3x3_to_voigt_6_stress

from mlip_bench.data.frame import Frame
from mlip_bench.data.graphs import collate, frame_to_graph
from mlip_bench.errors import ModelError
from mlip_bench.models.compiled_forces import CompiledForces
from mlip_bench.models.loading import load_potential
from mlip_bench.models.potential import Potential


class MlipCalculator(Calculator):
    """``MlipCalculator(potential_or_path, device="cpu")``: an ASE ``Calculator`` for MD and relaxations.

    ``potential_or_path`` is a :class:`Potential` or a checkpoint / exported model path. Serves
    ``energy`` and ``free_energy`` (eV; the same number, no electronic entropy), ``forces`` (eV/Å)
    and, for fully periodic cells, ``stress`` (eV/Å^3, ASE Voigt order xx yy zz yz xz xy, the
    derivative of the energy with respect to strain divided by the volume).

    ``compile=True`` evaluates energy and forces through one compiled graph
    (:class:`~mlip_bench.models.compiled_forces.CompiledForces`: a one-off compile, then ~2x faster
    MD steps on a CPU); stress, an untraceable model or a failed check stay eager.
    :attr:`force_evaluation` says which ran.
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(
        self, potential_or_path: Potential | str | Path, device: str = "cpu", compile: bool = False, **kwargs: Any
    ):
        super().__init__(**kwargs)
        if isinstance(potential_or_path, (str, Path)):
            potential = load_potential(potential_or_path, map_location=device)
        elif isinstance(potential_or_path, Potential):
            potential = potential_or_path
        else:
            raise ModelError(
                f"MlipCalculator needs a Potential or a model file path, got {type(potential_or_path).__name__}"
            )
        self.device = torch.device(device)
        self.potential = potential.to(self.device).eval()
        self.r_max = float(potential.config.r_max)
        self.compiled = CompiledForces(self.potential) if compile else None

    @property
    def force_evaluation(self) -> str:
        """``compiled``, ``eager``, or ``eager (why)`` when compiling was asked for and refused."""
        if self.compiled is None:
            return "eager"
        return f"eager ({self.compiled.fallback})" if self.compiled.fallback else "compiled"

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        pbc = np.asarray(atoms.get_pbc(), dtype=bool)
        frame = Frame(
            positions=np.asarray(atoms.get_positions(), dtype=np.float64),
            numbers=np.asarray(atoms.get_atomic_numbers(), dtype=np.int64),
            cell=np.asarray(atoms.get_cell()[:], dtype=np.float64),
            pbc=pbc,
        )
        want_stress = "stress" in properties
        if want_stress and not pbc.all():
            from ase.calculators.calculator import PropertyNotImplementedError

            raise PropertyNotImplementedError("stress needs a fully periodic cell (pbc on all three axes)")
        graph = collate([frame_to_graph(frame, self.r_max, self.potential.dtype)]).to(self.device)
        compiled = self.compiled(graph) if self.compiled is not None and not want_stress else None
        if compiled is not None:
            out = {"energy": compiled[0], "forces": compiled[1]}
        else:
            out = self.potential(graph, compute_forces=True, compute_stress=want_stress)
        energy = float(out["energy"].detach().cpu().sum())
        self.results["energy"] = energy
        self.results["free_energy"] = energy
        self.results["forces"] = out["forces"].detach().cpu().double().numpy()
        if want_stress:
            stress = out["stress"].detach().cpu().double().numpy()[0]
            self.results["stress"] = full_3x3_to_voigt_6_stress(stress)
