"""Generate ``data/ghz4_lab.csv``: shots of a noisy 4-qubit GHZ state in the lab's Pauli form.

Independent of qtomo (plain NumPy), so that importing and reconstructing the file checks qtomo
against a separate implementation. The "device" prepares GHZ = (|0000> + |1111>)/sqrt(2) and
every qubit then suffers local depolarizing noise of strength p:
E_p(rho) = (1 - p) rho + p Tr_j[rho] (x) I/2. Each shot measures every qubit in a basis X, Y or
Z drawn independently and uniformly, and records the bit 0 for the +1 eigenstate and 1 for the
-1 eigenstate. Qubit 0 is the first character of both strings (``--bit-order q0-first``).

The exact squared fidelity of the prepared state to the ideal GHZ state is printed (and quoted
in ``data/README.md``).

Run:  python data/make_ghz4_lab.py            (rewrites data/ghz4_lab.csv, seeded)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

N = 4
P_NOISE = 0.05
SHOTS = 200_000
SEED = 20240605
OUT = Path(__file__).with_name("ghz4_lab.csv")


def depolarize_all(rho: np.ndarray, p: float, n: int) -> np.ndarray:
    t = rho.reshape([2] * (2 * n))
    for j in range(n):
        tr = np.trace(t, axis1=j, axis2=n + j)  # partial trace over qubit j
        mixed = np.expand_dims(np.expand_dims(tr, j), n + j) * (np.eye(2) / 2).reshape(
            [2 if k in (j, n + j) else 1 for k in range(2 * n)]
        )
        t = (1 - p) * t + p * mixed
    return t.reshape(2**n, 2**n)


def main() -> None:
    ghz = np.zeros(2**N, dtype=complex)
    ghz[0] = ghz[-1] = 1 / np.sqrt(2)
    sigma = depolarize_all(np.outer(ghz, ghz.conj()), P_NOISE, N)
    fidelity = float(np.real(ghz.conj() @ sigma @ ghz))
    h = np.array([[1, 1], [1, -1]]) / np.sqrt(2)
    sdg = np.diag([1, -1j])
    # rotation taking the +1 eigenstate of X, Y, Z to |0> (and -1 to |1>)
    rot = {0: h, 1: h @ sdg, 2: np.eye(2)}
    rng = np.random.default_rng(SEED)
    bases = rng.integers(0, 3, size=(SHOTS, N))
    setting = bases @ (3 ** np.arange(N - 1, -1, -1))
    bits = np.zeros((SHOTS, N), dtype=np.int64)
    for s in np.unique(setting):
        b = [(s // 3 ** (N - 1 - j)) % 3 for j in range(N)]
        u = np.ones((1, 1))
        for j in range(N):
            u = np.kron(u, rot[b[j]])
        probs = np.clip(np.real(np.diag(u @ sigma @ u.conj().T)), 0, None)
        probs /= probs.sum()
        rows = np.flatnonzero(setting == s)
        idx = rng.choice(2**N, size=rows.size, p=probs)
        bits[rows] = (idx[:, None] >> (N - 1 - np.arange(N))[None, :]) & 1  # qubit 0 = MSB
    letters = np.array(list("XYZ"))
    lines = [
        f"# noisy 4-qubit GHZ: local depolarizing p={P_NOISE} on every qubit, {SHOTS} shots, "
        f"seed {SEED}",
        "# each qubit measured in a uniformly random Pauli basis; bit 0 = +1 eigenstate; "
        "qubit 0 is the first character",
        f"# exact squared fidelity to the ideal GHZ state: {fidelity:.12f}",
        "bases,bits",
    ]
    lines += ["".join(b) + "," + "".join(map(str, x))
              for b, x in zip(letters[bases], bits, strict=True)]
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT} ({SHOTS} shots); exact squared fidelity to GHZ = {fidelity:.12f}")


if __name__ == "__main__":
    main()
