"""report.json and report.html: contents, self-containment, atomic writing; a slow test renders
the page in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from qtomo.data.hdf5 import open_dataset
from qtomo.data.simulate import SimulateConfig, simulate
from qtomo.errors import OutputExistsError
from qtomo.reconstruction.metrics import target_born_table
from qtomo.reconstruction.run import ReconstructConfig, reconstruct
from qtomo.reports.report import jsonable, render_html, write_report
from tests.reconstruction.helpers import TableModel


@pytest.fixture(scope="module")
def rec(tmp_path_factory):
    d = tmp_path_factory.mktemp("rep")
    path = d / "tfim4.h5"
    simulate(SimulateConfig(n_qubits=4, shots=8000, eval_shots=500, seed=3), path)
    with open_dataset(path) as ds:
        model = TableModel(target_born_table(ds.target_array("psi"), ds.frame), 4, 4)
    run = d / "run"
    run.mkdir()
    (run / "metrics.csv").write_text(
        "epoch,step,lr,train_loss,val_nll,eval_nll,classical_fidelity,classical_fidelity_se,"
        "kl_divergence,kl_divergence_se,epoch_seconds,elapsed_seconds,shots_per_second\n"
        "1,10,0.003,4.1,4.0,4.0,0.98,0.001,0.05,0.002,1.0,1.0,1000\n"
        "2,20,0.003,3.9,3.9,3.9,0.995,0.001,0.01,0.002,1.0,2.0,1000\n"
    )
    return reconstruct(path, run, ReconstructConfig(samples=5000, observables=("Z0 Z3",)),
                       model=model)


def test_write_report_files(rec, tmp_path):
    out = tmp_path / "report"
    files = write_report(out, rec, save_rho=True)
    assert {"report.json", "report.html", "rho_model_mle.npy", "rho_target.npy"} <= set(files)
    r = json.loads((out / "report.json").read_text())
    assert r["format"] == "qtomo-report"
    assert r["headline"]["quantum_fidelity"]["value"] == pytest.approx(1.0, abs=1e-6)
    assert "squared convention" in r["headline"]["quantum_fidelity"]["convention"]
    assert r["saved_density_matrices"]["files"]["model_mle"] == "rho_model_mle.npy"
    rho = np.load(out / "rho_model_mle.npy")
    assert rho.dtype == np.complex128 and rho.shape == (16, 16)
    np.testing.assert_allclose(rho, rec.rhos["model_mle"])
    # every section carries conventions and provenance
    assert set(r["conventions"]) >= {"quantum_fidelity", "observables", "renyi2", "energy"}
    prov = r["provenance"]
    assert len(prov["dataset"]["hash"]) == 64 and prov["reconstruct_config"]["samples"] == 5000
    assert "torch" in prov["versions"]
    # no NaN in the JSON (strict parsers reject it)
    assert "NaN" not in (out / "report.json").read_text()
    # refusing to overwrite, then overwriting cleanly (stale rho files removed)
    with pytest.raises(OutputExistsError, match="--overwrite"):
        write_report(out, rec)
    write_report(out, rec, overwrite=True)
    assert not list(out.glob("rho_*.npy"))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp dirs left


def test_html_is_self_contained(rec):
    from qtomo.reports.report import make_figures

    pngs = make_figures(rec)
    assert {k for k, v in pngs.items() if v} == {"training", "zz", "x", "rho"}
    page = render_html(rec.report, pngs)
    assert page.startswith("<!DOCTYPE html>")
    assert page.count('src="data:image/png;base64,') == 4
    # nothing is fetched from elsewhere
    assert not re.search(r'(src|href)="(?!data:)', page)
    assert "http://" not in page and "https://" not in page
    for text in ("quantum fidelity", "squared convention", "Renyi-2", "Provenance",
                 "maximum-likelihood", "Z0 Z3", "classical fidelity"):
        assert text in page


def test_jsonable():
    assert jsonable({"a": np.float64(np.nan), "b": np.arange(2), "c": [np.int64(3)],
                     "d": float("inf")}) == {"a": None, "b": [0, 1], "c": [3], "d": None}


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "headless_shell"):
        p = shutil.which(name)
        if p:
            return p
    return "/usr/bin/chromium" if shutil.os.path.exists("/usr/bin/chromium") else None


@pytest.mark.slow
def test_html_renders_in_headless_chromium(rec, tmp_path):
    exe = _chromium()
    if exe is None:
        pytest.skip("chromium is not installed")
    out = tmp_path / "report"
    write_report(out, rec)
    page = (out / "report.html").resolve()
    flags = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-extensions", "--virtual-time-budget=10000", f"--user-data-dir={tmp_path}/p"]
    dom = subprocess.run(flags + ["--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    m = re.search(r'data-images-loaded="(\d+)/(\d+)"', dom.stdout)
    assert m, "the page's load script did not run"
    assert m.group(1) == m.group(2) == "4"  # every embedded figure decoded
    assert "quantum fidelity" in dom.stdout
    shot = tmp_path / "shot.png"
    res = subprocess.run(flags + ["--window-size=1200,2400", f"--screenshot={shot}",
                                  page.as_uri()], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and shot.exists(), res.stderr[-2000:]
    import matplotlib.image as mpimg

    img = mpimg.imread(shot)
    assert img.shape[0] >= 1000 and img.std() > 0.05  # not a blank page
