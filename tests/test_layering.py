"""Modules import downward only: ``speciarl.data`` never imports ``speciarl.integrations``."""

import ast
import subprocess
import sys
from pathlib import Path

import speciarl.data

DATA = Path(speciarl.data.__file__).parent
UPPER = "speciarl.integrations"


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-level imports included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_data_sources_never_import_integrations():
    files = sorted(DATA.rglob("*.py"))
    assert DATA / "build.py" in files and DATA / "verl_rows.py" in files
    offenders = {
        str(path.relative_to(DATA)): sorted(
            name for name in imported_modules(path) if name.split(".")[:2] == UPPER.split(".")
        )
        for path in files
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_scanner_sees_function_level_imports(tmp_path):
    source = tmp_path / "sample.py"
    source.write_text("def f():\n    from speciarl.integrations.verl import verl_row_fields\n")
    assert "speciarl.integrations.verl" in imported_modules(source)


def test_building_a_verl_split_loads_no_integration(tmp_path):
    # Run the verl layout for real in a fresh interpreter, then look at what it imported.
    script = f"""
import sys
from pathlib import Path
from speciarl.data.build import build_split, load_built
from speciarl.data.prepare import select_samples
from speciarl.prompts import load_prompt

samples = select_samples("synthetic", "train")[:2]
report = build_split(samples, Path({str(tmp_path)!r}), load_prompt("general"), layout="verl")
assert report.written == 2, report
assert load_built(Path({str(tmp_path)!r}))[0]["extra_info"]["sample_id"] == samples[0].sample_id
print(sorted(name for name in sys.modules if name.startswith({UPPER!r})))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_integration_reexports_the_one_row_format():
    from speciarl.data import verl_rows
    from speciarl.integrations import verl

    assert verl.verl_row_fields is verl_rows.verl_row_fields
