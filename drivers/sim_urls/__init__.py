"""pyserial URL handlers (pyserial's "URL Handlers": a ``protocol_<scheme>`` module in a package
listed in ``serial.protocol_handler_packages``). drivers/transport.py lists this package once, at
import, so ``serial.serial_for_url`` knows ``sim://`` and composes it with ``spy://``."""
