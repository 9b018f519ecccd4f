"""The ``[voice]`` section of the configuration (kiosk/config.py reads it; README, Configuration).

The language is not set here: the voice speaks the session's language (the language button)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class VoiceSection:
    #: on by default: a resident who cannot read the screen is told what to do (docs/voice.md)
    enabled: bool = True
    #: percent of full volume each session starts at; the volume button steps through LEVELS
    volume: int = field(default=80, metadata={"range": (0, 100)})
    #: where the clips and their manifest.json are ("": the shipped assets/sounds)
    sounds_dir: str = ""


#: the volume button's steps, percent: quiet, medium, loud (then off, then quiet again)
LEVELS = (30, 60, 100)
