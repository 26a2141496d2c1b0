"""Reconstruction from a trained model or from the shots: density matrices, observables with
standard errors, fidelities and entropies (see :func:`qtomo.reconstruction.run.reconstruct`).

Modules: :mod:`~qtomo.reconstruction.density` (inversion, projection, maximum likelihood),
:mod:`~qtomo.reconstruction.observables` (Pauli estimators and exact references),
:mod:`~qtomo.reconstruction.metrics` (quantum/classical fidelity, direct estimate, Renyi-2),
:mod:`~qtomo.reconstruction.symmetric_mle` (maximum likelihood among permutation-symmetric
states behind local noise: the true family of GHZ and W shots, for benchmarks),
:mod:`~qtomo.reconstruction.run` (the whole pipeline behind ``qtomo reconstruct``; its stages
are in :mod:`~qtomo.reconstruction.inputs`, :mod:`~qtomo.reconstruction.shots`,
:mod:`~qtomo.reconstruction.model_estimates`, :mod:`~qtomo.reconstruction.quantum`,
:mod:`~qtomo.reconstruction.model_vs_data`, :mod:`~qtomo.reconstruction.subsystems`,
:mod:`~qtomo.reconstruction.bootstrap`, and the report's structure in
:mod:`~qtomo.reconstruction.schema`). Import them directly; this package keeps its import
light.
"""
