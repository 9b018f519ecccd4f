"""Device configuration changed by maintenance staff on the terminal (a port after a cable was
moved, a poll interval, a device taken out of use), kept in the database over the TOML file's
values and applied by ``apply`` when the devices are next opened."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, Callable

from sqlite_utils import Database

from kiosk.config import Config, ConfigError, without_devices


def _poll(value: str) -> int:
    if not value.isdigit() or not 20 <= int(value) <= 1000:
        raise ConfigError("poll_interval_ms: a whole number of milliseconds from 20 to 1000")
    return int(value)


def _url(value: str) -> str:
    if not value or any(ch.isspace() for ch in value):
        raise ConfigError("url: a device path, sim://<device> or a pyserial URL")
    return value


def _enabled(value: str) -> bool:
    if value not in ("true", "false"):
        raise ConfigError("enabled: true or false")
    return value == "true"


KEYS: dict[str, Callable[[str], Any]] = {"poll_interval_ms": _poll, "url": _url, "enabled": _enabled}


class DeviceSettings:
    def __init__(self, db: Database, config: Config, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.config = config
        self.clock = clock

    def set(self, device: str, key: str, value: str, by: str) -> str | None:
        """Validate and store one setting; returns the value it replaces (None: from the file)."""
        if device not in self.config.devices:
            raise ConfigError(f"unknown device {device!r} (known: {', '.join(self.config.devices)})")
        if key not in KEYS:
            raise ConfigError(f"{key}: not a setting staff may change ({', '.join(KEYS)})")
        KEYS[key](value)
        old = self.db.execute("SELECT value FROM device_settings WHERE device = ? AND key = ?",
                              (device, key)).fetchone()
        self.db.execute(
            "INSERT INTO device_settings (device, key, value, changed_at, changed_by)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT(device, key) DO UPDATE SET value = excluded.value,"
            " changed_at = excluded.changed_at, changed_by = excluded.changed_by",
            (device, key, value, self.clock().isoformat(timespec="seconds"), by))
        return old[0] if old else None

    def all(self) -> list[dict[str, Any]]:
        return list(self.db.query("SELECT * FROM device_settings ORDER BY device, key"))

    def apply(self, config: Config) -> Config:
        """``config`` with the stored settings over it; a disabled device is left out."""
        devices = dict(config.devices)
        disabled = set()
        for row in self.all():
            name, key = row["device"], row["key"]
            if name not in devices or key not in KEYS:
                continue
            value = KEYS[key](row["value"])
            if key == "enabled":
                if not value:
                    disabled.add(name)
                continue
            devices[name] = dataclasses.replace(devices[name], **{key: value})
        # through without_devices: a validator taken out of use takes its notes off the screen
        return without_devices(dataclasses.replace(config, devices=devices), disabled)
