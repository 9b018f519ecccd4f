"""NXP PN532 NFC reader over HSU: pure protocol, link, driver (card taps and MIFARE Classic
block reads/writes) and a byte-exact simulator.  Import the submodules you need."""
