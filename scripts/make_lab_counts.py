"""Generate ``data/ghz4_counts.json``: counts per Pauli setting of a noisy 4-qubit GHZ state,
as a lab records them, with readout errors and readout-calibration counts.

Independent of qtomo (plain NumPy, no qtomo imports), so that importing the file checks qtomo
against a separate implementation.

* State: GHZ = (|0000> + |1111>)/sqrt(2) after local depolarizing noise of strength p = 0.05
  on every qubit, E_p(rho) = (1 - p) rho + p Tr_j[rho] (x) I/2, on the density matrix.
* Design: all 3^4 = 81 settings (a Pauli letter X, Y or Z per qubit), each measured in
  1,000 shots. A shot rotates every qubit into its basis (X: H, Y: H S^dagger, Z: identity)
  and reads the computational basis; bit 0 = +1 eigenstate of the measured Pauli.
* Readout errors, on every qubit and every shot, applied to the bits:
  P(read 1 | 0) = 0.02, P(read 0 | 1) = 0.05.
* Calibration: 10,000 shots each of prepared |0000> and |1111>, with the same readout errors.
* Keys: qubit 0 is the first character of settings and outcomes (``--bit-order q0-first``).

The file is ``{"comment": {...}, "settings": {setting: {outcome: count}}, "calibration":
{prepared: {outcome: count}}}``; the comment holds the exact squared fidelity of the noisy
state to GHZ and the value that a fidelity estimate ignoring the readout errors tends to
(the GHZ fidelity of the state whose ideal Pauli measurements give the corrupted statistics).

Run:  python scripts/make_lab_counts.py [--out FILE]   (rewrites data/ghz4_counts.json, seeded)
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np

N = 4
P_NOISE = 0.05
SHOTS = 1000
CAL_SHOTS = 10_000
P10, P01 = 0.02, 0.05  # P(read 1 | prepared 0), P(read 0 | prepared 1)
SEED = 20261201
OUT = Path(__file__).resolve().parents[1] / "data" / "ghz4_counts.json"

I2 = np.eye(2, dtype=complex)
H = np.array([[1, 1], [1, -1]], dtype=complex) / np.sqrt(2)
SDG = np.diag([1, -1j])
ROTATION = {"X": H, "Y": H @ SDG, "Z": I2}  # maps the +1/-1 eigenstates to |0>/|1>
PAULI = {"X": np.array([[0, 1], [1, 0]], dtype=complex),
         "Y": np.array([[0, -1j], [1j, 0]]), "Z": np.diag([1.0, -1.0]).astype(complex)}


def ghz(n: int) -> np.ndarray:
    psi = np.zeros(2**n, dtype=complex)
    psi[0] = psi[-1] = 1 / np.sqrt(2)
    return psi


def on_qubit(rho: np.ndarray, j: int, n: int, fn) -> np.ndarray:
    """Apply a single-qubit linear map ``fn`` (2x2 -> 2x2) to qubit j of an n-qubit operator."""
    t = rho.reshape([2] * (2 * n))
    t = np.moveaxis(t, (j, n + j), (0, 1))  # (row_j, col_j, rest...)
    shape = t.shape
    flat = t.reshape(2, 2, -1)
    out = np.stack([fn(flat[:, :, k]) for k in range(flat.shape[2])], axis=2)
    return np.moveaxis(out.reshape(shape), (0, 1), (j, n + j)).reshape(rho.shape)


def depolarize(a: np.ndarray, p: float) -> np.ndarray:
    return (1 - p) * a + p * np.trace(a) * I2 / 2


def readout_map(a: np.ndarray) -> np.ndarray:
    """The map whose ideal Pauli statistics equal the readout-corrupted ones, per qubit:
    identity part t I -> t (I + (P01 - P10)(X + Y + Z)), traceless part scaled by 1 - P10 - P01."""
    t = np.trace(a) / 2
    traceless = a - t * I2
    return t * (I2 + (P01 - P10) * sum(PAULI.values())) + (1 - P10 - P01) * traceless


def rotate(rho: np.ndarray, setting: str) -> np.ndarray:
    u = np.array([[1.0 + 0j]])
    for letter in setting:
        u = np.kron(u, ROTATION[letter])
    return u @ rho @ u.conj().T


def read_with_errors(bits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Flip each bit: 0 -> 1 with probability P10, 1 -> 0 with probability P01."""
    u = rng.random(bits.shape)
    flip = np.where(bits == 0, u < P10, u < P01)
    return bits ^ flip.astype(bits.dtype)


def tally(bits: np.ndarray) -> dict[str, int]:
    keys, counts = np.unique(bits, axis=0, return_counts=True)
    return {"".join(map(str, k)): int(c) for k, c in zip(keys, counts, strict=True)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT, help=f"output file [{OUT}]")
    out = ap.parse_args(argv).out
    rng = np.random.default_rng(SEED)
    psi = ghz(N)
    rho = np.outer(psi, psi.conj())
    for j in range(N):
        rho = on_qubit(rho, j, N, lambda a: depolarize(a, P_NOISE))
    fidelity = float(np.real(psi.conj() @ rho @ psi))
    corrupted = rho
    for j in range(N):
        corrupted = on_qubit(corrupted, j, N, readout_map)
    fidelity_uncorrected = float(np.real(psi.conj() @ corrupted @ psi))

    weights = 2 ** np.arange(N - 1, -1, -1)  # qubit 0 is the most significant bit
    settings = {}
    for letters in itertools.product("XYZ", repeat=N):
        s = "".join(letters)
        p = np.clip(np.real(np.diag(rotate(rho, s))), 0, None)
        idx = rng.choice(2**N, size=SHOTS, p=p / p.sum())
        bits = ((idx[:, None] // weights[None, :]) % 2).astype(np.uint8)
        settings[s] = tally(read_with_errors(bits, rng))
    calibration = {}
    for b in (0, 1):
        prepared = np.full((CAL_SHOTS, N), b, dtype=np.uint8)
        calibration[str(b) * N] = tally(read_with_errors(prepared, rng))

    comment = {
        "description": "noisy 4-qubit GHZ: local depolarizing p=0.05 on every qubit; all 81 "
                       "Pauli settings x 1000 shots; bit 0 = +1 eigenstate; qubit 0 is the "
                       "first character; made by scripts/make_lab_counts.py",
        "readout_errors": {"P(1|0)": P10, "P(0|1)": P01},
        "calibration_shots": CAL_SHOTS, "seed": SEED,
        "exact_fidelity_to_ghz": round(fidelity, 12),
        "fidelity_seen_without_readout_correction": round(fidelity_uncorrected, 12),
    }
    lines = ["{", f'  "comment": {json.dumps(comment)},', '  "settings": {']
    lines += [f'    "{s}": {json.dumps(c)}{"," if i < len(settings) - 1 else ""}'
              for i, (s, c) in enumerate(settings.items())]
    lines += ["  },", '  "calibration": {']
    lines += [f'    "{s}": {json.dumps(c)}{"," if i == 0 else ""}'
              for i, (s, c) in enumerate(calibration.items())]
    lines += ["  }", "}"]
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}: {len(settings)} settings x {SHOTS} shots, calibration "
          f"{CAL_SHOTS} x 2; exact fidelity {fidelity:.12f}, without readout correction "
          f"{fidelity_uncorrected:.12f}")


if __name__ == "__main__":
    main()
