"""Fidelities that scale to 12-50+ qubits from planned fixed designs (docs/methods.md,
"Lab-scale fidelity").

* :mod:`.plan` -- ``qtomo plan``: the design (settings and shots) for a target and a precision,
  a :class:`qtomo.data.design_file.DesignSpec` (the one design-file reader and writer);
* :mod:`.parity` -- GHZ: populations plus parity oscillations;
* :mod:`.stabilizer` -- stabilizer states: direct fidelity estimation over sampled elements;
* :mod:`.energy` -- TFIM ground states: the certified bound ``F >= (E1 - <H>) / (E1 - E0)``;
* :mod:`.section` -- the report block and the check of the data against the plan;
  :mod:`.model_side` -- the same figures from a trained model's samples;
* :mod:`.report` -- the stage of ``qtomo reconstruct`` (``report["lab_scale"]``) and the
  candidate it offers the headline policy, which heads where no dense state is built.

Shared pieces: :mod:`.axes` (measurement axes), :mod:`.shots` (readout-corrected per-shot
values, bootstrap), :mod:`.results` (:class:`~.results.ProtocolResult`). Import the modules
directly; this package keeps its import light.
"""
