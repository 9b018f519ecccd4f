"""ccTalk coin acceptor: pure protocol, driver over a serial port, and a simulator."""

from drivers.coin_acceptor.cctalk.driver import CcTalkDriver, CoinAcceptorIdentity, CommandRefused

__all__ = ["CcTalkDriver", "CoinAcceptorIdentity", "CommandRefused"]
