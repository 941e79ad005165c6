"""The engine stays UI-free, and fast paths stay free of heavy imports."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO

CORE_MODULES = sorted(
    "core." + ".".join(p.relative_to(REPO / "core").with_suffix("").parts)
    for p in (REPO / "core").rglob("*.py")
    if p.name != "__init__.py"
)


def loaded_modules(code: str) -> set[str]:
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_core_never_imports_textual_or_rich() -> None:
    imports = "\n".join(f"import {name}" for name in CORE_MODULES)
    modules = loaded_modules(imports)
    ui = sorted(m for m in modules if m.split(".")[0] in {"textual", "rich"})
    assert CORE_MODULES, "no core modules found"
    assert ui == []


def test_core_sources_do_not_mention_ui_packages() -> None:
    offenders = [
        str(path.relative_to(REPO))
        for path in (REPO / "core").rglob("*.py")
        for line in path.read_text().splitlines()
        if line.lstrip().startswith(("import textual", "from textual", "import rich", "from rich"))
    ]
    assert offenders == []


def test_help_does_not_import_tensorflow() -> None:
    modules = loaded_modules("from earshot.cli import build_parser\nbuild_parser().format_help()")
    assert "tensorflow" not in modules
    assert "keras" not in modules
    assert "librosa" not in modules
