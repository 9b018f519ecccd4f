"""Configuration: a TOML file → frozen dataclasses, with every default documented here.

A wrong value, an unknown key (a typo), a key that does not belong to the device's protocol or
two values that contradict each other is one clear line naming the key: ``ConfigError``.
Command-line overrides go through the same checks (``config_with``).
"""

from __future__ import annotations

import copy
import dataclasses
import re
import ssl
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from drivers import registry
from drivers.bill_validator.ccnet.entry import CcnetOptions
from drivers.bill_validator.essp.entry import EsspOptions
from drivers.bill_validator.id003.entry import Id003Options
from drivers.card_reader.em4100.entry import Em4100Options
from drivers.card_reader.pn532.entry import Pn532Options
from drivers.coin_acceptor.cctalk.entry import CcTalkOptions
from drivers.printer.escpos.entry import EscPosOptions
from drivers.scanner.serial2d.entry import Serial2dOptions
from kiosk.config_sections import (ENROL_TOKEN, KIOSK_ID, MAX_VERIFY_URL,  # noqa: F401
                                   ArchiveSection, BillingSection, CabinetSection, GatewaySection,
                                   KioskSection, ReceiptsSection, StaffSection, _range)
from kiosk.flow.rules import FlowConfig
from kiosk.flow.scan import ScanRules, rules_from_table
from kiosk.staff.pins import MAX_N as MAX_SCRYPT_N
from kiosk.staff.pins import MIN_N as MIN_SCRYPT_N
from kiosk.voice.settings import VoiceSection
from offline_queue.tls import parse_pin


class ConfigError(ValueError):
    """A configuration problem; the message names the key."""




# ---------------------------------------------------------------- per-protocol device options
# Each protocol's options type, its defaults and which device may speak it are its registry
# entry (drivers/registry.py); the names below are kept for the callers that build options.
DeviceOptions = (Id003Options | CcnetOptions | EsspOptions | CcTalkOptions | Em4100Options
                 | Pn532Options | EscPosOptions | Serial2dOptions)
#: an absent cash device takes its accepted denominations with it
ACCEPTS = {"bill_validator": "accepted_notes_minor", "coin_acceptor": "accepted_coins_minor"}


@dataclass(frozen=True)
class DeviceSection:
    url: str
    protocol: str
    enabled: bool = True
    # A note in escrow waits for the next poll: above a second the resident sees a stuck note.
    poll_interval_ms: int = field(default=100, metadata=_range(10, 1000))
    options: Any = None  # the protocol's own options type (its registry entry's ``options``)

    def __post_init__(self) -> None:
        if self.options is None:
            object.__setattr__(self, "options", registry.entry(self.protocol).options())


COMMON_KEYS = {f.name for f in dataclasses.fields(DeviceSection)} - {"options"}

#: every device the registry knows, on its default protocol's simulator
DEFAULT_DEVICES = {
    device: DeviceSection(f"sim://{registry.device_alias(device)}", protocols[0])
    for device, protocols in registry.DEVICES.items()
}


@dataclass(frozen=True)
class Config:
    kiosk: KioskSection = field(default_factory=KioskSection)
    billing: BillingSection = field(default_factory=BillingSection)
    receipts: ReceiptsSection = field(default_factory=ReceiptsSection)
    staff: StaffSection = field(default_factory=StaffSection)
    gateway: GatewaySection = field(default_factory=GatewaySection)
    limits: FlowConfig = field(default_factory=FlowConfig)
    #: what a scanned code is: the utility's bill pattern, the payment-code rule (kiosk/flow/scan.py)
    scanner: ScanRules = field(default_factory=ScanRules)
    archive: ArchiveSection = field(default_factory=ArchiveSection)
    voice: VoiceSection = field(default_factory=VoiceSection)
    #: where the card reader and cash slots are on this cabinet (the screens' pictures)
    cabinet: CabinetSection = field(default_factory=CabinetSection)
    #: the devices in use; a device with ``enabled = false`` is not here at all
    devices: dict[str, DeviceSection] = field(default_factory=lambda: dict(DEFAULT_DEVICES))


def load_raw(path: str | Path | None) -> dict[str, Any]:
    """The file's tables as parsed, not yet checked ({} without a file)."""
    if path is None:
        return {}
    try:
        return tomllib.loads(Path(path).read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file unreadable: {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def load_config(path: str | Path | None) -> Config:
    return config_from_dict(load_raw(path))


def config_with(raw: Mapping[str, Any], values: Mapping[str, tuple[str, Any]]) -> Config:
    """``raw`` with dotted keys set (``{"kiosk.db": ("--db", "x.db")}``), checked exactly like
    the file; an error about a key set here names its flag instead."""
    merged = copy.deepcopy(dict(raw))
    for dotted, (_flag, value) in values.items():
        *parents, leaf = dotted.split(".")
        table = merged
        for part in parents:
            table = table.setdefault(part, {})
            if not isinstance(table, dict):
                break  # the file's own mistake; config_from_dict names it
        else:
            table[leaf] = value
    try:
        return config_from_dict(merged)
    except ConfigError as exc:
        msg = str(exc)
        for dotted, (flag, _value) in values.items():
            if msg.startswith(dotted + ": "):
                raise ConfigError(f"{flag}: {msg[len(dotted) + 2:]}") from None
        raise


def config_from_dict(raw: Mapping[str, Any]) -> Config:
    _no_unknown(raw, {"kiosk", "billing", "receipts", "staff", "limits", "devices", "archive",
                      "gateway", "voice", "scanner", "cabinet"}, "")
    devices = dict(DEFAULT_DEVICES)
    for name, table in _table(raw, "devices").items():
        if name not in DEFAULT_DEVICES:
            raise ConfigError(f"devices.{name}: unknown device (known: {', '.join(DEFAULT_DEVICES)})")
        if not isinstance(table, dict):
            raise ConfigError(f"devices.{name}: expected a table")
        devices[name] = _device(name, table)
    limits_table = _table(raw, "limits")
    cfg = Config(
        kiosk=_build(KioskSection, _table(raw, "kiosk"), "kiosk", KioskSection()),
        billing=_build(BillingSection, _table(raw, "billing"), "billing", BillingSection()),
        receipts=_build(ReceiptsSection, _table(raw, "receipts"), "receipts", ReceiptsSection()),
        staff=_build(StaffSection, _table(raw, "staff"), "staff", StaffSection()),
        gateway=_build(GatewaySection, _table(raw, "gateway"), "gateway", GatewaySection()),
        limits=_build(FlowConfig, limits_table, "limits", FlowConfig()),
        scanner=_scan_rules(_table(raw, "scanner")),
        archive=_build(ArchiveSection, _table(raw, "archive"), "archive", ArchiveSection()),
        voice=_build(VoiceSection, _table(raw, "voice"), "voice", VoiceSection()),
        cabinet=_build(CabinetSection, _table(raw, "cabinet"), "cabinet", CabinetSection()),
        devices={name: dev for name, dev in devices.items() if dev.enabled},
    )
    if not cfg.billing.url.startswith(("http://", "https://")):
        raise ConfigError(f"billing.url: expected an http(s) URL, got {cfg.billing.url!r}")
    if cfg.billing.enrol_token and not ENROL_TOKEN.fullmatch(cfg.billing.enrol_token):
        raise ConfigError("billing.enrol_token: expected 16-128 letters, digits, '-' or '_'")
    _check_gateway(cfg.gateway)
    _check_verify_url(cfg)
    _check_tls(cfg.billing)
    _check_staff(cfg.staff)
    absent = [name for name, dev in devices.items() if not dev.enabled]
    for name in absent:
        key = ACCEPTS.get(name)
        if key in limits_table and limits_table[key]:
            raise ConfigError(f"limits.{key}: devices.{name} is disabled; "
                              "remove the key or enable the device")
    cfg = without_devices(cfg, absent)
    _check_limits(cfg.limits)
    _check_accepted(cfg)
    return cfg


def _scan_rules(table: dict[str, Any]) -> ScanRules:
    try:
        return rules_from_table(table)
    except ValueError as exc:  # it names the key
        raise ConfigError(str(exc)) from None
def _check_gateway(gw: GatewaySection) -> None:
    if gw.url and not gw.url.startswith(("http://", "https://")):
        raise ConfigError(f"gateway.url: expected an http(s) URL, got {gw.url!r}")
    if gw.url and not gw.merchant:
        raise ConfigError("gateway.merchant: required with gateway.url (the merchant id)")
    if gw.enrol_token and not ENROL_TOKEN.fullmatch(gw.enrol_token):
        raise ConfigError("gateway.enrol_token: expected 16-128 letters, digits, '-' or '_'")


def verify_url(cfg: Config) -> str:
    """The URL a receipt's QR opens."""
    return cfg.receipts.verify_url or cfg.billing.url.rstrip("/") + "/v1/receipts/verify"


def _check_verify_url(cfg: Config) -> None:
    url = verify_url(cfg)
    key = "receipts.verify_url" if cfg.receipts.verify_url else "billing.url"
    if not re.fullmatch(r"https?://[A-Za-z0-9._~:/\[\]-]+", url):
        raise ConfigError(f"{key}: the receipt URL {url!r} must be http(s) with no query, "
                          "fragment or characters that need escaping")
    if len(url) > MAX_VERIFY_URL:
        raise ConfigError(f"{key}: the receipt URL is {len(url)} characters; at most "
                          f"{MAX_VERIFY_URL} keep the receipt's QR code small enough to scan")


def without_devices(cfg: Config, names: Iterable[str]) -> Config:
    """``cfg`` without the named devices: an absent validator or acceptor accepts nothing, so
    no screen offers its notes or coins."""
    names = set(names)
    gone = {ACCEPTS[n]: frozenset() for n in names if n in ACCEPTS}
    return dataclasses.replace(
        cfg, devices={k: v for k, v in cfg.devices.items() if k not in names},
        limits=dataclasses.replace(cfg.limits, **gone))


def simulator_options(cfg: Config) -> dict[str, dict[str, Any]]:
    """Per protocol, the keyword arguments that make its ``sim://`` simulator match the
    configured device (same channels, address, key): a :class:`drivers.simhub.SimulatorHub`
    built with them serves a device the configured driver agrees with."""
    out = {}
    for device, dev in cfg.devices.items():
        if dev.url in (f"sim://{dev.protocol}", f"sim://{registry.device_alias(device)}"):
            out[dev.protocol] = registry.entry(dev.protocol).sim_options(dev.options)
    return out


def with_simulated(cfg: Config, device: str, protocol: str) -> Config:
    """``cfg`` with ``device`` on the in-process simulator of ``protocol`` (``kiosk simulate
    --validator``). The device keeps its configured options when it already spoke that
    protocol; otherwise they belonged to another protocol and the new one's defaults apply."""
    supported = registry.DEVICES.get(device, ())
    if protocol not in supported:
        raise ConfigError(f"{device}: no protocol {protocol!r} (supported: "
                          f"{', '.join(supported)})")
    old = cfg.devices.get(device) or DEFAULT_DEVICES[device]
    options = old.options if old.protocol == protocol else None
    dev = DeviceSection(f"sim://{protocol}", protocol, poll_interval_ms=old.poll_interval_ms,
                        options=options)
    out = dataclasses.replace(cfg, devices={**cfg.devices, device: dev})
    _check_accepted(out)
    return out


def _device(name: str, table: dict[str, Any]) -> DeviceSection:
    where = f"devices.{name}"
    default = DEFAULT_DEVICES[name]
    common = {k: v for k, v in table.items() if k in COMMON_KEYS}
    dev = _build(DeviceSection, common, where, default)
    supported = registry.DEVICES[name]
    if dev.protocol not in supported:
        raise ConfigError(f"{where}.protocol: {dev.protocol!r} not supported "
                          f"(supported: {', '.join(sorted(supported))})")
    cls = registry.entry(dev.protocol).options
    own = {f.name for f in dataclasses.fields(cls)}
    for key in table:
        if key not in COMMON_KEYS and key not in own:
            raise ConfigError(f"{where}.{key}: not an option of protocol {dev.protocol} (its "
                              f"options: {', '.join(sorted(own)) or 'none'}; every device: "
                              f"{', '.join(sorted(COMMON_KEYS))})")
    options = _build(cls, {k: v for k, v in table.items() if k in own}, where, cls())
    return dataclasses.replace(dev, options=options)


def _check_tls(billing: BillingSection) -> None:
    plain = not billing.url.startswith("https://")
    for key in ("ca_file", "pin_sha256"):
        if getattr(billing, key) and plain:  # it would protect nothing: say so, do not pretend
            raise ConfigError(f"billing.{key}: set, but billing.url is not https:// "
                              f"({billing.url!r})")
    if billing.ca_file:
        if not Path(billing.ca_file).is_file():
            raise ConfigError(f"billing.ca_file: no such file: {billing.ca_file}")
        try:
            ssl.create_default_context(cafile=billing.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"billing.ca_file: not a readable PEM CA file: {billing.ca_file}: "
                              f"{exc}") from None
    if billing.pin_sha256:
        try:
            parse_pin(billing.pin_sha256)
        except ValueError as exc:
            raise ConfigError(f"billing.pin_sha256: {exc}") from None


def _check_staff(staff: StaffSection) -> None:
    n = staff.scrypt_n
    if n < MIN_SCRYPT_N or n & (n - 1) or n > MAX_SCRYPT_N:
        raise ConfigError(f"staff.scrypt_n: must be a power of two from {MIN_SCRYPT_N} to "
                          f"{MAX_SCRYPT_N} (cheaper makes stolen PIN hashes quick to try), got {n}")


def _check_limits(lim: FlowConfig) -> None:
    for key in ("min_amount_minor", "insert_timeout_s", "idle_timeout_s", "receipt_timeout_s"):
        if getattr(lim, key) < 1:
            raise ConfigError(f"limits.{key}: must be at least 1, got {getattr(lim, key)}")
    if lim.offline_max_txn_minor < lim.min_amount_minor:
        raise ConfigError(f"limits.offline_max_txn_minor: {lim.offline_max_txn_minor} is below "
                          f"limits.min_amount_minor ({lim.min_amount_minor})")
    if lim.offline_max_txn_minor > lim.max_txn_minor:
        raise ConfigError(f"limits.offline_max_txn_minor: {lim.offline_max_txn_minor} exceeds "
                          f"limits.max_txn_minor ({lim.max_txn_minor})")
    for i, amount in enumerate(lim.quick_amounts_minor):
        if not lim.min_amount_minor <= amount <= lim.max_txn_minor:
            raise ConfigError(f"limits.quick_amounts_minor[{i}]: {amount} is outside "
                              f"limits.min_amount_minor..limits.max_txn_minor "
                              f"({lim.min_amount_minor}..{lim.max_txn_minor})")


def _check_accepted(cfg: Config) -> None:
    """A denomination the device has no channel for can never be credited: saying it is
    accepted would be a lie on the insert screen."""
    for name, key in ACCEPTS.items():
        dev = cfg.devices.get(name)
        if dev is None:
            continue
        accepted = getattr(cfg.limits, key)
        if name == "bill_validator" and not accepted:
            raise ConfigError(f"limits.{key}: empty while devices.{name} is enabled")
        known = set(dev.options.channels.values())
        missing = sorted(accepted - known)
        if missing:
            raise ConfigError(f"limits.{key}: {', '.join(map(str, missing))} not among "
                              f"devices.{name}.channels values "
                              f"({', '.join(map(str, sorted(known)))})")


def _channels(value: Any, where: str, bounds: tuple[int, int]) -> dict[int, int]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a table of channel = value in fen")
    lo, hi = bounds
    out = {}
    for text, minor in value.items():
        try:
            number = int(text, 0)
        except ValueError:
            raise ConfigError(f"{where}: channel {text!r} is not a number "
                              "(e.g. \"3\" or \"0x61\")") from None
        if not lo <= number <= hi:
            fmt = "#x" if lo >= 0x10 else "d"  # ID-003 codes are written in hex in its manual
            raise ConfigError(f"{where}: channel {text!r} outside {lo:{fmt}}..{hi:{fmt}}")
        out[number] = _int(minor, f"{where}.{text}", minimum=1)
    return out


def _table(raw: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a table")
    return value


def _no_unknown(raw: Mapping[str, Any], known: set[str], prefix: str) -> None:
    for key in raw:
        if key not in known:
            raise ConfigError(f"{prefix}{key}: unknown key (known: {', '.join(sorted(known))})")


def _int(value: Any, where: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where}: expected an integer (money is in minor units, fen), got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{where}: must be at least {minimum}, got {value}")
    return value


def _check_meta(value: Any, where: str, meta: Mapping[str, Any]) -> None:
    if "range" in meta:
        lo, hi = meta["range"]
        if value < lo or (hi is not None and value > hi):
            raise ConfigError(f"{where}: must be from {lo} to {hi}, got {value}")
    if "choices" in meta and value not in meta["choices"]:
        choices = ", ".join(map(str, meta["choices"]))
        raise ConfigError(f"{where}: {value!r} is not one of {choices}")
    if "pattern" in meta and not meta["pattern"].fullmatch(value):
        raise ConfigError(f"{where}: {value!r} does not match {meta['pattern'].pattern} "
                          f"(e.g. {meta.get('example', 'KIOSK-0001')})")


def _build(cls: type, table: dict[str, Any], prefix: str, defaults: Any) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    _no_unknown(table, set(fields), prefix + ".")
    values = {name: _option(fields[name], value, f"{prefix}.{name}", defaults)
              for name, value in table.items()}
    return dataclasses.replace(defaults, **values)


def replace_option(options: Any, name: str, value: Any, where: str) -> Any:
    """``options`` with ``name`` set to ``value``, checked as in the file; ConfigError naming
    ``where`` (a command-line flag) when the value is bad or the protocol has no such option."""
    fields = {f.name: f for f in dataclasses.fields(options)}
    if name not in fields:
        raise ConfigError(f"{where}: the protocol has no option {name}")
    return dataclasses.replace(options, **{name: _option(fields[name], value, where, options)})


def _option(f: dataclasses.Field[Any], value: Any, where: str, defaults: Any) -> Any:
    meta = f.metadata
    try:
        return _value(value, where, getattr(defaults, f.name), meta)
    except ConfigError:
        if not meta.get("secret"):
            raise
        # A key is never echoed, not even a mistyped one (docs/promises.md).
        raise ConfigError(f"{where}: must be {meta.get('example', 'valid')} (the value is a "
                          "secret and not shown)") from None


def _value(value: Any, where: str, default: Any, meta: Mapping[str, Any]) -> Any:
    """One option's value checked against its default's type and its field metadata."""
    if "channels" in meta:
        value = _channels(value, where, meta["channels"])
    elif isinstance(default, bool):
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
    _check_meta(value, where, meta)
    return value
