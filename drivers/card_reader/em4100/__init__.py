"""EM4100 / RDM6300-style card reader: pure protocol, driver over a serial port, and a simulator."""

from drivers.card_reader.em4100.driver import Em4100Driver

__all__ = ["Em4100Driver"]
