"""``spy://<port>``: pyserial's wire dump (serial.urlhandler.protocol_spy), where ``<port>`` may
itself be a URL that names a native port -- ``spy://sim://id003``, ``spy://hwgrep://USB`` --
and not only a device path. pyserial's own spy opens its inner part as a device path, so
``spy://sim://…`` would try to open a file called ``sim:``; this handler resolves the inner URL
through the URL handlers first and is otherwise pyserial's, options and output alike."""

from __future__ import annotations

import importlib

import serial
from serial.urlhandler import protocol_spy


def _native_port(url: str) -> str:
    """The device path a URL handler turns ``url`` into (a path is returned as it is)."""
    if "://" not in url:
        return url
    scheme = url.split("://", 1)[0].lower()
    for package in serial.protocol_handler_packages:
        try:
            module = importlib.import_module(f".protocol_{scheme}", package)
        except ImportError:
            continue
        if hasattr(module, "serial_class_for_url"):
            port, klass = module.serial_class_for_url(url)
        else:
            klass = module.Serial
            probe = klass(None)
            probe.port = url  # handlers like hwgrep translate the name in the setter
            port = probe.port
        if not issubclass(klass, serial.Serial) or "://" in str(port):
            raise serial.SerialException(f"spy:// wraps a native port; {url!r} is not one")
        return port
    raise serial.SerialException(f"spy://: protocol {scheme!r} not known")


class Serial(protocol_spy.Serial):
    def from_url(self, url: str) -> str:
        return _native_port(super().from_url(url))
