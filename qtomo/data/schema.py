"""The qtomo dataset file, schema version 2 (HDF5).

Layout::

    /                      attrs: format="qtomo-dataset", schema_version=2, qtomo_version,
                                  created (ISO 8601 UTC), dataset_id (uuid4 hex),
                                  config (JSON of the full simulate/import config),
                                  complete (bool, written last: False or absent = interrupted)
    /outcomes              uint8 (shots, N), values 0..K-1, chunked, gzip-compressed;
                           column j is qubit j
    /log_p_true            float64 (shots,), exact natural log P(a) of each shot (optional;
                           for a fixed design log P(bits | setting) of the nominal measurement)
    /eval/outcomes         uint8 (eval_shots, N): fresh shots for scoring, never trained on
    /eval/log_p_true       float64 (eval_shots,) (optional)
    /povm                  attrs: name, K;  /povm/elements complex128 (K, 2, 2): the ideal POVM
                           measured by the lab (noise belongs to the target, not the POVM)
    /povm/site_elements    complex128 (N, K, 2, 2), version 2, with /readout: the effective POVM
                           of each qubit, M'_q(s, b) = sum_b' C_q[b|b'] M(s, b'), whose Born
                           rule gives the statistics of the bits as read (the ideal elements
                           misread through the readout confusion matrices)
    /target                attrs: state (tfim|ghz|custom|unknown), n_qubits, J, h, boundary,
                                  method (ed|dmrg|exact|none), noise, seed, energy (NaN: none),
                                  truncation_error (DMRG only)
    /target/x_exact        float64 (N,)   exact <X_i> of the target, when known
    /target/zz_exact       float64 (N, N) exact <Z_i Z_j> of the target, when known
    /target/psi            complex128 (2^N,) pure target state vector (N <= 16), big-endian
    /target/mps            MPS of the pure target (N > 16), see qtomo.states.mps
    /design                attrs: kind ("random": bases drawn per shot | "fixed": settings)
    /design/settings       |S{N} (S,) setting labels, qubit 0 first (fixed designs only):
                           Pauli letters, A on a qubit measured along another axis
    /design/shots_per_setting  int64 (S,) shots of each setting; the Pauli settings' sum
                           to shots, the axis settings' to the rows of /axis_shots
    /design/axes           float64 (S, N, 2) (theta, phi) of every qubit of every setting
                           (designs with axis settings only)
    /design                attrs: planned_design (str, optional): the JSON of the planned
                           design (qtomo plan) the shots follow, for qtomo reconstruct's
                           lab-scale protocols (qtomo.data.design_file)
    /axis_shots/setting_index  int64 (M_a,) each axis-setting shot's setting (optional)
    /axis_shots/bits       uint8 (M_a, N): its bits, 0 = +1 outcome of n.sigma
    /axis_shots/log_p_true float64 (M_a,) log P(bits | setting), nominal (optional)
    /readout               attrs: confusion float64 (N, 2, 2) = P(read b | prepared b'),
                                  stderr (N, 2, 2), source, source_file, calibration_shots
                                  (N, 2), applied (True: /povm/site_elements include it)

A fixed design stores the shots of its Pauli settings as Pauli-6 outcomes in ``/outcomes``
(which every reader of Pauli-6 shots reads unchanged; it may have 0 rows when every setting is
an axis setting) and those of its axis settings in ``/axis_shots``;
``Dataset.setting_shots()`` returns every shot's setting and bits. A planned design may list
one Pauli setting several times (a stabilizer design estimates several group elements with it):
the shots of a repeated setting are shuffled i.i.d. draws of one measurement, so
``setting_shots()`` hands them to its entries in file order, each its ``shots_per_setting``.
``/design`` and ``/readout`` are optional (files written before them read as design "random"
and no readout); see :mod:`qtomo.data.design`. Version 1 files (no ``/povm/site_elements``;
a ``/readout`` there was stored only) still read: their qubits are measured with the ideal POVM,
and a stored readout is turned into per-qubit elements when the file is opened.

A known target is always stored: as ``psi`` up to ``MAX_PSI_QUBITS`` qubits, as an MPS above
(GHZ: the exact bond-2 MPS; exact diagonalization and imported state vectors: the SVD sweep of
the vector, exact up to round-off; DMRG: its own MPS). See :mod:`qtomo.states.targets`.
"""

from __future__ import annotations

from qtomo.states.statevector import MAX_PSI_QUBITS

SCHEMA_VERSION = 2
#: Versions this qtomo reads.
READABLE_VERSIONS = (1, 2)
FORMAT_NAME = "qtomo-dataset"
#: Rows per HDF5 chunk of the outcome array (capped by the shot count).
CHUNK_ROWS = 16384

__all__ = ["SCHEMA_VERSION", "READABLE_VERSIONS", "FORMAT_NAME", "MAX_PSI_QUBITS", "CHUNK_ROWS"]
