"""Only kiosk/app.py and kiosk/screens/ use Kivy widgets or the window (docs/architecture.md, "Layers"); the UI's
logic (kiosk/ui) stays importable and testable without a display."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WIDGET_MODULES = ("kivy.uix", "kivy.core.window", "kivy.app")


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_only_the_app_and_the_screens_import_kivy_widgets():
    allowed = {ROOT / "kiosk" / "app.py"} | set((ROOT / "kiosk" / "screens").rglob("*.py"))
    offenders = []
    for package in ("kiosk", "drivers", "offline_queue"):
        for path in (ROOT / package).rglob("*.py"):
            if path in allowed:
                continue
            bad = [m for m in _imports(path) if m.startswith(WIDGET_MODULES)]
            if bad:
                offenders.append(f"{path.relative_to(ROOT)}: {', '.join(sorted(bad))}")
    assert offenders == []


def test_the_flow_and_the_presenter_do_not_need_kivy_at_all():
    import subprocess
    import sys

    code = ("import sys, kiosk.ui.present, kiosk.ui.catalog, kiosk.demo.controls; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'kivy'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.strip() == "[]", out.stderr
