"""The house rules of docs/architecture.md, checked on the real tree — and, so that a rule that
can never fail is not mistaken for one that holds, each checker is first shown a small tree that
breaks it on purpose."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import import_graph as ig

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def graph() -> ig.Graph:
    return ig.build(ROOT)


def _tree(tmp_path: Path, files: dict[str, str]) -> ig.Graph:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    for package in {Path(n).parts[0] for n in files}:
        for folder in [p for p in (tmp_path / package).rglob("*") if p.is_dir()] + [tmp_path / package]:
            (folder / "__init__.py").touch()
    return ig.build(tmp_path)


# -- the real tree ---------------------------------------------------------------------------

def test_the_tree_was_read(graph):
    # a checker that found no files would pass every rule below
    assert {"kiosk.flow.session", "drivers.transport", "offline_queue.journal"} <= set(graph.files)
    assert sum(len(t) for t in graph.edges.values()) > 200


def test_no_import_cycle_anywhere(graph):
    assert ig.cycles(graph) == []


def test_no_import_crosses_a_forbidden_layer(graph):
    assert ig.layer_violations(graph) == []


def test_kivy_only_in_the_ui_layer(graph):
    assert ig.kivy_outside_ui(graph) == []


def test_no_module_over_500_lines(graph):
    assert ig.oversized(graph) == []


def test_the_reference_server_stands_alone(graph):
    server = {m: t for m, t in graph.edges.items() if m.startswith("billing_server")}
    assert server, "billing_server/ was not found"
    outside = {t for targets in server.values() for t in targets
               if not t.startswith("billing_server")}
    assert outside <= set(ig.SERVER_MAY_USE)


def test_the_reference_gateway_stands_alone(graph):
    gateway = {m: t for m, t in graph.edges.items() if m.startswith("payment_gateway")}
    assert gateway, "payment_gateway/ was not found"
    outside = {t for targets in gateway.values() for t in targets
               if not t.startswith("payment_gateway")}
    assert outside <= set(ig.SERVER_MAY_USE)


# -- each checker catches a tree broken on purpose -------------------------------------------

def test_a_cycle_through_a_function_level_import_is_caught(tmp_path):
    graph = _tree(tmp_path, {
        "kiosk/a.py": "from kiosk import b\n",
        "kiosk/b.py": "def later():\n    from kiosk.c import thing\n",
        "kiosk/c.py": "import kiosk.a\nthing = 1\n",
        "kiosk/d.py": "from kiosk import a\n",
    })
    assert ig.cycles(graph) == [["kiosk.a", "kiosk.b", "kiosk.c"]]


def test_a_relative_import_cycle_is_caught(tmp_path):
    graph = _tree(tmp_path, {
        "drivers/x/one.py": "from . import two\n",
        "drivers/x/two.py": "from .one import f\n",
    })
    assert ig.cycles(graph) == [["drivers.x.one", "drivers.x.two"]]


@pytest.mark.parametrize("importer, source, expected", [
    ("kiosk/flow/rules.py", "import offline_queue.journal\n", "kiosk.flow.rules imports offline_queue.journal"),
    ("kiosk/flow/rules.py", "from kiosk.services import runner\n", "kiosk.flow.rules imports kiosk.services.runner"),
    ("drivers/thing.py", "def f():\n    from kiosk.config import Config\n", "drivers.thing imports kiosk.config"),
    ("offline_queue/thing.py", "from kiosk.flow import money\n", "offline_queue.thing imports kiosk.flow.money"),
    ("billing_server/api.py", "from kiosk.flow.account import check\n", "billing_server.api imports kiosk.flow.account"),
    ("billing_server/api.py", "from offline_queue import journal\n", "billing_server.api imports offline_queue.journal"),
    ("kiosk/services/runner.py", "import billing_server.seed\n", "kiosk.services.runner imports billing_server.seed"),
    ("kiosk/staff/audit.py", "from kiosk.services import runner\n", "kiosk.staff.audit imports kiosk.services.runner"),
    ("kiosk/services/runner.py", "from kiosk.ui import present\n", "kiosk.services.runner imports kiosk.ui.present"),
    ("kiosk/screens/devpanel.py", "from kiosk.demo.controls import ACTIONS\n", "kiosk.screens.devpanel imports kiosk.demo.controls"),
    ("payment_gateway/api.py", "from offline_queue import journal\n", "payment_gateway.api imports offline_queue.journal"),
    ("payment_gateway/api.py", "from kiosk.flow import money\n", "payment_gateway.api imports kiosk.flow.money"),
    ("kiosk/services/runner.py", "import payment_gateway.store\n", "kiosk.services.runner imports payment_gateway.store"),
])
def test_a_forbidden_import_is_caught(tmp_path, importer, source, expected):
    graph = _tree(tmp_path, {
        importer: source,
        "kiosk/flow/money.py": "", "kiosk/flow/account.py": "", "kiosk/config.py": "",
        "kiosk/services/runner.py": "" if importer != "kiosk/services/runner.py" else source,
        "kiosk/staff/audit.py": "" if importer != "kiosk/staff/audit.py" else source,
        "kiosk/demo/controls.py": "", "kiosk/ui/present.py": "",
        "offline_queue/journal.py": "", "offline_queue/signing.py": "",
        "billing_server/seed.py": "", "payment_gateway/store.py": "",
    })
    assert ig.layer_violations(graph) == [expected]


def test_allowed_imports_are_not_flagged(tmp_path):
    graph = _tree(tmp_path, {
        "kiosk/flow/session.py": "from kiosk.flow import money\nimport json\n",
        "kiosk/flow/money.py": "",
        "kiosk/cli/server.py": "from billing_server import cli\n",
        "kiosk/cli/gateway.py": "from payment_gateway import cli\n",
        "payment_gateway/cli.py": "from offline_queue import signing\n",
        "billing_server/cli.py": "from offline_queue import signing\n",
        "offline_queue/signing.py": "",
        "kiosk/services/runner.py": "from kiosk.flow import session\nimport offline_queue.signing\n",
    })
    assert ig.layer_violations(graph) == []


def test_kivy_outside_the_ui_layer_is_caught(tmp_path):
    graph = _tree(tmp_path, {
        "kiosk/services/runner.py": "def f():\n    from kivy.clock import Clock\n",
        "kiosk/ui/bridge.py": "from kivy.clock import Clock\n",
        "kiosk/screens/amount.py": "import kivy.uix.label\n",
    })
    assert ig.kivy_outside_ui(graph) == ["kiosk.services.runner imports kivy.clock"]


def test_a_module_over_500_lines_is_caught(tmp_path):
    graph = _tree(tmp_path, {"drivers/long.py": "x = 1\n" * 501, "drivers/ok.py": "x = 1\n" * 500})
    assert ig.oversized(graph) == ["drivers.long: 501 lines"]
