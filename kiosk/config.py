"""Configuration: a TOML file → frozen dataclasses, with every default documented here.

A wrong value or an unknown key (a typo) is one clear line naming the key: ``ConfigError``.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.flow.rules import FlowConfig


class ConfigError(ValueError):
    """A configuration problem; the message names the key."""


@dataclass(frozen=True)
class KioskSection:
    id: str = "KIOSK-0001"
    db: str = "var/kiosk.db"
    state_dir: str = "var/devices"
    service_phone: str = "95598"
    duplicate_window_min: int = 30


@dataclass(frozen=True)
class BillingSection:
    url: str = "http://127.0.0.1:8080"
    connect_timeout_s: float = 3.05
    read_timeout_s: float = 10.0
    sync_interval_s: float = 2.0


@dataclass(frozen=True)
class DeviceSection:
    url: str
    protocol: str
    poll_interval_ms: int = 100
    channels: dict[str, int] = field(default_factory=dict)
    address: int = 2
    checksum: str = "simple"


DEFAULT_DEVICES = {
    "bill_validator": DeviceSection(
        "sim://bill-validator", "id003",
        channels={"0x61": 100, "0x62": 500, "0x63": 1000, "0x64": 2000, "0x65": 5000, "0x66": 10000},
    ),
    "coin_acceptor": DeviceSection(
        "sim://coin-acceptor", "cctalk", channels={"1": 10, "2": 50, "3": 100}
    ),
    "card_reader": DeviceSection("sim://card-reader", "em4100"),
    "printer": DeviceSection("sim://printer", "escpos"),
}
PROTOCOLS = {
    "bill_validator": {"id003"},
    "coin_acceptor": {"cctalk"},
    "card_reader": {"em4100"},
    "printer": {"escpos"},
}


@dataclass(frozen=True)
class Config:
    kiosk: KioskSection = field(default_factory=KioskSection)
    billing: BillingSection = field(default_factory=BillingSection)
    limits: FlowConfig = field(default_factory=FlowConfig)
    devices: dict[str, DeviceSection] = field(default_factory=lambda: dict(DEFAULT_DEVICES))


def load_config(path: str | Path | None) -> Config:
    if path is None:
        return Config()
    try:
        raw = tomllib.loads(Path(path).read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file unreadable: {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return config_from_dict(raw)


def config_from_dict(raw: dict[str, Any]) -> Config:
    _no_unknown(raw, {"kiosk", "billing", "limits", "devices"}, "")
    devices = dict(DEFAULT_DEVICES)
    for name, table in _table(raw, "devices").items():
        if name not in DEFAULT_DEVICES:
            raise ConfigError(f"devices.{name}: unknown device (known: {', '.join(DEFAULT_DEVICES)})")
        if not isinstance(table, dict):
            raise ConfigError(f"devices.{name}: expected a table")
        dev = _build(DeviceSection, table, f"devices.{name}", DEFAULT_DEVICES[name])
        if dev.protocol not in PROTOCOLS[name]:
            raise ConfigError(f"devices.{name}.protocol: {dev.protocol!r} not supported "
                              f"(supported: {', '.join(sorted(PROTOCOLS[name]))})")
        for ch, value in dev.channels.items():
            _channel_number(ch, f"devices.{name}.channels")
            _int(value, f"devices.{name}.channels.{ch}", minimum=1)
        devices[name] = dev
    limits = _build(FlowConfig, _table(raw, "limits"), "limits", FlowConfig())
    cfg = Config(
        kiosk=_build(KioskSection, _table(raw, "kiosk"), "kiosk", KioskSection()),
        billing=_build(BillingSection, _table(raw, "billing"), "billing", BillingSection()),
        limits=limits,
        devices=devices,
    )
    if not cfg.billing.url.startswith(("http://", "https://")):
        raise ConfigError(f"billing.url: expected an http(s) URL, got {cfg.billing.url!r}")
    if limits.offline_max_txn_minor > limits.max_txn_minor:
        raise ConfigError("limits.offline_max_txn_minor: must not exceed limits.max_txn_minor")
    return cfg


def channel_map(dev: DeviceSection) -> dict[int, int]:
    return {_channel_number(k, "channels"): v for k, v in dev.channels.items()}


def _channel_number(text: str, where: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise ConfigError(f"{where}: channel {text!r} is not a number (e.g. \"3\" or \"0x61\")") from None


def _table(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a table")
    return value


def _no_unknown(raw: dict[str, Any], known: set[str], prefix: str) -> None:
    for key in raw:
        if key not in known:
            raise ConfigError(f"{prefix}{key}: unknown key (known: {', '.join(sorted(known))})")


def _int(value: Any, where: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where}: expected an integer (money is in minor units, fen), got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{where}: must be at least {minimum}, got {value}")
    return value


def _build(cls: type, table: dict[str, Any], prefix: str, defaults: Any) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    _no_unknown(table, set(fields), prefix + ".")
    values: dict[str, Any] = {}
    for name, value in table.items():
        where = f"{prefix}.{name}"
        default = getattr(defaults, name)
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"{where}: expected true or false, got {value!r}")
        elif isinstance(default, int):
            value = _int(value, where, minimum=0)
        elif isinstance(default, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(f"{where}: expected a positive number of seconds, got {value!r}")
            value = float(value)
        elif isinstance(default, str):
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{where}: expected a non-empty string, got {value!r}")
        elif isinstance(default, (frozenset, tuple)):
            if not isinstance(value, list):
                raise ConfigError(f"{where}: expected a list of integers, got {value!r}")
            items = [_int(v, f"{where}[{i}]", minimum=1) for i, v in enumerate(value)]
            value = frozenset(items) if isinstance(default, frozenset) else tuple(items)
        elif isinstance(default, dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: expected a table")
        values[name] = value
    return dataclasses.replace(defaults, **values)
