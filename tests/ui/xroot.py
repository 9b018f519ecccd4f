"""What an X server really shows: its root window read through libX11 (ctypes), so a test sees
the screen as a resident would, not the window's own idea of its size."""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any

Z_PIXMAP = 2  # X.h
ALL_PLANES = 0xFFFFFFFF


class _XImage(ctypes.Structure):
    # the leading fields of XImage (Xlib.h), enough to read a ZPixmap
    _fields_ = [("width", ctypes.c_int), ("height", ctypes.c_int), ("xoffset", ctypes.c_int),
                ("format", ctypes.c_int), ("data", ctypes.POINTER(ctypes.c_char)),
                ("byte_order", ctypes.c_int), ("bitmap_unit", ctypes.c_int),
                ("bitmap_bit_order", ctypes.c_int), ("bitmap_pad", ctypes.c_int),
                ("depth", ctypes.c_int), ("bytes_per_line", ctypes.c_int),
                ("bits_per_pixel", ctypes.c_int)]


def _xlib() -> Any:
    lib = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    lib.XOpenDisplay.restype = ctypes.c_void_p
    lib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    lib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    lib.XDefaultRootWindow.restype = ctypes.c_ulong
    lib.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    lib.XDisplayWidth.argtypes = lib.XDisplayHeight.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.XGetImage.restype = ctypes.POINTER(_XImage)
    lib.XGetImage.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int,
                              ctypes.c_uint, ctypes.c_uint, ctypes.c_ulong, ctypes.c_int]
    lib.XDestroyImage.argtypes = [ctypes.POINTER(_XImage)]
    return lib


def grab_root() -> Any:
    """The whole screen of ``$DISPLAY`` as an RGB Pillow image (24-bit TrueColor, as Xvfb)."""
    from PIL import Image

    x = _xlib()
    display = x.XOpenDisplay(None)
    if not display:
        raise RuntimeError("cannot open the X display")
    try:
        w, h = x.XDisplayWidth(display, 0), x.XDisplayHeight(display, 0)
        ptr = x.XGetImage(display, x.XDefaultRootWindow(display), 0, 0, w, h, ALL_PLANES, Z_PIXMAP)
        img = ptr.contents
        if img.bits_per_pixel != 32:
            raise RuntimeError(f"{img.bits_per_pixel} bits per pixel: start Xvfb with depth 24")
        raw = ctypes.string_at(img.data, img.bytes_per_line * h)
        x.XDestroyImage(ptr)
    finally:
        x.XCloseDisplay(display)
    return Image.frombytes("RGB", (w, h), raw, "raw", "BGRX", img.bytes_per_line)


def covered(before: Any, after: Any) -> tuple[float, tuple[int, int, int, int] | None]:
    """How much of the screen changed from ``before`` (the bare server): the fraction of
    pixels that differ and the box around them."""
    from PIL import ImageChops

    diff = ImageChops.difference(before, after).convert("L").point(lambda v: 255 if v else 0)
    changed = diff.histogram()[255]
    return changed / (after.width * after.height), diff.getbbox()
