"""The architecture's rules, checked: core/ never imports Qt or gui/, gui/ never imports TensorFlow, ruff is clean."""

import ast
import os
import shutil
import subprocess
import sys

import pytest

from .conftest import REPO


def imported_modules(folder):
    for path in sorted((REPO / folder).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                yield path, [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                yield path, [node.module]


@pytest.mark.parametrize(
    ("folder", "forbidden"),
    [("core", ("PySide6", "pyqtgraph", "gui", "shiboken6")), ("gui", ("tensorflow", "keras"))],
)
def test_layers_import_only_what_they_may(folder, forbidden):
    offenders = [
        f"{path.relative_to(REPO)}: {name}"
        for path, names in imported_modules(folder)
        for name in names
        if name.split(".")[0] in forbidden
    ]
    assert offenders == []


def test_ruff_is_clean():
    ruff = shutil.which("ruff", path=str(REPO / ".venv" / "bin")) or shutil.which("ruff")
    assert ruff, "ruff comes with the test extras: run ./test.sh"
    proc = subprocess.run(
        [ruff, "check", "core", "gui", "tests", "scripts", "bench", "musicspeech.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout


def test_the_app_module_does_not_import_tensorflow():
    """TensorFlow loads in the background after the window is shown, never on the way to it."""
    code = "import sys, gui.app; print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
