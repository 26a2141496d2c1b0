"""The range of fidelities the shots allow on open designs (all states within simultaneous bands
of the measured Pauli strings): the string estimates are exact on exact frequencies, readout
errors included; the range pins the fidelity where the design measures the GHZ coherence and
opens to the positivity bound where it does not; ``qtomo reconstruct`` reports it, widens the
headline's interval and names a headline outside it."""

from __future__ import annotations

import json
import warnings

import numpy as np

from qtomo.povm.frames import pauli6, readout_frames, site_operators
from qtomo.reconstruction.density import product_table
from qtomo.reconstruction.fidelity_range import UNDETERMINED_NOTE, fidelity_range
from qtomo.reconstruction.metrics import target_state

LETTERS = "XYZ"


def ghz(n):
    psi = np.zeros(2**n, dtype=np.complex128)
    psi[0] = psi[-1] = 2**-0.5
    return psi


def setting_mask(n, setting):
    """The Pauli-6 outcomes (index order) of one setting such as 'XYY'."""
    digits = (np.arange(6**n)[:, None] // 6 ** np.arange(n - 1, -1, -1)[None, :]) % 6
    return np.all(digits // 2 == np.array([LETTERS.index(c) for c in setting]), axis=1)


def design_counts(rho, frame, n, design, shots, rng):
    """Multinomial counts of ``shots`` per setting from the Born table, as a 6^N vector."""
    born = np.clip(product_table(rho, site_operators(frame, n)).real, 0.0, None)
    counts = np.zeros(born.size)
    for s in design:
        m = setting_mask(n, s)
        counts[m] = rng.multinomial(shots, born[m] / born[m].sum())
    return counts


def test_measured_paulis_are_exact_on_exact_frequencies(rng):
    """On 10 of the 81 settings of 4 qubits, with per-qubit readout errors: fed the exact
    Born probabilities of the measured settings, every measured string's estimate equals
    Tr[rho P] (the readout inverted qubit by qubit), and the strings are exactly those some
    setting covers."""
    from qtomo.reconstruction.density import product_table as pt
    from qtomo.reconstruction.fidelity_range import measured_paulis
    from qtomo.states.paulis import I2, X, Y, Z

    n, d = 4, 16
    flips = np.array([[0.02, 0.05], [0.03, 0.01], [0.0, 0.08], [0.04, 0.04]])
    c = np.stack([[[1 - f0, f1], [f0, 1 - f1]] for f0, f1 in flips])
    frame = readout_frames(pauli6(), c)
    settings = ["".join(LETTERS[(i // 3**k) % 3] for k in range(n)) for i in range(81)]
    design = [settings[i] for i in rng.choice(81, size=10, replace=False)]
    a = rng.normal(size=(d, 3)) + 1j * rng.normal(size=(d, 3))
    rho = a @ a.conj().T
    rho /= np.trace(rho).real
    born = np.clip(product_table(rho, site_operators(frame, n)).real, 0.0, None)
    freq = np.zeros_like(born)
    for s in design:
        m = setting_mask(n, s)
        freq[m] = born[m] / born[m].sum()  # every setting equally often
    index, mean, se = measured_paulis(freq, 10_000, frame, n)
    exact = pt(rho, np.stack([I2, X, Y, Z])).real
    np.testing.assert_allclose(mean, exact[index], atol=1e-12)
    covered = set()
    for s in design:
        for mask in range(1, 2**n):
            covered.add(sum(("XYZ".index(s[j]) + 1) * 4 ** (n - 1 - j)
                            for j in range(n) if mask >> (n - 1 - j) & 1))
    assert set(index.tolist()) == covered
    assert np.all(se > 0)


def test_range_pins_a_measured_coherence_and_opens_an_unmeasured_one():
    """Noisy GHZ-3 (p = 0.1), 2,000 shots per setting. With ZZZ and the even-Y settings XXX,
    XYY the coherence Re rho_{000,111} is measured: the range contains the exact fidelity 0.79
    and is narrow. Not as narrow as +- 2 s.e. of the two parities (~0.01 in F): the bands are
    simultaneous over the 20 measured strings (z = 3.0), and the parities are also sums over
    the other complementary pairs' coherences, which positivity bounds only by
    sqrt(p_x p_xbar) ~ 0.025 each (3 pairs); about 0.10 wide, < 0.15 asked. With ZZZ and odd-Y
    settings only (YYY, XXY) just Im rho_{000,111} (= 0) is seen, and positivity leaves
    F = (p_000 + p_111) / 2 + Re rho_{000,111} anywhere in (p_000 + p_111) / 2 +- sqrt(p_000
    p_111) = [0.00, 0.86] (widened by the bands): the range must reach below 0.2 and above
    0.75."""
    n, noise = 3, 0.1
    psi = ghz(n)
    sigma = target_state(psi, noise)
    exact = float(np.real(psi.conj() @ sigma @ psi))
    rng = np.random.default_rng(11)
    frame = pauli6()
    pinned = design_counts(sigma, frame, n, ["ZZZ", "XXX", "XYY"], 2000, rng)
    r = fidelity_range(pinned / pinned.sum(), int(pinned.sum()), frame, n, psi)
    assert r["low"] <= exact <= r["high"]
    assert r["high"] - r["low"] < 0.15
    assert r["violation"] < 0.05  # the extreme states keep to the bands
    open_ = design_counts(sigma, frame, n, ["ZZZ", "YYY", "XXY"], 2000, rng)
    r = fidelity_range(open_ / open_.sum(), int(open_.sum()), frame, n, psi)
    assert r["low"] < 0.2 and r["high"] > 0.75
    assert r["low"] <= exact <= r["high"]


def _import_counts(tmp_path, design, rng):
    from qtomo.data.lab import LabImportConfig, LabImportWarning, import_lab_shots

    n = 3
    sigma = target_state(ghz(n), 0.05)
    counts = design_counts(sigma, pauli6(), n, design, 1500, rng)
    table = {}
    keys = ["".join(b) for b in np.array(np.meshgrid(*[["0", "1"]] * n, indexing="ij"))
            .reshape(n, -1).T]
    for s in design:
        vals = counts[setting_mask(n, s)]
        table[s] = {k: int(v) for k, v in zip(keys, vals) if v}
    src = tmp_path / f"{'_'.join(design)}.json"
    src.write_text(json.dumps(table))
    out = tmp_path / f"{'_'.join(design)}.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabImportWarning)
        import_lab_shots(src, out, LabImportConfig(target="ghz"))
    return out


def test_reconstruct_reports_the_range_and_widens_the_headline(tmp_path):
    """Without a model the headline of an open design is the raw-frequency MLE (no direct
    estimate exists); the report adds the range, says the fidelity is not determined, and the
    headline interval contains the range. A design that measures the coherence is not called
    undetermined."""
    from qtomo.reconstruction.run import ReconstructConfig, reconstruct

    rng = np.random.default_rng(5)
    open_ = _import_counts(tmp_path, ["ZZZ", "YYY", "XXY"], rng)
    rep = reconstruct(open_, None, ReconstructConfig()).report
    rng_ = rep["quantum"]["data_range"]
    assert rng_["determined"] is False and rng_["high"] - rng_["low"] > 0.5
    assert any(note.startswith(UNDETERMINED_NOTE) for note in rep["notes"])
    head = rep["headline"]["quantum_fidelity"]
    assert head["ci95"][0] <= rng_["low"] and head["ci95"][1] >= rng_["high"]
    assert "simultaneous bands" in head["ci95_method"]
    pinned = _import_counts(tmp_path, ["ZZZ", "XXX", "XYY"], rng)
    rep = reconstruct(pinned, None, ReconstructConfig()).report
    assert rep["quantum"]["data_range"]["determined"] is True
    assert not any(note.startswith(UNDETERMINED_NOTE) for note in rep["notes"])


def test_a_headline_outside_a_determined_range_is_said():
    """A headline the shots exclude (0.5 where the pinned GHZ-3 design gives about [0.75, 0.83])
    gets the note; the headline policy widens its interval to contain the range."""
    from types import SimpleNamespace

    from qtomo.reconstruction.estimates import FigureEstimate
    from qtomo.reconstruction.fidelity_range import OUTSIDE_NOTE, range_notes, range_stage
    from qtomo.reconstruction.headline import HeadlineChecks, choose_headline
    from qtomo.reconstruction.source import Source

    n, psi = 3, ghz(3)
    sigma = target_state(psi, 0.1)
    counts = design_counts(sigma, pauli6(), n, ["ZZZ", "XXX", "XYY"], 2000,
                           np.random.default_rng(3))
    qs = SimpleNamespace(freq=counts / counts.sum(), ideal=psi)
    inp = SimpleNamespace(frame=pauli6(), n=n)
    rng = range_stage(qs, inp, int(counts.sum()), None, lambda _: None)
    assert rng["determined"] and rng["low"] > 0.6
    notes = range_notes(rng, 0.5)
    assert len(notes) == 1 and notes[0].startswith(OUTSIDE_NOTE)
    model = FigureEstimate(Source.MODEL_MLE, 0.5, stderr=0.025, ci95=[0.45, 0.55])
    head = choose_headline([model], HeadlineChecks(consistent=True, fidelity_range=rng))
    assert head.entry["ci95"] == [0.45, rng["high"]]
