"""The functional core: pure payment-session logic. No I/O, no clock, no threads, no Kivy."""
