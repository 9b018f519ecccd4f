"""Card readers: EM4100 / RDM6300-style 125 kHz readers (``em4100``)."""
