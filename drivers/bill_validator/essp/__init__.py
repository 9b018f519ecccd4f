"""ITL eSSP (encrypted Smiley Secure Protocol, v6+) bill validator: pure framing (protocol),
AES layer and key exchange (crypto), serial link (link), poll driver (driver), device simulator."""
