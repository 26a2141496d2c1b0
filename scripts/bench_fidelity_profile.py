"""How far do the shots themselves fix the fidelity? The profile likelihood of <psi|rho|psi>.

For a dataset whose target |psi> is permutation-symmetric (GHZ, W), this fits the shots in
the small family that holds the state they were drawn from,

    rho(c, p) = E_p^{(x)N}( |phi><phi| ),   |phi> = sum_k c_k |D_k>   (N + 1 Dicke states),

E_p the single-qubit depolarizing channel (2N + 2 real parameters), and profiles its
log-likelihood over the squared fidelity F = <psi|rho|psi>: for each F on a grid, the largest
log-likelihood of all the shots among the states of the family with that F. The family is
permutation-invariant, so its likelihood of the raw shots is exact (no table averaging).

Printed: the MLE's F and p; for each F the drop 2 (log L_max - log L(F)); the likelihood-ratio
95% interval (drop <= 3.84); and the drop at the exact value (``--exact``, or the dataset's own
<psi|sigma|psi> for qtomo's simulated noise). An interval much wider than a target error says
that no estimator can meet that target on these shots without a prior that happens to be right.

    python scripts/bench_fidelity_profile.py out/bench_blend/ghz-pauli4_p0.05_n8_s20000/data.h5
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import benchlib
import numpy as np

CHI2_1_95 = 3.841


class SymmetricFamily:
    """rho(c, p) on N qubits under one single-qubit POVM frame, with its shots' counts."""

    def __init__(self, counts: np.ndarray, elements: np.ndarray, n: int, psi: np.ndarray):
        import torch

        from qtomo.reconstruction.symmetric_mle import dicke_basis

        self.torch, self.n = torch, n
        self.b = torch.tensor(dicke_basis(n), dtype=torch.complex128)
        self.m = torch.tensor(elements, dtype=torch.complex128)
        self.tr = torch.einsum("kii->k", self.m)
        pos = counts > 0
        self.pos = torch.tensor(pos)
        self.c = torch.tensor(counts[pos], dtype=torch.float64)
        self.psi = torch.tensor(psi, dtype=torch.complex128)

    def _phi(self, x):  # noqa: ANN001, ANN202
        n = self.n
        phi = self.b @ self.torch.complex(x[: n + 1], x[n + 1: 2 * n + 2])
        return phi / self.torch.linalg.vector_norm(phi)

    def nll_and_f(self, x, q):  # noqa: ANN001, ANN201
        """-log L of the shots and F, for Dicke amplitudes x (real, imag) and logit(p) q."""
        torch, n = self.torch, self.n
        p = torch.sigmoid(q)
        # E_p acts on the state as E_p^dagger = E_p on the POVM elements
        eye = torch.eye(2, dtype=torch.complex128)
        e = (1 - p) * self.m + p * self.tr[:, None, None] * eye / 2
        phi = self._phi(x)
        t = torch.outer(phi, phi.conj()).reshape(1, 2, 2 ** (n - 1), 2, 2 ** (n - 1))
        for j in range(n):
            rest = 2 ** (n - j - 1)
            t = torch.einsum("xirjq,kji->xkrq", t.reshape(-1, 2, rest, 2, rest), e)
        prob = t.reshape(-1).real[self.pos].clamp_min(1e-300)
        # F = <psi| E_p(|phi><phi|) |psi> = <phi| E_p(|psi><psi|) |phi>
        s = torch.outer(self.psi, self.psi.conj()).reshape([2] * (2 * n))
        for j in range(n):
            tr = torch.diagonal(s, dim1=j, dim2=n + j).sum(-1)
            shape = [2 if k in (j, n + j) else 1 for k in range(2 * n)]
            mixed = tr.unsqueeze(j).unsqueeze(n + j) * eye.reshape(shape) / 2
            s = (1 - p) * s + p * mixed
        f = (phi.conj() @ s.reshape(2**n, 2**n) @ phi).real
        return -(self.c * torch.log(prob)).sum(), f, p

    def fit(self, x0, q0, f_target: float | None = None):  # noqa: ANN001, ANN201
        """Maximise the likelihood (at F = ``f_target`` by a stiff quadratic penalty)."""
        torch = self.torch
        x = x0.detach().clone().requires_grad_(True)
        q = q0.detach().clone().requires_grad_(True)
        scale = float(self.c.sum())
        opt = torch.optim.LBFGS([x, q], max_iter=500, tolerance_grad=1e-11,
                                tolerance_change=1e-14, history_size=50,
                                line_search_fn="strong_wolfe")

        def closure():  # noqa: ANN202
            opt.zero_grad()
            nll, f, _ = self.nll_and_f(x, q)
            loss = nll / scale
            if f_target is not None:
                loss = loss + 1e4 * (f - f_target) ** 2
            loss.backward()
            return loss

        for _ in range(3):
            opt.step(closure)
        with torch.no_grad():
            nll, f, p = self.nll_and_f(x, q)
        return x, q, float(nll), float(f), float(p)


def profile(data: Path, grid: np.ndarray, exact: float | None) -> dict:
    import torch

    from qtomo.data.hdf5 import open_dataset
    from qtomo.errors import InputValueError
    from qtomo.povm.born import outcome_index
    from qtomo.reconstruction import metrics as mt
    from qtomo.reconstruction.symmetric_mle import dicke_basis, is_symmetric

    torch.set_default_dtype(torch.float64)
    with open_dataset(data) as ds:
        n, k, frame = ds.n_qubits, ds.K, ds.frame
        counts = np.bincount(outcome_index(ds.outcomes(0, ds.shots), k), minlength=k**n)
        psi = ds.target_array("psi")
        noise = float(ds.target.get("noise") or 0.0)
    if psi is None or np.asarray(psi).size != 2**n:
        raise InputValueError(f"{data}: the dataset holds no target state vector |psi>")
    psi = np.asarray(psi, dtype=np.complex128)
    basis = dicke_basis(n)
    if not is_symmetric(psi):
        raise InputValueError(f"{data}: the target is not permutation-symmetric (GHZ, W are); "
                              "the symmetric family cannot hold its state")
    if exact is None and noise == 0:
        exact = 1.0  # the shots came from |psi> itself
    elif exact is None:
        exact = float(mt.physical_fidelity(mt.target_state(psi, noise), mt.target_state(psi)))
    fam = SymmetricFamily(counts.astype(np.float64), np.asarray(frame.at(0).elements), n, psi)
    # start from the target itself (its Dicke amplitudes) behind a little noise
    x0 = torch.zeros(2 * n + 2)
    amp = basis.T @ psi
    x0[: n + 1], x0[n + 1:] = torch.tensor(amp.real), torch.tensor(amp.imag)
    x_mle, q_mle, nll_mle, f_mle, p_mle = fam.fit(x0, torch.tensor([math.log(0.02 / 0.98)]))
    rows = []
    for side in (grid[grid >= f_mle], grid[grid < f_mle][::-1]):
        x, q = x_mle, q_mle  # continue from the neighbour on each side of the MLE
        for f0 in side:
            x, q, nll, f, p = fam.fit(x, q, float(f0))
            rows.append((f, 2.0 * (nll - nll_mle), p))
    rows.sort()
    _, _, nll_ex, f_ex, _ = fam.fit(x0, torch.tensor([math.log(0.02 / 0.98)]), exact)
    lo = hi = None
    for (f1, d1, _), (f2, d2, _) in zip(rows, rows[1:]):
        if d1 > CHI2_1_95 >= d2:
            lo = f1 + (f2 - f1) * (d1 - CHI2_1_95) / (d1 - d2)
        if d1 <= CHI2_1_95 < d2:
            hi = f1 + (f2 - f1) * (CHI2_1_95 - d1) / (d2 - d1)
    return {"n": n, "shots": int(counts.sum()), "mle_f": f_mle, "mle_p": p_mle, "rows": rows,
            "ci95": (lo, hi), "exact": exact, "exact_drop": 2.0 * (nll_ex - nll_mle),
            "exact_fit_f": f_ex}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path, nargs="+", help="qtomo HDF5 dataset(s)")
    ap.add_argument("--grid", default="0.3:1.0:0.025", help="F grid LO:HI:STEP [0.3:1.0:0.025]")
    ap.add_argument("--exact", type=float, default=None,
                    help="the exact F [the dataset's <psi|sigma|psi>]")
    args = ap.parse_args(argv)
    try:
        lo, hi, step = (float(v) for v in args.grid.split(":"))
    except ValueError:
        ap.error(f"--grid {args.grid!r} is not LO:HI:STEP")
    grid = np.arange(lo, hi + step / 2, step)
    for data in args.data:
        if not data.exists():
            print(f"error: {data} does not exist", file=sys.stderr)
            return 2
        from qtomo.errors import QtomoError

        try:
            r = profile(data, grid, args.exact)
        except QtomoError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        ci = ", ".join("n/a" if v is None else f"{v:.4f}" for v in r["ci95"])
        print(f"{data}: N = {r['n']}, {r['shots']} shots; MLE F = {r['mle_f']:.4f} "
              f"(p = {r['mle_p']:.4f}); 95% LR interval [{ci}]; exact {r['exact']:.4f}, "
              f"its drop 2 dlogL = {r['exact_drop']:.2f}")
        print("  F       2 dlogL   p")
        for f, d, p in r["rows"]:
            print(f"  {f:.4f}  {d:8.2f}  {p:.4f}")
        info = {"n": r["n"], "shots": r["shots"], "exact": r["exact"], "mle_p": r["mle_p"],
                "grid": args.grid}
        benchlib.write_records("fidelity_profile", [
            {"case": str(data), "metric": key, "value": value, "extra": info}
            for key, value in (("mle_fidelity", r["mle_f"]), ("ci95_low", r["ci95"][0]),
                               ("ci95_high", r["ci95"][1]), ("exact_drop", r["exact_drop"]))])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
