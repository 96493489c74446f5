"""Unit constants. Everything inside mlip-bench is eV, Å and eV/Å; conversion happens once, at import.

Reported metrics use meV and meV/Å.
"""

from __future__ import annotations

KCAL_PER_MOL_IN_EV: float = 0.0433641  # 1 kcal/mol in eV (the value nequip uses)
HARTREE_IN_EV: float = 27.211386245988
BOHR_IN_ANGSTROM: float = 0.529177210903
EV_IN_MEV: float = 1000.0

#: energy unit name -> factor that converts a value in that unit to eV
ENERGY_UNITS_TO_EV: dict[str, float] = {
    "eV": 1.0,
    "meV": 1e-3,
    "kcal/mol": KCAL_PER_MOL_IN_EV,
    "Hartree": HARTREE_IN_EV,
    "Ha": HARTREE_IN_EV,
}

#: length unit name -> factor that converts a value in that unit to Å
LENGTH_UNITS_TO_ANGSTROM: dict[str, float] = {
    "Angstrom": 1.0,
    "A": 1.0,
    "Bohr": BOHR_IN_ANGSTROM,
}


def energy_factor_to_ev(unit: str) -> float:
    """Factor converting an energy in ``unit`` to eV (raises ``ConfigError`` on an unknown unit)."""
    from mlip_bench.errors import ConfigError

    try:
        return ENERGY_UNITS_TO_EV[unit]
    except KeyError:
        raise ConfigError(f"unknown energy unit {unit!r}; use one of {', '.join(ENERGY_UNITS_TO_EV)}") from None


def length_factor_to_angstrom(unit: str) -> float:
    """Factor converting a length in ``unit`` to Å (raises ``ConfigError`` on an unknown unit)."""
    from mlip_bench.errors import ConfigError

    try:
        return LENGTH_UNITS_TO_ANGSTROM[unit]
    except KeyError:
        raise ConfigError(f"unknown length unit {unit!r}; use one of {', '.join(LENGTH_UNITS_TO_ANGSTROM)}") from None
