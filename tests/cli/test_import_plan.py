"""``qtomo import --design PLAN.json``: counts a lab measured on a ``qtomo plan`` design carry
the plan, and ``qtomo reconstruct`` gives the plan's lab-scale fidelity from them.

The lab is played by ``qtomo simulate --design`` (shots drawn from the exact per-setting
probabilities of the noisy state); its shots are written in the counts JSON layout of
:mod:`qtomo.data.counts` as a lab reports them: settings in another order than the plan's, a
setting the plan lists several times given once with its shots merged, outcomes as bit strings.

Tolerances. Against the exact fidelity of the noisy state: within 4 of the report's own
bootstrap standard errors (a false alarm once in ~16,000 runs of an unbiased estimator), that
standard error at most 1.5 times the plan's precision (so a wrong error bar fails too). Against
the same shots read from the simulated dataset: to 1e-12 where every setting holds the same
shots in both (the parity design lists no setting twice), since the estimate is a function of
the counts per setting.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from qtomo.data.hdf5 import open_dataset
from qtomo.states.families import cluster_statevector
from qtomo.states.ghz import ghz_statevector
from tests.cli.test_lab_scale import noisy_fidelity, ok, one_error_line, run

P = 0.02
PRECISION = 0.02


def write_counts(data, path, *, drop=None, edit=None):
    """The shots of a fixed-design dataset as a lab's counts JSON (list layout), settings in
    reverse order, repeated settings merged; ``drop``: leave out that many settings;
    ``edit(entry)``: change the entries."""
    with open_dataset(data) as ds:
        idx, bits = ds.setting_shots()
        angles, labels = ds.design.angles(), ds.design.settings
    merged: dict[str, list[int]] = {}
    for s, label in enumerate(labels):
        merged.setdefault(label if "A" not in label else angles[s].tobytes().hex(), []).append(s)
    entries = []
    for group in merged.values():
        rows, counts = np.unique(bits[np.isin(idx, group)], axis=0, return_counts=True)
        label = labels[group[0]]
        entry = {"paulis": label} if "A" not in label else {"axes": angles[group[0]].tolist()}
        entry["counts"] = {"".join(map(str, r)): int(c) for r, c in zip(rows, counts,
                                                                        strict=True)}
        entries.append(edit(entry) if edit else entry)
    path.write_text(json.dumps(entries[::-1][drop or 0:]))
    return path


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """Plans (GHZ-8 parity, cluster-8 stabilizer), their simulated datasets and the lab's
    counts of them."""
    d = tmp_path_factory.mktemp("lab")
    out = {}
    for state, protocol in (("ghz", "parity"), ("cluster", "stabilizer")):
        plan, data = d / f"{state}.json", d / f"{state}.h5"
        planned = ok("plan", "--state", state, "-n", 8, "--protocol", protocol, "--precision",
                     PRECISION, "--noise", P, "--out", plan)
        ok("simulate", "--design", plan, "--noise", P, "--eval-shots", 0, "--out", data)
        out[state] = (plan, data, write_counts(data, d / f"{state}_counts.json"), planned)
    return out


@pytest.mark.parametrize("state", ["ghz", "cluster"])
def test_imported_counts_give_the_plans_fidelity(tmp_path, lab, state):
    plan, data, counts, planned = lab[state]
    imp = ok("import", counts, "--design", plan, "--out", tmp_path / "lab.h5")
    protocol = planned["protocol"]
    assert imp["protocol"] == protocol and imp["target"] == state
    assert imp["design"]["n_settings"] == planned["n_settings"]
    assert imp["shots"] + imp.get("axis_shots", 0) == planned["shots_total"]
    rec = ok("reconstruct", "--data", tmp_path / "lab.h5", "--out", tmp_path / "rep",
             "--max-rho-qubits", 0)
    lab_block = rec["lab_scale"]
    exact, _ = noisy_fidelity((ghz_statevector if state == "ghz" else cluster_statevector)(8), P)
    assert lab_block["protocol"] == protocol and lab_block["n_shots"] == planned["shots_total"]
    assert 0 < lab_block["stderr"] <= 1.5 * PRECISION
    assert abs(lab_block["value"] - exact) < 4 * lab_block["stderr"]
    assert rec["quantum_fidelity"] == lab_block["value"]
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert report["lab_scale"]["plan_check"]["matches_plan"] is True
    assert report["headline"]["quantum_fidelity"]["estimator"] == "lab-scale"
    if state == "ghz":  # the same counts per setting as the simulated dataset
        sim = ok("reconstruct", "--data", data, "--out", tmp_path / "rep_sim",
                 "--max-rho-qubits", 0)["lab_scale"]
        assert lab_block["value"] == pytest.approx(sim["value"], abs=1e-12)


def test_counts_off_the_plans_shots_are_split_in_its_proportions(tmp_path, lab):
    """Twice the planned shots (one more on a setting the plan lists twice): each entry of a
    repeated setting gets its planned share, the extra shot goes to one of them, and
    reconstruct reports the difference from the plan instead of refusing."""
    plan, _, _, _ = lab["cluster"]
    spec = json.loads(plan.read_text())["settings"]
    twice = [s["paulis"] for s in spec if sum(t["paulis"] == s["paulis"] for t in spec) > 1][0]

    def doubled(entry):
        entry["counts"] = {k: 2 * v for k, v in entry["counts"].items()}
        if entry.get("paulis") == twice:
            key = next(iter(entry["counts"]))
            entry["counts"][key] += 1
        return entry

    counts = write_counts(lab["cluster"][1], tmp_path / "c.json", edit=doubled)
    ok("import", counts, "--design", plan, "--out", tmp_path / "c.h5")
    with open_dataset(tmp_path / "c.h5") as ds:
        got = np.array(ds.design.shots_per_setting)
        idx, _ = ds.setting_shots()
    want = 2 * np.array([s["shots"] for s in spec])
    extra = got - want
    assert extra.sum() == 1 and extra.min() == 0 and spec[int(np.argmax(extra))]["paulis"] == twice
    assert np.array_equal(np.bincount(idx, minlength=len(spec)), got)
    rec = ok("reconstruct", "--data", tmp_path / "c.h5", "--out", tmp_path / "rep",
             "--max-rho-qubits", 0)
    check = json.loads((tmp_path / "rep" / "report.json").read_text())["lab_scale"]["plan_check"]
    assert check["matches_plan"] is False and rec["lab_scale"]["n_shots"] == want.sum() + 1


# --- bad input: one line, a non-zero exit, no file ----------------------------------------------
def other_axis(entry):
    if "axes" in entry and entry["axes"][3][1] > 0:
        entry["axes"][3][1] += 0.01
    return entry


def z_to_x(entry):
    if entry.get("paulis") == "Z" * 8:
        entry["paulis"] = "Z" * 7 + "X"
    return entry


def no_shots_in_z(entry):
    if entry.get("paulis") == "Z" * 8:
        entry["counts"] = {k: 0 for k in entry["counts"]}
    return entry


EDITS = {"an axis differs": other_axis, "letters differ": z_to_x, "no shots": no_shots_in_z}


@pytest.mark.parametrize(("how", "code", "text"), [
    ("one setting less", 4, "the counts hold 18 settings, the plan ghz.json plans 19; measure "
                            "every planned setting and no other"),
    ("an axis differs", 4, "measures qubit 3 along another axis"),
    ("letters differ", 4, "setting 0 of the plan ghz.json, 'ZZZZZZZZ', is not among the counts' "
                          "settings; the closest, 'ZZZZZZZX', measures qubit 7 along another axis"),
    ("no shots", 4, "counts.json: setting 'ZZZZZZZZ' holds 0 shots; measure every planned"),
    ("qubits differ", 4, "the counts measure 8 qubits, the plan ghz4.json 4"),
    ("counts as plan", 4, "--design counts.json: a list; expected a design object"),
    ("design without plan", 4, "not a qtomo plan: the design names no protocol and target"),
    ("csv design", 4, "ghz.csv: not a qtomo plan"),
    ("other target", 3, "--target tfim contradicts the plan's target ghz"),
    ("random bases", 3, "--design attaches a plan to counts per setting"),
])
def test_counts_off_the_plan_are_refused(tmp_path, monkeypatch, lab, how, code, text):
    monkeypatch.chdir(tmp_path)  # the messages name the files as given
    plan, data, counts, _ = lab["ghz"]
    src, design, extra = tmp_path / "counts.json", tmp_path / "ghz.json", []
    design.write_text(plan.read_text())
    if how == "one setting less":
        write_counts(data, src, drop=1)
    elif how in EDITS:
        write_counts(data, src, edit=EDITS[how])
    else:
        src.write_text(counts.read_text())
    if how == "qubits differ":
        design = tmp_path / "ghz4.json"
        ok("plan", "--state", "ghz", "-n", 4, "--protocol", "parity", "--precision", 0.05,
           "--out", design)
    elif how == "counts as plan":
        design = src
    elif how == "design without plan":
        doc = json.loads(plan.read_text())
        design.write_text(json.dumps({k: doc[k] for k in ("format", "version", "n_qubits",
                                                            "settings")}))
    elif how == "csv design":
        design = tmp_path / "ghz.csv"
        design.write_text("setting,shots\nZZZZZZZZ,100\n")
    elif how == "other target":
        extra = ["--target", "tfim"]
    elif how == "random bases":
        src = tmp_path / "shots.csv"
        src.write_text("bases,bits\nXZZYXXXX,01100000\n")
    r = run("import", src.name, "--design", design.name, *extra, "--out", "lab.h5")
    keep = sorted({p.name for p in tmp_path.iterdir()} - {"lab.h5"})
    one_error_line(r, code, text, tmp_path, keep)
