"""The terminal's identity from its config: its key under ``<kiosk.state_dir>/keys`` (0600 in
0700, outside the database), enrolment with ``billing.enrol_token``, and the ``requests`` auth
hook every client of the billing API signs with (offline_queue/signing.py)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, TypeVar

from kiosk.config import Config, ConfigError
from kiosk.staff.audit_keys import key_path as audit_key_path
from offline_queue.private import exposure
from offline_queue.signing import (ENROLLED_FILE, KEY_FILE, Enrolment, KioskAuth,
                                   load_or_create_key)

T = TypeVar("T")
_lock = threading.Lock()
_auths: dict[tuple[str, str, str], KioskAuth] = {}


def keys_dir(cfg: Config) -> Path:
    return Path(cfg.kiosk.state_dir) / "keys"


def key_path(cfg: Config) -> Path:
    return keys_dir(cfg) / KEY_FILE


def refuse_shared(cfg: Config) -> None:
    """Start-up: the database and the key files must be private (docs/security.md, Files);
    ConfigError naming the first that is not, unless ``kiosk.allow_shared_files``."""
    if cfg.kiosk.allow_shared_files:
        return
    for path, what in ((Path(cfg.kiosk.db), "database"), (key_path(cfg), "kiosk key file"),
                       (audit_key_path(cfg.kiosk.state_dir), "audit key file")):
        problem = exposure(path, what)
        if problem:
            raise ConfigError(problem)


def kiosk_auth(cfg: Config) -> KioskAuth:
    """One auth hook per key, kiosk id and token in this process: the sync worker, lookups and
    heartbeats share its enrolment (and its lock: one enrolment, not one per thread)."""
    path = key_path(cfg)
    ident = (os.path.realpath(path), cfg.kiosk.id, cfg.billing.enrol_token)
    with _lock:
        auth = _auths.get(ident)
        if auth is None:
            key = load_or_create_key(path)
            enrolment = Enrolment(key, cfg.kiosk.id, cfg.billing.enrol_token or None,
                                  keys_dir(cfg) / ENROLLED_FILE,
                                  cfg.billing.connect_timeout_s + cfg.billing.read_timeout_s,
                                  tls=cfg.billing.tls())
            auth = _auths[ident] = KioskAuth(key, cfg.kiosk.id, enrolment)
        return auth


def signed(client: T, cfg: Config) -> T:
    """``client`` (a SyncWorker, BillingClient or BillingProbe: anything with ``.http``), its
    requests now signed as this kiosk."""
    http: Any = getattr(client, "http")
    http.auth = kiosk_auth(cfg)
    return client
