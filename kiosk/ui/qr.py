"""QR code modules for a receipt, computed once per text and shared between threads: the
deciding thread builds them when a receipt is read, so drawing the done screen on the Kivy
thread only uploads a texture (building a QR costs tens of milliseconds on a small CPU)."""

from __future__ import annotations

import functools
import logging

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=16)
def modules(text: str) -> tuple[tuple[bool, ...], ...]:
    """The dark/light modules of ``text`` at error correction M (with a 2-module border);
    empty when it cannot be encoded."""
    if not text:
        return ()
    try:
        import qrcode  # python-escpos depends on it

        code = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
        code.add_data(text)
        code.make(fit=True)
        return tuple(tuple(bool(m) for m in row) for row in code.get_matrix())
    except Exception:  # no QR library: the receipt number is still on screen
        log.exception("cannot build the QR code")
        return ()
