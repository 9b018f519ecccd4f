"""ccTalk coin acceptor: protocol (pure), entry (its registry entry), driver, simulator.
Import the submodules you need; this package imports nothing by itself."""
