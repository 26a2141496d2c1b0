#!/usr/bin/env python
"""Benchmark qtomo's two-site DMRG on the critical open TFIM chain (J = h = 1).

Prints, for each N: wall time, relative energy error against the free-fermion energy, the
largest errors of <X_i> and <Z_i Z_j>, sweeps and the largest bond dimension. When TeNPy
(``physics-tenpy``, the ``bench`` extra) is importable it runs TeNPy's two-site DMRG on the
same chain in the same process and prints the time ratio.

Run it under the shared CPU lock::

    flock /tmp/qtomo_cpu.lock .venv/bin/python scripts/bench_dmrg.py [--sizes 50 100]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time

import benchlib
import numpy as np

from qtomo.states.dmrg import dmrg_tfim
from qtomo.states.exact import tfim_ground_energy, tfim_x_expectations, tfim_zz_matrix


def run_qtomo(n: int, chi_max: int, cutoff: float, tol: float) -> dict:
    t0 = time.perf_counter()
    res = dmrg_tfim(n, 1.0, 1.0, chi_max=chi_max, cutoff=cutoff, tol=tol)
    wall = time.perf_counter() - t0
    e = tfim_ground_energy(n, 1.0, 1.0)
    t1 = time.perf_counter()
    x = res.mps.x_expectations()
    zz = res.mps.zz_matrix()
    t_obs = time.perf_counter() - t1
    return {
        "code": "qtomo",
        "n": n,
        "wall_s": round(wall, 3),
        "rel_energy_error": abs(res.energy - e) / abs(e),
        "max_x_error": float(np.abs(x - tfim_x_expectations(n, 1, 1)).max()),
        "max_zz_error": float(np.abs(zz - tfim_zz_matrix(n, 1, 1)).max()),
        "observables_s": round(t_obs, 3),
        "sweeps": res.sweeps,
        "max_bond": res.mps.max_bond,
        "truncation_error": res.truncation_error,
    }


def run_tenpy(n: int, chi_max: int, cutoff: float, tol: float) -> dict | None:
    try:
        import tenpy  # noqa: F401
        from tenpy.algorithms import dmrg
        from tenpy.models.tf_ising import TFIChain
        from tenpy.networks.mps import MPS as TenpyMPS  # noqa: N811
    except ImportError:
        return None
    logging.getLogger("tenpy").setLevel(logging.WARNING)
    # TeNPy's TFIChain is H = -J sum X X - g sum Z: the same spectrum (global Hadamard).
    t0 = time.perf_counter()
    model = TFIChain({"L": n, "J": 1.0, "g": 1.0, "bc_MPS": "finite", "conserve": "best"})
    psi = TenpyMPS.from_product_state(model.lat.mps_sites(), ["up"] * n, "finite")
    params = {
        "mixer": None,
        "max_E_err": tol,
        "max_sweeps": 30,
        # TeNPy discards a tail of weight <= trunc_cut**2: the same rule as qtomo's cutoff
        "trunc_params": {"chi_max": chi_max, "svd_min": 1e-14, "trunc_cut": float(np.sqrt(cutoff))},
    }
    info = dmrg.run(psi, model, params)
    wall = time.perf_counter() - t0
    e = tfim_ground_energy(n, 1.0, 1.0)
    return {
        "code": f"tenpy {tenpy.__version__} (parity conserved)",
        "n": n,
        "wall_s": round(wall, 3),
        "rel_energy_error": abs(info["E"] - e) / abs(e),
        "sweeps": int(info["sweep_statistics"]["sweep"][-1]),
        "max_bond": int(max(psi.chi)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[50, 100])
    ap.add_argument("--chi", type=int, default=128)
    ap.add_argument("--cutoff", type=float, default=1e-14)
    ap.add_argument("--tol", type=float, default=1e-12)
    ap.add_argument("--no-tenpy", action="store_true")
    args = ap.parse_args()
    print(
        f"# cpu count {os.cpu_count()}, chi_max {args.chi}, cutoff {args.cutoff:g}, "
        f"tol {args.tol:g}"
    )
    settings = {"chi": args.chi, "cutoff": args.cutoff, "tol": args.tol}
    rows: list[dict] = []
    for n in args.sizes:
        q = run_qtomo(n, args.chi, args.cutoff, args.tol)
        print(json.dumps(q))
        info = {**settings, "sweeps": q["sweeps"], "max_bond": q["max_bond"]}
        rows += [{"case": f"TFIM N={n}", "metric": key, "value": q[key], "unit": unit,
                  "extra": info}
                 for key, unit in (("wall_s", "s"), ("rel_energy_error", ""),
                                   ("max_x_error", ""), ("max_zz_error", ""))]
        if not args.no_tenpy:
            t = run_tenpy(n, args.chi, args.cutoff, args.tol)
            if t is None:
                print("# TeNPy not installed (pip install physics-tenpy): no comparison")
                continue
            print(json.dumps(t))
            print(
                f"# N={n}: qtomo {q['wall_s']:.2f} s, TeNPy {t['wall_s']:.2f} s, "
                f"ratio qtomo/TeNPy = {q['wall_s'] / t['wall_s']:.2f}"
            )
            tinfo = {**settings, "code": t["code"]}
            rows += [{"case": f"TFIM N={n}", "metric": "tenpy_wall_s", "value": t["wall_s"],
                      "unit": "s", "extra": tinfo},
                     {"case": f"TFIM N={n}", "metric": "ratio_qtomo_over_tenpy",
                      "value": q["wall_s"] / t["wall_s"], "extra": tinfo}]
    benchlib.write_records("dmrg", rows)  # after every timing (it imports torch)


if __name__ == "__main__":
    main()
