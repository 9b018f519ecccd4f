"""``kiosk run`` (production: fullscreen, locked down) and ``kiosk demo``: with a display, the
full app on simulated devices and the reference billing server with a developer panel (F12) and
hotkeys to tap cards, insert cash and break things; without one (or ``--headless``), scripted
resident sessions with every screen change logged, then the server's settlement.

Kivy itself is imported only by the UI package (kiosk/ui, kiosk/app.py), and only inside the
commands that open a window, after the checks that refuse."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from datetime import date
from typing import Any

from kiosk.cli.config_args import EXIT_BAD_INPUT, common, config, enrol_option
from kiosk.cli.server import BillingServer, seeded_residents

log = logging.getLogger(__name__)

DEMO_DIR = "var/demo"


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="the resident touchscreen (production: fullscreen, locked down)")
    common(p)
    p.add_argument("--windowed", action="store_true",
                   help="a 1280x800 window instead of fullscreen (bench tests; still locked down)")
    p.add_argument("--simulators", action="store_true",
                   help="allow sim:// devices (refused without it: a terminal that takes money "
                        "must not run on simulated cash devices by accident)")
    enrol_option(p, "enrol this kiosk's key with the billing server on first contact "
                    "(overrides billing.enrol_token)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="the terminal on simulators and the reference billing server")
    common(p)
    p.add_argument("--headless", action="store_true", help="no screen: scripted sessions, logged")
    p.add_argument("--sessions", type=int, default=3, metavar="N",
                   help="scripted sessions of the headless demo (default 3)")
    p.add_argument("--stay", action="store_true",
                   help="headless: keep the terminal running after the sessions, serving its "
                        "control socket to staff tools; bench commands on stdin (README)")
    enrol_option(p, "the token the demo's own billing server takes (default: a fresh one)")
    p.set_defaults(func=cmd_demo)


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                or os.environ.get("SDL_VIDEODRIVER") == "offscreen")


def simulated(cfg: Any) -> list[str]:
    """The configured devices that are in-process simulators (``sim://``)."""
    return [name for name, dev in cfg.devices.items() if dev.url.startswith("sim://")]


def _kivy_env() -> None:
    os.environ.setdefault("KIVY_NO_ARGS", "1")  # our argv is not Kivy's
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    # Kivy's default log mode takes over the root logger at DEBUG (every serial frame logged);
    # MIXED keeps `kiosk -v` / the WARNING level the command line configured.
    os.environ.setdefault("KIVY_LOG_MODE", "MIXED")


def _hub_for(cfg: Any) -> Any:
    if simulated(cfg):
        from drivers.transport import SimulatorHub

        os.makedirs(cfg.kiosk.state_dir, exist_ok=True)
        return SimulatorHub(cfg.kiosk.state_dir)
    return None


def _font_missing(command: str) -> bool:
    """Said in one line when the CJK font the screens need is not installed."""
    from kiosk.ui.platform import FontMissing, find_cjk_font

    try:
        find_cjk_font()
    except FontMissing as exc:
        print(f"kiosk {command}: {exc}", file=sys.stderr)
        return True
    return False


# ---------------------------------------------------------------- kiosk run
def cmd_run(args: argparse.Namespace) -> int:
    cfg = config(args, enrol_token=args.enrol_token)
    # Refused before the display is looked at or Kivy imported: the defaults are all simulators,
    # so a production box started without its config must not come up taking pretend money.
    sims = simulated(cfg)
    if sims and not args.simulators:
        print(f"kiosk run: simulated devices configured ({', '.join(sims)}); "
              "pass --simulators to run on them", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not has_display():
        print("kiosk run: no display (DISPLAY is not set); the touchscreen needs one",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    _kivy_env()
    if _font_missing("run"):
        return EXIT_BAD_INPUT
    from kiosk.ui.platform import configure_kivy, say_once_running

    configure_kivy(fullscreen=not args.windowed, lockdown=True)
    from kiosk.app import KioskApp, make_terminal

    terminal = make_terminal(cfg, _hub_for(cfg))
    if sims:
        log.warning("running on simulated devices: %s", ", ".join(sims))
    say_once_running(f"kiosk run: terminal {cfg.kiosk.id} running")
    KioskApp(terminal, lockdown=True, allow_close=False).run()
    return 0


# ---------------------------------------------------------------- kiosk demo
def cmd_demo(args: argparse.Namespace) -> int:
    if not args.headless:
        if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
            return run_demo_app(args)
        print("no display here: use `kiosk demo --headless` (running it now)", file=sys.stderr)
    return run_demo_headless(args)


def _demo_server_and_config(args: argparse.Namespace) -> tuple[Any, Any]:
    """The demo's own billing server, started, and a terminal config that enrols with it."""
    os.makedirs(DEMO_DIR, mode=0o700, exist_ok=True)
    server = BillingServer("127.0.0.1", 0, f"{DEMO_DIR}/billing-server.db",
                           enrol_token=getattr(args, "enrol_token", None)).start()
    # The demo's terminal enrols with the token its own server took: no configuration.
    cfg = config(args, db=f"{DEMO_DIR}/kiosk.db", api=server.url,
                 state_dir=f"{DEMO_DIR}/devices", enrol_token=server.enrol_token)
    os.makedirs(cfg.kiosk.state_dir, exist_ok=True)
    print(f"reference billing server on {server.url}; terminal {cfg.kiosk.id}; "
          f"journal {cfg.kiosk.db}")
    return server, cfg


def run_demo_app(args: argparse.Namespace) -> int:
    """The full touchscreen demo on simulators and the reference billing server; no config."""
    from kiosk.demo.controls import ACTIONS, DemoControls, help_text

    _kivy_env()
    if _font_missing("demo"):
        return EXIT_BAD_INPUT
    server, cfg = _demo_server_and_config(args)
    print(help_text())
    sys.stdout.flush()
    from kiosk.ui.platform import configure_kivy

    configure_kivy(fullscreen=False, lockdown=False)
    from drivers.transport import SimulatorHub
    from kiosk.app import KioskApp, make_terminal

    hub = SimulatorHub(cfg.kiosk.state_dir)
    terminal = make_terminal(cfg, hub)
    controls = DemoControls(hub, server)
    try:
        # The demo window closes normally; Escape and F1 stay disabled as on a real terminal.
        KioskApp(terminal, lockdown=True, allow_close=True, dev_controls=controls,
                 dev_actions=ACTIONS).run()
    finally:
        server.stop()
    return 0


def run_demo_headless(args: argparse.Namespace) -> int:
    import requests

    from drivers.transport import SimulatorHub
    from kiosk.flow.money import format_minor
    from kiosk.services.identity import kiosk_auth
    from kiosk.services.scripted_resident import run_sessions
    from kiosk.services.terminal import Terminal

    if not args.headless and not os.environ.get("DISPLAY"):
        print("no display here: running the terminal headless (kiosk demo --headless)")
    server, cfg = _demo_server_and_config(args)
    term = Terminal(cfg, SimulatorHub(cfg.kiosk.state_dir))
    try:
        term.start()
        term.runner.on_change.append(_screen_logger(format_minor))
        report = run_sessions(term, args.sessions, seeded_residents())
        if args.stay:
            term.start_sync()  # the scripted run drained the queue and stopped it
            _stay(term, server)
    finally:
        term.stop()
    with requests.Session() as http:
        http.auth = kiosk_auth(cfg)  # a kiosk reads its own settlement, signed
        settlement = http.get(f"{server.url}/v1/kiosks/{cfg.kiosk.id}/settlement",
                              params={"date": date.today().isoformat()}, timeout=5).json()
    server.stop()
    print(f"paid {report.paid} of {report.sessions} sessions, {format_minor(report.paid_minor)}; "
          f"queue: {report.delivered} payments delivered, {report.pending} pending, "
          f"{report.dead} dead")
    print(f"server settlement for today: {settlement['count']} payments, "
          f"{format_minor(settlement['total_minor'])}")
    print(json.dumps(report.as_dict(), ensure_ascii=False))
    sys.stdout.flush()
    return 0 if report.failed == 0 else 1


def _stay(term: Any, server: Any) -> None:
    """Decide on this thread until ``quit`` or end of input; each stdin line is one bench
    command: a demo action (``jam``, ``card``, ``note_1000`` …, kiosk/demo/controls.py) or
    ``fault DEVICE CODE`` (a locking fault as if the device reported it). A reader thread only
    posts; every decision stays on this thread."""
    import threading

    from drivers import interfaces as d
    from kiosk.demo.controls import DemoControls

    controls = DemoControls(term.hub, server)
    done = threading.Event()

    def read() -> None:
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            if words[0] in ("quit", "exit"):
                break
            if words[0] == "fault" and len(words) == 3:
                term.events.post(d.DeviceFault(words[1], words[2], "injected on the bench"))
                print(f"bench: fault {words[1]}/{words[2]} injected", flush=True)
            else:
                print(f"bench: {controls.do(words[0])}", flush=True)
        done.set()

    threading.Thread(target=read, name="bench", daemon=True).start()
    path = term.control.server.path if term.control is not None else None
    print(f"terminal {term.config.kiosk.id} running; control socket {path}; "
          "bench commands on stdin, quit to stop", flush=True)
    try:
        term.pump(lambda _s: done.is_set(), timeout=float("inf"))
    except KeyboardInterrupt:
        pass


def _screen_logger(format_minor: Any) -> Any:
    last = {"phase": None, "credited": 0}

    def show(session: Any) -> None:
        if session.phase != last["phase"] or session.credited_minor != last["credited"]:
            extra = f" inserted {format_minor(session.credited_minor)}" if session.credited_minor else ""
            msg = f" ({session.message})" if session.message else ""
            print(f"  screen: {session.phase.value:14}{extra}{msg}")
            last["phase"], last["credited"] = session.phase, session.credited_minor

    return show

