"""Voice guidance, the pure half (docs/voice.md): which prompts a screen or an event produces
(``cues``), amounts spoken from number clips (``numbers``), the prompt texts (``prompts``), the
clip manifest (``manifest``) and the one command that builds the shipped clips (``build``).
No Kivy here: the player is ``kiosk/ui/voice.py``."""
