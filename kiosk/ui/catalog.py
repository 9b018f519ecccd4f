"""The screens' gettext catalogs: read .po, write .mo, find the msgids the code and kv files use.

``python -m kiosk.ui.catalog`` compiles ``assets/locale/*/LC_MESSAGES/kiosk.po`` to ``.mo``;
``--check`` exits non-zero when a used string has no translation or a ``.mo`` is stale. No
system ``msgfmt`` needed: the .mo format is a small fixed layout (GNU gettext manual, "The Format
of GNU MO Files").
"""

from __future__ import annotations

import argparse
import ast
import re
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCALE_DIR = ROOT / "assets" / "locale"
KV_DIR = ROOT / "assets" / "kv"
DOMAIN = "kiosk"
LANGS = ("zh_CN", "en")
#: Python sources that hold translatable strings (marked with ``_()`` or ``N_()``).
PY_SOURCES = ("kiosk/ui", "kiosk/screens", "kiosk/app.py")

_MO_MAGIC = 0x950412DE


def N_(text: str) -> str:  # noqa: N802 - the gettext convention for "translate later"
    """Marks a string for the catalog without translating it now."""
    return text

# kv: the literal in app.tr._('...') (python sources are read with ast instead)
_KV_CALL = re.compile(r"""(?<!\w)N?_\(\s*(?P<q>['"])(?P<s>(?:\\.|(?!(?P=q)).)*)(?P=q)\s*[,)]""")


def read_po(path: Path) -> dict[str, str]:
    """msgid → msgstr (the header entry under ""). Plain entries only: no plurals or contexts."""
    entries: dict[str, str] = {}
    msgid: list[str] | None = None
    msgstr: list[str] | None = None
    current: list[str] | None = None
    fuzzy = False

    def flush() -> None:
        if msgid is not None and msgstr is not None and not fuzzy:
            entries["".join(msgid)] = "".join(msgstr)

    for lineno, raw in enumerate(path.read_text("utf-8").splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if line.startswith("#,") and "fuzzy" in line:
                flush()
                msgid = msgstr = current = None
                fuzzy = True
            continue
        if line.startswith("msgid "):
            if msgstr is not None:
                flush()
                fuzzy = False
            msgid, msgstr = [], None
            current = msgid
            line = line[6:].strip()
        elif line.startswith("msgstr "):
            if msgid is None:
                raise ValueError(f"{path}:{lineno}: msgstr without msgid")
            msgstr = []
            current = msgstr
            line = line[7:].strip()
        if not (line.startswith('"') and line.endswith('"')) or current is None:
            raise ValueError(f"{path}:{lineno}: cannot read {raw!r}")
        current.append(ast.literal_eval(line))
    flush()
    return entries


def mo_bytes(messages: dict[str, str]) -> bytes:
    """The .mo file for ``messages`` (keys sorted, as GNU msgfmt does; no hash table)."""
    keys = sorted(messages)
    ids = [k.encode("utf-8") for k in keys]
    strs = [messages[k].encode("utf-8") for k in keys]
    n = len(keys)
    key_table_at = 7 * 4
    value_table_at = key_table_at + n * 8
    data_at = value_table_at + n * 8
    offsets: list[tuple[int, int]] = []
    data = b""
    for blob in ids + strs:
        offsets.append((len(blob), data_at + len(data)))
        data += blob + b"\0"
    header = struct.pack("<7I", _MO_MAGIC, 0, n, key_table_at, value_table_at, 0, data_at)
    tables = b"".join(struct.pack("<2I", length, at) for length, at in offsets)
    return header + tables + data


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def compile_all() -> list[Path]:
    written = []
    for lang in LANGS:
        po = po_path(lang)
        mo = po.with_suffix(".mo")
        mo.write_bytes(mo_bytes(read_po(po)))
        written.append(mo)
    return written


def _python_msgids(source: str) -> set[str]:
    """``_("…")``, ``N_("…")`` and ``x._("…")`` with a literal first argument (ast joins the
    implicit concatenation of adjacent literals)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        fn = node.func
        name = fn.id if isinstance(fn, ast.Name) else getattr(fn, "attr", "")
        arg = node.args[0]
        if name in ("_", "N_") and isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            found.add(arg.value)
    return found


def used_msgids() -> set[str]:
    """Every literal string the kv files and screen code pass to ``_()`` or ``N_()``."""
    found: set[str] = set()
    for f in KV_DIR.rglob("*.kv"):
        for m in _KV_CALL.finditer(f.read_text("utf-8")):
            found.add(ast.literal_eval(m.group("q") + m.group("s") + m.group("q")))
    for src in PY_SOURCES:
        p = ROOT / src
        for f in (p.rglob("*.py") if p.is_dir() else [p]):
            found |= _python_msgids(f.read_text("utf-8"))
    return found


def problems() -> list[str]:
    """Untranslated strings, unused entries and stale .mo files, one line each."""
    out: list[str] = []
    used = used_msgids()
    for lang in LANGS:
        po = po_path(lang)
        catalog = read_po(po)
        for msgid in sorted(used):
            if not catalog.get(msgid):
                out.append(f"{lang}: no translation for {msgid!r}")
        for msgid in sorted(set(catalog) - used - {""}):
            out.append(f"{lang}: unused entry {msgid!r}")
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.read_bytes() != mo_bytes(catalog):
            out.append(f"{lang}: {mo.relative_to(ROOT)} is stale: run python -m kiosk.ui.catalog")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kiosk.ui.catalog", description=__doc__)
    parser.add_argument("--check", action="store_true", help="report problems, change nothing")
    args = parser.parse_args(argv)
    if args.check:
        found = problems()
        for line in found:
            print(line)
        return 1 if found else 0
    for path in compile_all():
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
