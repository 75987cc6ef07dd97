"""The analysis notebooks execute top to bottom (nbclient) against the committed record fixture."""
import shutil
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="dev dependency: pip install -e '.[dev]'")
nbclient = pytest.importorskip("nbclient", reason="dev dependency: pip install -e '.[dev]'")

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "records"


def _kernel_name() -> str:
    """The kernel to run in: the running interpreter's own (ipykernel's native spec needs no
    installed kernelspec; jupyter_client offers it as ``python3`` whenever ipykernel imports)."""
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().find_kernel_specs()
    if "python3" not in specs:
        pytest.fail("no python3 kernel: install one with `python -m ipykernel install --user`")
    return "python3"


@pytest.mark.parametrize("name", ["paper_tables", "passrate_study"])
def test_notebook_executes(name, tmp_path, monkeypatch):
    monkeypatch.setenv("PRMLAB_RECORDS", str(FIXTURE / "sweeps"))
    monkeypatch.setenv("PRMLAB_RECORDS_CACHE", str(FIXTURE / "cache"))
    monkeypatch.setenv("PRMLAB_NOTEBOOK_OUT", str(tmp_path / "results"))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(ROOT / "analysis" / "notebooks" / f"{name}.ipynb", as_version=4)
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name=_kernel_name(),
                                     resources={"metadata": {"path": str(ROOT)}})
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    texts = " ".join(str(o.get("data", {}).get("text/markdown", "")) for o in outputs)
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    if name == "paper_tables":
        assert "Table 1: PRM as dense reward" in texts and "Table 2: PRM data selection" in texts
        assert (tmp_path / "results" / "fig3_length" / "figures" / "fig3_length.png").is_file()
    else:
        assert "Pass-rate study: binary vs pass-rate reward" in texts
        assert (tmp_path / "results" / "passrate_study" / "figures" / "reward_density.png").is_file()
        assert "Gradient analyses of the pass-rate study" in texts
        assert (tmp_path / "results" / "passrate_gradients" / "figures" / "gradient_direction.png").is_file()
    assert len(images) >= 3


def test_show_names_a_sweep_not_run_yet(tmp_path, monkeypatch):
    """A notebook over a partly swept records folder: ``report.show`` names the missing experiment
    and its command and gives (None, None) instead of raising; a missing ``also`` sweep is skipped."""
    ipy_display = pytest.importorskip("IPython.display")
    from analysis import report

    shown = []
    monkeypatch.setattr(ipy_display, "display", shown.append)  # what the notebook would render
    assert report.show(tmp_path, "fig4_data", out=tmp_path / "results") == (None, None)
    assert "./multirun.sh fig4_data" in shown[0].data
    # a sweep still running (its multirun.yaml, no finished run): described, and table1's runs given
    # as `also` are not reported as its rows
    running = tmp_path / "records" / "fig4_data" / "2026-01-01_00-00-00"
    running.mkdir(parents=True)
    src = FIXTURE / "sweeps" / "fig4_data"
    shutil.copy(src / "multirun.yaml", running)
    job = next(p for p in src.iterdir() if p.is_dir())
    (running / job.name).mkdir()
    shutil.copytree(job / ".hydra", running / job.name / ".hydra")  # started, no summary.json yet
    shutil.copytree(FIXTURE / "sweeps" / "table1", tmp_path / "records" / "table1")
    coll, rep = report.show(tmp_path / "records", "fig4_data", also=["table1"], out=tmp_path / "results")
    assert rep is None and coll.runs.empty and "No complete run yet" in shown[-1].data
    coll, rep = report.show(FIXTURE / "sweeps", "table1", also=["noise"], cache_dirs=[FIXTURE / "cache"],
                            out=tmp_path / "results")
    assert rep is not None and not coll.runs.empty
