"""Every setting the product reads from the environment is read in reengage/settings.py.

The README promises one place to look for every REENGAGE_* setting; a module reading
os.environ on its own is a setting nobody can find (or document) by reading settings.py.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = [ROOT / "reengage"]
# Modules that hand the environment on to another process (dbt's, the UI's) rather than read a
# setting from it.
PASSES_THE_ENVIRONMENT_ON = {
    "reengage/defs/warehouse/assets.py",
    "reengage/defs/warehouse/project.py",
    "reengage/commands/ui.py",
    "reengage/__init__.py",  # sets OpenMP's wait policy for scikit-learn: a library's, not a setting
}


def _environment_reads(path: Path) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        is_environ = isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb")
        if is_environ and isinstance(node.value, ast.Name) and node.value.id == "os":
            lines.append(node.lineno)
    return sorted(lines)


def test_only_the_settings_module_reads_the_environment():
    # Guards the README's "every REENGAGE_* setting, in one place": schedules, the sensor, alerts
    # and the SendGrid key were each read where they were used.
    found = []
    for folder in PRODUCT:
        for path in sorted(folder.rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if name == "reengage/settings.py" or name in PASSES_THE_ENVIRONMENT_ON:
                continue
            found += [f"{name}:{line}" for line in _environment_reads(path)]
    assert found == [], "read these settings through reengage/settings.py: " + ", ".join(found)


def test_the_scan_sees_an_environment_read(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import os\nHOUR = int(os.environ.get('REENGAGE_SCORING_HOUR', '7'))\nos.getenv('X')\n")
    assert _environment_reads(module) == [2, 3]
