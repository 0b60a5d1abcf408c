"""The architecture's rules, checked: core/ never imports Qt or gui/, gui/ never imports TensorFlow, ruff is clean."""

import ast
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from .conftest import REPO


def imported_modules(folder):
    for path in sorted((REPO / folder).rglob("*.py")):
        if any(part.startswith(".") for part in path.relative_to(REPO).parts):  # bench/.peers-venv and the like
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                yield path, [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                yield path, [node.module]


QT = ("PySide6", "pyqtgraph", "shiboken6")


@pytest.mark.parametrize(
    ("folder", "forbidden"),
    [
        ("core", (*QT, "musicspeech.gui", "musicspeech.commands")),  # a library: no widgets, no front end
        ("gui", ("tensorflow", "keras", "musicspeech.commands")),
        ("cli", ("tensorflow", "keras", *QT)),  # the front door opens the app through musicspeech.gui only
        ("tests", ()),
        ("bench", ()),
        ("scripts", ()),
    ],
)
def test_layers_import_only_what_they_may(folder, forbidden):
    """Also: everything imports the installed names (musicspeech.core, ...), never the folders (core, gui,
    cli), which would load a second copy of a module under another name."""
    offenders = [
        f"{path.relative_to(REPO)}: {name}"
        for path, names in imported_modules(folder)
        for name in names
        if any(name == f or name.startswith(f + ".") for f in (*forbidden, "core", "gui", "cli"))
    ]
    assert offenders == []


def test_the_wheel_installs_one_top_level_package_named_after_the_project(tmp_path):
    """No top-level `core` or `gui` to clash with another distribution's: only `musicspeech` (and its metadata)."""
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp_path, REPO],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("musicspeech-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    assert {n.split("/")[0] for n in names} == {"musicspeech", f"{wheel.name.split('-py')[0]}.dist-info"}
    for module in ("__init__.py", "__main__.py", "commands.py", "core/inference.py", "gui/app.py"):
        assert f"musicspeech/{module}" in names


def test_ruff_is_clean():
    ruff = shutil.which("ruff", path=str(REPO / ".venv" / "bin")) or shutil.which("ruff")
    assert ruff, "ruff comes with the test extras: run ./test.sh"
    proc = subprocess.run(
        [ruff, "check", "cli", "core", "gui", "tests", "scripts", "bench"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout


def test_the_app_module_does_not_import_tensorflow():
    """TensorFlow loads in the background after the window is shown, never on the way to it."""
    code = "import sys, musicspeech.gui.app; print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
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
