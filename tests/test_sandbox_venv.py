"""The sandbox keeps ``namespaces`` isolation whatever the interpreter's location (issue 17).

A virtualenv under /tmp used to lose it: its directory was bound into the namespace and then
hidden by the private /tmp, bwrap could not exec the interpreter, and ``auto`` fell back to
``process``. Each case makes a fresh virtualenv (``--system-site-packages --without-pip``: nothing
is downloaded) and reruns the isolation checks of tests/test_sandbox.py with its interpreter:
``auto`` gives namespaces, hostile writes (the host's /tmp, $HOME, the repository, the venv
itself) fail, and the limits seen inside a program are the configured ones.
"""
from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import tempfile

import pytest

from prmlab.sandbox.pool import AUTO_LEVELS

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECKS = ["test_isolation_is_namespaces_here", "test_writes_outside_the_temp_dir_fail",
          "test_limits_inside_the_child"]

PROBE = """
import sys
from prmlab.sandbox import Sandbox
from prmlab.types import Problem, TestCase
p = Problem(id="one", prompt="", entry_point="f", tests=[TestCase("functional", [], 1)])
with Sandbox(workers=1) as s:
    print(sys.prefix, s.isolation, s.run(["def f():\\n    return 1\\n"], [p])[0].all_passed)
"""


def _make_venv(path: str) -> None:
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", path],
                   check=True, timeout=60)
    # make this interpreter's packages (pytest, the editable prmlab) importable there too, also
    # when this suite itself runs in a venv that --system-site-packages would not see
    venv_site = subprocess.run([os.path.join(path, "bin", "python"), "-c",
                                "import site; print(site.getsitepackages()[0])"],
                               capture_output=True, text=True, check=True).stdout.strip()
    with open(os.path.join(venv_site, "prmlab_test_outer.pth"), "w") as f:
        f.write("".join(f"import site; site.addsitedir({d!r})\n" for d in site.getsitepackages()))


@pytest.mark.parametrize("where", ["/tmp", "~"])
def test_isolation_checks_pass_with_a_venv_interpreter(where):
    base = tempfile.mkdtemp(prefix="prmlab-venv-", dir=os.path.expanduser(where))
    try:
        venv = os.path.join(base, "venv")
        _make_venv(venv)
        python = os.path.join(venv, "bin", "python")
        prefix = subprocess.run([python, "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True,
                                check=True).stdout.strip()
        assert prefix == venv
        out = subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_sandbox.py",
                              "-k", " or ".join(CHECKS)], capture_output=True, text=True, cwd=REPO, timeout=120)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
        # the last two run once per level in AUTO_LEVELS (the sb fixture)
        assert f"{1 + 2 * len(AUTO_LEVELS)} passed" in out.stdout, out.stdout[-2000:]
        # the same venv reached through a symlinked directory: the named and the real path are bound
        os.symlink(venv, os.path.join(base, "link"))
        out = subprocess.run([os.path.join(base, "link", "bin", "python"), "-c", PROBE], capture_output=True,
                             text=True, cwd=REPO, timeout=60)
        assert out.stdout.split() == [os.path.join(base, "link"), "namespaces", "True"], out.stdout + out.stderr
    finally:
        shutil.rmtree(base, ignore_errors=True)
