"""Serial device drivers, each speaking its device's real wire protocol, with simulators."""
