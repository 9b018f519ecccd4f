"""JCM ID-003 bill validator: pure framing (protocol), poll driver (driver), device simulator."""
