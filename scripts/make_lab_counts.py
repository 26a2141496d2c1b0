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

Other cases (``scripts/bench_readout.py``): ``--n 6 --settings 40 --shots 500`` measures 40
distinct settings drawn at random (seeded) instead of all 3^N; ``--noise``, ``--p10``, ``--p01``,
``--cal-shots`` and ``--seed`` change the rest. The defaults reproduce the shipped file.
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


def readout_map(a: np.ndarray, p10: float = P10, p01: float = P01) -> np.ndarray:
    """The map whose ideal Pauli statistics equal the readout-corrupted ones, per qubit:
    identity part t I -> t (I + (P01 - P10)(X + Y + Z)), traceless part scaled by 1 - P10 - P01."""
    t = np.trace(a) / 2
    traceless = a - t * I2
    return t * (I2 + (p01 - p10) * sum(PAULI.values())) + (1 - p10 - p01) * traceless


def rotate(rho: np.ndarray, setting: str) -> np.ndarray:
    u = np.array([[1.0 + 0j]])
    for letter in setting:
        u = np.kron(u, ROTATION[letter])
    return u @ rho @ u.conj().T


def read_with_errors(bits: np.ndarray, rng: np.random.Generator, p10: float = P10,
                     p01: float = P01) -> np.ndarray:
    """Flip each bit: 0 -> 1 with probability P10, 1 -> 0 with probability P01."""
    u = rng.random(bits.shape)
    flip = np.where(bits == 0, u < p10, u < p01)
    return bits ^ flip.astype(bits.dtype)


def tally(bits: np.ndarray) -> dict[str, int]:
    keys, counts = np.unique(bits, axis=0, return_counts=True)
    return {"".join(map(str, k)): int(c) for k, c in zip(keys, counts, strict=True)}


def make_counts(n: int = N, noise: float = P_NOISE, shots: int = SHOTS,
                n_settings: int | None = None, p10: float = P10, p01: float = P01,
                cal_shots: int = CAL_SHOTS, seed: int = SEED) -> dict:
    """The counts file's content for a noisy n-qubit GHZ state (see the module docstring).

    ``n_settings`` None measures all 3^n settings in lexicographic order; a number draws that
    many distinct settings uniformly at random (seeded), in the order drawn.
    """
    rng = np.random.default_rng(seed)
    psi = ghz(n)
    rho = np.outer(psi, psi.conj())
    for j in range(n):
        rho = on_qubit(rho, j, n, lambda a: depolarize(a, noise))
    fidelity = float(np.real(psi.conj() @ rho @ psi))
    corrupted = rho
    for j in range(n):
        corrupted = on_qubit(corrupted, j, n, lambda a: readout_map(a, p10, p01))
    fidelity_uncorrected = float(np.real(psi.conj() @ corrupted @ psi))

    everything = ["".join(t) for t in itertools.product("XYZ", repeat=n)]
    chosen = everything if n_settings is None else \
        [everything[k] for k in rng.choice(len(everything), size=n_settings, replace=False)]
    weights = 2 ** np.arange(n - 1, -1, -1)  # qubit 0 is the most significant bit
    settings = {}
    for s in chosen:
        p = np.clip(np.real(np.diag(rotate(rho, s))), 0, None)
        idx = rng.choice(2**n, size=shots, p=p / p.sum())
        bits = ((idx[:, None] // weights[None, :]) % 2).astype(np.uint8)
        settings[s] = tally(read_with_errors(bits, rng, p10, p01))
    calibration = {}
    for b in (0, 1):
        prepared = np.full((cal_shots, n), b, dtype=np.uint8)
        calibration[str(b) * n] = tally(read_with_errors(prepared, rng, p10, p01))
    which = (f"all {len(chosen)}" if n_settings is None
             else f"{len(chosen)} random (of {len(everything)})")
    comment = {
        "description": f"noisy {n}-qubit GHZ: local depolarizing p={noise:g} on every qubit; "
                       f"{which} Pauli settings x {shots} shots; bit 0 = +1 eigenstate; qubit 0 "
                       "is the first character; made by scripts/make_lab_counts.py",
        "readout_errors": {"P(1|0)": p10, "P(0|1)": p01},
        "calibration_shots": cal_shots, "seed": seed,
        "exact_fidelity_to_ghz": round(fidelity, 12),
        "fidelity_seen_without_readout_correction": round(fidelity_uncorrected, 12),
    }
    return {"comment": comment, "settings": settings, "calibration": calibration}


def write_counts(doc: dict, out: Path) -> None:
    """Write ``doc`` with one line per setting (small diffs, readable)."""
    settings, calibration = doc["settings"], doc["calibration"]
    lines = ["{", f'  "comment": {json.dumps(doc["comment"])},', '  "settings": {']
    lines += [f'    "{s}": {json.dumps(c)}{"," if i < len(settings) - 1 else ""}'
              for i, (s, c) in enumerate(settings.items())]
    lines += ["  },", '  "calibration": {']
    lines += [f'    "{s}": {json.dumps(c)}{"," if i == 0 else ""}'
              for i, (s, c) in enumerate(calibration.items())]
    lines += ["  }", "}"]
    out.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT, help=f"output file [{OUT}]")
    ap.add_argument("--n", type=int, default=N, help=f"qubits [{N}]")
    ap.add_argument("--noise", type=float, default=P_NOISE, help=f"depolarizing p [{P_NOISE}]")
    ap.add_argument("--shots", type=int, default=SHOTS, help=f"shots per setting [{SHOTS}]")
    ap.add_argument("--settings", type=int, default=None,
                    help="number of random settings (default: all 3^n)")
    ap.add_argument("--p10", type=float, default=P10, help=f"P(read 1 | 0) [{P10}]")
    ap.add_argument("--p01", type=float, default=P01, help=f"P(read 0 | 1) [{P01}]")
    ap.add_argument("--cal-shots", type=int, default=CAL_SHOTS,
                    help=f"calibration shots of each of |0..0>, |1..1> [{CAL_SHOTS}]")
    ap.add_argument("--seed", type=int, default=SEED, help=f"seed [{SEED}]")
    a = ap.parse_args(argv)
    doc = make_counts(a.n, a.noise, a.shots, a.settings, a.p10, a.p01, a.cal_shots, a.seed)
    write_counts(doc, a.out)
    c = doc["comment"]
    print(f"wrote {a.out}: {len(doc['settings'])} settings x {a.shots} shots, calibration "
          f"{a.cal_shots} x 2; exact fidelity {c['exact_fidelity_to_ghz']:.12f}, without "
          f"readout correction {c['fidelity_seen_without_readout_correction']:.12f}")


if __name__ == "__main__":
    main()
