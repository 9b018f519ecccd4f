"""Barcode scanners: serial 2D scanners in their common serial mode (``serial2d``)."""
