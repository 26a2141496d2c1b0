"""Coverage of the headline's error bar on shots from drifting devices (no model trained).

Simulates, with the dense simulator of ``tests/reconstruction/device_sim.py``, GHZ-4, W-4 and
one Haar-random 4-qubit state (local depolarizing --noise on every qubit, so the exact
fidelity <psi|rho|psi> is below 1 and known), all 81 Pauli settings x --shots, and three
devices:

    ideal          the measurements as assumed
    drift          every qubit's measurement axis rotated, in every setting, by a fresh random
                   angle of s.d. --sigma about a random perpendicular axis (G/dof about 10-30)
    readout-drift  bit flips redrawn per setting around P(1|0) = 0.02, P(0|1) = 0.05 with s.d.
                   --flip-spread, corrected with the mean flips (validation: the candidates
                   were chosen on the drift cells)

For every dataset it computes, with the functions ``qtomo reconstruct`` uses: the direct
fidelity estimate (the headline without a model) and its standard error, the raw-frequency
MLE (``mle.fit_mle_auto``), its G-test against the per-setting counts and the no-signalling
check; then the 95% interval of the direct estimate under each candidate of
:mod:`qtomo.reconstruction.systematics`, each switched on only when the G-test rejects:

    stat      the statistical interval, value +- 1.96 s.e.
    scaled        (a) s.e. x sqrt(G/dof)
    residual      (a') s.e. from the settings' residuals against the fitted state
    settings      (b) bootstrap over settings and shots (--draws)
    spread        (c) s.e. and |direct - MLE| in quadrature
    drift_scaled  (a) with the drift bias (d)
    chosen        systematic_interval: (a') with the drift bias (d)

It prints, per device and state, how often each check flags, each interval's coverage of the
exact fidelity and its median half-width, and appends them to
``benchmarks/results/device_errorbars.jsonl``.

    python scripts/bench_device_errorbars.py                   # 20 datasets per cell
    python scripts/bench_device_errorbars.py --datasets 3 --devices drift
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import benchlib
import numpy as np

N = 4
STATES = ("ghz4", "w4", "haar4")
DEVICES = ("ideal", "drift", "readout-drift")
CANDIDATES = ("stat", "scaled", "residual", "settings", "spread", "drift_scaled", "chosen")
FLIPS = (0.02, 0.05)


def _sim() -> Any:
    """The dense simulator of the tests (tests/reconstruction/device_sim.py)."""
    if str(benchlib.ROOT) not in sys.path:
        sys.path.insert(0, str(benchlib.ROOT))
    from tests.reconstruction import device_sim

    return device_sim


def _state(name: str) -> np.ndarray:
    sim = _sim()
    if name == "ghz4":
        return sim.ghz(N)
    if name == "w4":
        return sim.w_state(N)
    return sim.haar(N, np.random.default_rng(20261210))


def _counts(psi: np.ndarray, device: str, args: argparse.Namespace,
            rng: np.random.Generator) -> np.ndarray:
    sim = _sim()
    settings = sim.pauli_settings(N)
    rho = sim.depolarized(psi, args.noise)
    proj = sim.projectors(sim.axes(settings, args.sigma if device == "drift" else 0.0, rng))
    if device == "readout-drift":
        flips = np.clip(np.array(FLIPS) + args.flip_spread * rng.normal(
            size=(len(settings), N, 2)), 0.0, 0.5)
        proj = sim.misread(proj, flips)
    return sim.sample_counts(sim.probabilities(rho, proj), args.shots, rng)


def one(task: tuple[str, str, int, argparse.Namespace]) -> dict[str, Any]:
    """One dataset: its checks and the candidates' intervals of the direct estimate."""
    from qtomo.data.design import confusion_from_flips
    from qtomo.povm.born import outcome_index
    from qtomo.povm.frames import pauli6, readout_frames
    from qtomo.reconstruction import goodness_of_fit as gf
    from qtomo.reconstruction import metrics as mt
    from qtomo.reconstruction import mle
    from qtomo.reconstruction import systematics as sy
    from qtomo.reconstruction.no_signalling import no_signalling
    from qtomo.reconstruction.setting_counts import SettingCounts, pauli_projectors

    sim = _sim()
    device, state, seed, args = task
    rng = np.random.default_rng([seed, DEVICES.index(device), STATES.index(state)])
    psi = _state(state)
    exact = sim.fidelity(psi, sim.depolarized(psi, args.noise))
    counts = _counts(psi, device, args, rng)
    frame = pauli6() if device != "readout-drift" else readout_frames(
        pauli6(), confusion_from_flips(np.tile(FLIPS, (N, 1))))
    settings = sim.pauli_settings(N)
    cells = sim.pauli6_outcomes(settings, np.ones_like(counts))  # one row per (setting, bits)
    q = mt.direct_fidelity_values(cells, frame, psi).reshape(counts.shape)
    shots = counts.sum(axis=1)
    per = (counts * q).sum(axis=1) / shots
    var = (counts * (q - per[:, None]) ** 2).sum(axis=1) / (shots - 1)
    value, se = float(per.mean()), float(np.sqrt((var / shots).sum()) / len(settings))
    freq = np.bincount(outcome_index(cells, 6), weights=counts.ravel(), minlength=6**N)
    fit = mle.fit_mle_auto(freq / freq.sum(), frame, N, n_shots=int(shots.sum()))
    sc = SettingCounts(tuple(settings), counts, pauli_projectors(settings, frame, N),
                       np.array([list(s) for s in settings]))
    k, _ = gf.fitted_parameters("data_mle", fit.info(), N)
    gof = gf.g_test(counts, gf.setting_probabilities(fit.rho, sc.projectors), k)
    ns = no_signalling(sc)
    mle_value = float(mt.quantum_fidelity(fit.rho, psi))
    drift = sy.drift_bias(fit.rho, sc, gof, lambda r: mt.quantum_fidelity(r, psi))
    on = gof.rejected
    z = 1.959963984540054
    half = {"stat": z * se, "scaled": z * sy.scaled_stderr(se, gof)}
    half["settings"] = z * sy.settings_bootstrap(
        counts, lambda c, pick: float(((c * q[pick]).sum(axis=1) / c.sum(axis=1)).mean()),
        draws=args.draws, rng=rng) if on else half["stat"]
    half["spread"] = z * float(np.hypot(se, sy.estimator_spread(value, mle_value)))
    spread = sy.residual_stderr(counts, q, gf.setting_probabilities(fit.rho, sc.projectors), gof)
    half["residual"] = z * spread.total
    intervals = {c: [value - h, value + h] for c, h in half.items()}
    if not on:
        intervals = {c: intervals["stat"] for c in intervals}
    intervals["drift_scaled"] = sy.systematic_interval(
        value, se, intervals["stat"], gof, spread=None, drift=drift, cause="")[1]
    intervals["chosen"] = sy.systematic_interval(
        value, se, intervals["stat"], gof, spread=spread, drift=drift, cause="")[1]
    return {"device": device, "state": state, "seed": seed, "exact": exact, "value": value,
            "stderr": se, "mle": mle_value, "g_ratio": gof.ratio, "flagged": on,
            "ns_flagged": ns.rejected, "drifting_qubits": ns.rejected_qubits(),
            "bias": drift.bias, "tilt": drift.tilt,
            "covered": {c: bool(lo <= exact <= hi) for c, (lo, hi) in intervals.items()},
            "half_width": {c: (hi - lo) / 2 for c, (lo, hi) in intervals.items()}}


def summarize(rows: list[dict[str, Any]], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Print one block per (device, state) and return the benchmark records."""
    records = []
    for device, state in itertools.product(args.devices, STATES):
        rs = [r for r in rows if r["device"] == device and r["state"] == state]
        if not rs:
            continue
        case = f"{device}-{state}"
        m = len(rs)
        med = statistics.median
        figs = {"datasets": m, "gof_flagged": sum(r["flagged"] for r in rs),
                "no_signalling_flagged": sum(r["ns_flagged"] for r in rs),
                "drifting_qubit_named": sum(bool(r["drifting_qubits"]) for r in rs),
                "g_over_dof_median": med(r["g_ratio"] for r in rs),
                "error_median": med(r["value"] - r["exact"] for r in rs),
                "drift_bias_median": med(r["bias"] for r in rs)}
        print(f"{case}: exact {rs[0]['exact']:.4f}; G/dof median "
              f"{figs['g_over_dof_median']:.1f}; flagged: fit {figs['gof_flagged']}/{m}, no "
              f"signalling {figs['no_signalling_flagged']}/{m} (a qubit named "
              f"{figs['drifting_qubit_named']}/{m}); direct - exact median "
              f"{figs['error_median']:+.4f}, drift bias median {figs['drift_bias_median']:.4f}")
        for c in CANDIDATES:
            cov = sum(r["covered"][c] for r in rs)
            width = med(r["half_width"][c] for r in rs)
            print(f"    {c:12s} covers {cov:2d}/{m}, median half-width {width:.4f}")
            figs[f"coverage_{c}"] = cov
            figs[f"half_width_median_{c}"] = width
        extra = {"sigma": args.sigma if device == "drift" else 0.0, "shots": args.shots,
                 "noise": args.noise, "flip_spread": args.flip_spread
                 if device == "readout-drift" else 0.0}
        records += [{"case": case, "metric": k, "value": v, "extra": extra}
                    for k, v in figs.items()]
    return records


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", type=int, default=20)
    p.add_argument("--sigma", type=float, default=0.15, help="drift: s.d. of the tilt (rad)")
    p.add_argument("--flip-spread", type=float, default=0.01)
    p.add_argument("--shots", type=int, default=8000, help="shots per setting")
    p.add_argument("--noise", type=float, default=0.05, help="local depolarizing strength")
    p.add_argument("--draws", type=int, default=100, help="settings-bootstrap draws")
    p.add_argument("--devices", nargs="+", default=list(DEVICES), choices=DEVICES)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--no-record", action="store_true", help="print only")
    args = p.parse_args()
    tasks = [(d, s, i, args) for d in args.devices for s in STATES for i in range(args.datasets)]
    t0 = time.perf_counter()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")  # 16 x 16 matrices: threads only cost (spawned workers)
    with multiprocessing.get_context("spawn").Pool(max(1, args.workers)) as pool:
        rows = pool.map(one, tasks, chunksize=1)
    print(f"{len(rows)} datasets in {time.perf_counter() - t0:.0f} s")
    records = summarize(rows, args)
    if not args.no_record:
        benchlib.write_records("device_errorbars", records)
        print(f"appended {len(records)} records to "
              f"{Path(benchlib.results_dir()) / 'device_errorbars.jsonl'}")


if __name__ == "__main__":
    main()
