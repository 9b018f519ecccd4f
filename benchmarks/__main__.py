"""Runs every ``benchmarks/bench_*.py``, prints one JSON object per benchmark (one per line) and
writes them all to ``artifacts/benchmarks.json``.

``python -m benchmarks [--only NAME ...] [--arg NAME="--n 500"] [--timeout S] [--total-timeout S]``

Each benchmark runs in its own process, so one that hangs or crashes is killed (with anything it
started) and reported as an error instead of stalling the rest; the whole run is bounded. A module
whose ``main(argv)`` returns a dict is called directly; any other is run as
``python -m benchmarks.<name>`` and the JSON it prints is parsed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shlex
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
ROOT = PACKAGE_DIR.parent
DEFAULT_OUT = ROOT / "artifacts" / "benchmarks.json"
MARKER = "@@BENCHMARK-RESULT@@ "

# Runs in the child: call main(argv) when it returns a dict, else behave as `python -m <name>`.
_CHILD = f"""
import importlib, inspect, json, runpy, sys
name, argv = sys.argv[1], sys.argv[2:]
mod = importlib.import_module(name)
main = getattr(mod, "main", None)
if not callable(main):
    sys.argv = [name] + argv
    runpy.run_module(name, run_name="__main__", alter_sys=True)
    sys.exit(0)
result = main(argv) if inspect.signature(main).parameters else main()
if isinstance(result, dict):
    sys.stdout.write("\\n{MARKER}" + json.dumps(result) + "\\n")
elif isinstance(result, int):
    sys.exit(result)
"""


def discover(only: list[str] | None = None) -> list[str]:
    """Module names of the benchmarks, sorted; ``only`` filters by name (with or without bench_)."""
    names = sorted(p.stem for p in PACKAGE_DIR.glob("bench_*.py"))
    if only:
        wanted = {_stem(n) for n in only}
        unknown = wanted - set(names)
        if unknown:
            raise SystemExit(f"no such benchmark: {', '.join(sorted(unknown))}")
        names = [n for n in names if n in wanted]
    return names


def _stem(name: str) -> str:
    name = name.removeprefix("benchmarks.").removesuffix(".py")
    return name if name.startswith("bench_") else f"bench_{name}"


def parse_output(stdout: str) -> dict[str, Any] | None:
    """The benchmark's JSON object: the marked line, the whole output, or the last object in it."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER):])
    text = stdout.strip()
    try:
        obj = json.loads(text)
        return obj if isinstance(obj, dict) else None
    except ValueError:
        pass
    decoder = json.JSONDecoder()
    found = None
    for i, ch in enumerate(text):
        if ch == "{" and (i == 0 or text[i - 1] == "\n"):
            try:
                obj, _ = decoder.raw_decode(text, i)
            except ValueError:
                continue
            if isinstance(obj, dict):
                found = obj
    return found


def run_one(module: str, argv: list[str], timeout_s: float,
            extra_path: Path | None = None) -> dict[str, Any]:
    """Run one benchmark module in a fresh process group; always returns a dict, with "error"
    when it failed, timed out or printed no JSON object."""
    env = dict(os.environ)
    paths = [str(extra_path) if extra_path else "", str(ROOT), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, paths))
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, module, *argv], cwd=ROOT, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=max(1.0, timeout_s))
    except subprocess.TimeoutExpired:
        # Its own session: this ends the benchmark and whatever it spawned (pty servers, burners).
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            stdout, stderr = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:  # a grandchild in another session holds the pipes
            proc.kill()
            stdout, stderr = "", ""
        return _error(module, f"timed out after {timeout_s:.0f} s", stderr, started)
    if proc.returncode != 0:
        return _error(module, f"exit code {proc.returncode}", stderr, started)
    try:
        result = parse_output(stdout)
    except ValueError as exc:
        return _error(module, f"unreadable JSON: {exc}", stderr, started)
    if result is None:
        return _error(module, "printed no JSON object", stderr, started)
    result.setdefault("benchmark", module.rsplit(".", 1)[-1].removeprefix("bench_"))
    result["module"] = module
    result["runner_wall_s"] = round(time.monotonic() - started, 2)
    return result


def _error(module: str, why: str, stderr: str, started: float) -> dict[str, Any]:
    log.error("%s: %s", module, why)
    return {"benchmark": module.rsplit(".", 1)[-1].removeprefix("bench_"), "module": module,
            "error": why, "stderr_tail": (stderr or "")[-2000:],
            "runner_wall_s": round(time.monotonic() - started, 2)}


def write_report(results: list[dict[str, Any]], out: Path) -> None:
    report = {
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "results": results,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, out)  # a reader never sees half a report


def _bench_args(specs: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for spec in specs:
        name, sep, args = spec.partition("=")
        if not sep:
            raise SystemExit(f"--arg wants NAME=ARGS, got {spec!r}")
        out[_stem(name.strip())] = shlex.split(args)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")
    parser.add_argument("--arg", action="append", default=[], metavar='NAME="ARGS"',
                        help='arguments for one benchmark, e.g. --arg drain="--n 10000"')
    parser.add_argument("--timeout", type=float, default=420.0,
                        help="seconds one benchmark may take (default 420)")
    parser.add_argument("--total-timeout", type=float, default=900.0,
                        help="seconds the whole run may take (default 900)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the JSON report goes")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    if args.timeout <= 0 or args.total_timeout <= 0:
        parser.error("timeouts must be positive")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    names = discover(args.only)
    if args.list:
        sys.stdout.write("\n".join(names) + "\n")
        return 0
    extra = _bench_args(args.arg)
    unknown = set(extra) - set(names)
    if unknown:
        parser.error(f"--arg for a benchmark that is not run: {', '.join(sorted(unknown))}")
    deadline = time.monotonic() + args.total_timeout
    results = []
    for name in names:
        left = deadline - time.monotonic()
        if left < 1:
            results.append({"benchmark": name.removeprefix("bench_"),
                            "module": f"benchmarks.{name}",
                            "error": "not run: the total time budget was used up"})
        else:
            log.info("running %s", name)
            results.append(run_one(f"benchmarks.{name}", extra.get(name, []),
                                   min(args.timeout, left)))
        sys.stdout.write(json.dumps(results[-1], ensure_ascii=False) + "\n")
        sys.stdout.flush()
        write_report(results, args.out)  # keep what finished even if a later one is killed
    log.info("wrote %s", args.out)
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
