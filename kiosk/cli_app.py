"""``kiosk run`` (production: fullscreen, locked down) and the touchscreen demo (``kiosk demo``
with a display): the full app on simulated devices and the reference billing server, with a
developer panel (F12) and hotkeys to tap cards, insert cash and break things."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any, Callable

log = logging.getLogger(__name__)


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                or os.environ.get("SDL_VIDEODRIVER") == "offscreen")


def register(sub: Any, common: Callable[[argparse.ArgumentParser], None],
             config: Callable[..., Any]) -> None:
    """Add ``kiosk run`` to the ``kiosk`` parser."""
    p = sub.add_parser("run", help="the resident touchscreen (production: fullscreen, locked down)")
    common(p)
    p.add_argument("--windowed", action="store_true",
                   help="a 1280x800 window instead of fullscreen (bench tests; still locked down)")
    p.add_argument("--simulators", action="store_true",
                   help="allow sim:// devices (refused without it: a terminal that takes money "
                        "must not run on simulated cash devices by accident)")
    p.add_argument("--enrol-token", metavar="TOKEN",
                   help="enrol this kiosk's key with the billing server on first contact "
                        "(overrides billing.enrol_token)")
    p.set_defaults(func=lambda args: cmd_run(args, config))


def _kivy_env() -> None:
    os.environ.setdefault("KIVY_NO_ARGS", "1")  # our argv is not Kivy's
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    # Kivy's default log mode takes over the root logger at DEBUG (every serial frame logged);
    # MIXED keeps `kiosk -v` / the WARNING level the command line configured.
    os.environ.setdefault("KIVY_LOG_MODE", "MIXED")


def simulated(cfg: Any) -> list[str]:
    """The configured devices that are in-process simulators (``sim://``)."""
    return [name for name, dev in cfg.devices.items() if dev.url.startswith("sim://")]


def _hub_for(cfg: Any) -> Any:
    if simulated(cfg):
        from drivers.transport import SimulatorHub

        os.makedirs(cfg.kiosk.state_dir, exist_ok=True)
        return SimulatorHub(cfg.kiosk.state_dir)
    return None


def cmd_run(args: argparse.Namespace, config: Callable[..., Any]) -> int:
    cfg = config(args, enrol_token=args.enrol_token)
    # Refused before the display is looked at or Kivy imported: the defaults are all simulators,
    # so a production box started without its config must not come up taking pretend money.
    sims = simulated(cfg)
    if sims and not args.simulators:
        print(f"kiosk run: simulated devices configured ({', '.join(sims)}); "
              "pass --simulators to run on them", file=sys.stderr)
        return 2
    if not has_display():
        print("kiosk run: no display (DISPLAY is not set); the touchscreen needs one",
              file=sys.stderr)
        return 2
    _kivy_env()
    from kiosk.ui.platform import FontMissing, configure_kivy, find_cjk_font

    try:
        find_cjk_font()
    except FontMissing as exc:
        print(f"kiosk run: {exc}", file=sys.stderr)
        return 2
    configure_kivy(fullscreen=not args.windowed, lockdown=True)
    from kiosk.app import KioskApp, make_terminal

    terminal = make_terminal(cfg, _hub_for(cfg))
    if sims:
        log.warning("running on simulated devices: %s", ", ".join(sims))
    from kivy.clock import Clock

    # One line once the main loop runs (the window is up): supervisors and tests wait for it.
    Clock.schedule_once(lambda _dt: print(f"kiosk run: terminal {cfg.kiosk.id} running",
                                          flush=True))
    KioskApp(terminal, lockdown=True, allow_close=False).run()
    return 0


def run_demo_app(args: argparse.Namespace) -> int:
    """The full touchscreen demo on simulators and the reference billing server; no config."""
    from kiosk.__main__ import _config
    from billing_server.server import BillingServer
    from kiosk.demo.controls import ACTIONS, DemoControls, help_text

    _kivy_env()
    from kiosk.ui.platform import FontMissing, configure_kivy, find_cjk_font

    try:
        find_cjk_font()
    except FontMissing as exc:
        print(f"kiosk demo: {exc}", file=sys.stderr)
        return 2
    os.makedirs("var/demo/devices", exist_ok=True)
    server = BillingServer("127.0.0.1", 0, "var/demo/billing-server.db",
                           enrol_token=getattr(args, "enrol_token", None)).start()
    # The demo's terminal enrols with the token its own server took: no configuration.
    cfg = _config(args, db="var/demo/kiosk.db", api=server.url, state_dir="var/demo/devices",
                  enrol_token=server.enrol_token)
    print(f"reference billing server on {server.url}; terminal {cfg.kiosk.id}; "
          f"journal {cfg.kiosk.db}")
    print(help_text())
    sys.stdout.flush()
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
