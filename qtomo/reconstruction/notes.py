"""How the report's warning notes begin.

The stages that write these notes (the run, with :mod:`~qtomo.reconstruction.design_weights`,
and :mod:`~qtomo.reconstruction.fidelity_range`) share the openings from here; the run lists
the notes it raises as warnings in the report's ``warnings`` (which ``qtomo reconstruct``
repeats on stderr), so no code has to recognise a note by its wording.
"""

from __future__ import annotations

#: The note on a part of the target's fidelity that the design leaves unmeasured.
UNMEASURED_NOTE = "the design leaves Pauli terms of the target's fidelity unmeasured"
#: The note on a fidelity that the design does not determine (a wide range).
UNDETERMINED_NOTE = "the fidelity is not determined by this design"
#: The note on a headline outside the range of fidelities the shots allow.
OUTSIDE_NOTE = "the headline fidelity lies outside the range the shots allow"

__all__ = ["OUTSIDE_NOTE", "UNDETERMINED_NOTE", "UNMEASURED_NOTE"]
