"""Coin acceptors: ccTalk (``cctalk``)."""
