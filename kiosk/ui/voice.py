"""The app's voice guide: settled sessions in, prompts out (``kiosk.voice.cues``), the volume,
repeat and help buttons' state for kv (``app.voice``). On the UI thread only; no I/O here but
starting a loaded sound (kiosk/ui/voice_player.py, docs/voice.md)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from kivy.event import EventDispatcher
from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from kiosk.flow.session import Session
from kiosk.voice import cues, manifest, steps
from kiosk.voice.prompts import LANGS, prompt
from kiosk.voice.settings import LEVELS, VoiceSection
from kiosk.ui.voice_player import ClipBank, Player

log = logging.getLogger(__name__)

#: one bank per process: clips are loaded once, whichever app (or test) starts first
BANK = ClipBank()


class VoiceGuide(EventDispatcher):
    enabled = BooleanProperty(True)
    #: percent; 0 is off (the volume button's last step)
    volume = NumericProperty(80)
    #: the help overlay: open, and the one sentence it shows
    help_open = BooleanProperty(False)
    help_text = StringProperty("")

    def __init__(self, settings: VoiceSection, bank: ClipBank = BANK, scanner: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.scanner = scanner  # a scanner is configured: the start screens say so
        folder = Path(settings.sounds_dir) if settings.sounds_dir else manifest.SOUNDS_DIR
        self.manifests = {lang: manifest.load(lang, folder) for lang in LANGS}
        self.player = Player(bank, self.manifests)
        self.heard = cues.Heard()
        self._last: tuple[Session, str, str] | None = None
        self.enabled = settings.enabled
        self.fbind("volume", self._volume_changed)
        self.reset()

    def start(self) -> None:
        """At app start: open the audio device and load every clip (off this thread)."""
        if not self.enabled:
            return
        paths = [c.path for m in self.manifests.values() for c in m.clips.values()]
        self.player.bank.open(paths)

    def reset(self) -> None:
        """A new resident: the configured volume, help closed."""
        self.volume = self.settings.volume
        self._volume_changed()
        self.help_open = False

    def _volume_changed(self, *_: Any) -> None:
        self.player.volume = self.volume / 100

    # ------------------------------------------------------------------ from the app
    def hear(self, s: Session, screen: str, lang: str, idle: bool = False) -> None:
        """Each refresh of the screen: whatever changed since the last one is said."""
        self._last = (s, screen, lang)
        cue = cues.listen(self.heard, s, screen, lang, idle, self.scanner)
        if cue.heard.screen != self.heard.screen:
            self.help_open = False
        self.heard = cue.heard
        if self.enabled and self.volume > 0 and (cue.prompts or cue.cut):
            self.player.say(cue.prompts, lang, cut=cue.cut)

    def stop(self) -> None:
        self.player.stop()

    # ------------------------------------------------------------------ the buttons
    def repeat(self) -> None:
        """Says the screen again, from the start, as if it had just been shown."""
        if self._last is not None and self.enabled:
            s, screen, lang = self._last
            if screen in cues.SPEAKING:
                self.player.say(cues.entry(s, screen, lang, self.scanner), lang, cut=True)

    def help(self) -> None:
        """The screen's prompt again, and its sentence in large text until closed."""
        if self._last is None:
            return
        s, screen, lang = self._last
        if screen not in cues.SPEAKING:
            return
        clip = steps.sentence(s, screen, self.scanner)
        self.help_text = self.manifests[lang].text(clip) or clip
        self.help_open = True
        if self.enabled:
            self.player.say([prompt(clip, lang)], lang, cut=True)

    def close_help(self) -> None:
        self.help_open = False

    def step_volume(self) -> None:
        """Quiet → medium → loud → off → quiet; each step says how loud it is now."""
        if self.volume <= 0:
            self.volume = LEVELS[0]
        else:
            self.volume = next((v for v in LEVELS if v > self.volume), 0)
        if self.volume == 0:
            self.player.stop()
        elif self._last is not None and self.enabled:
            self.player.say([prompt("say.volume", self._last[2])], self._last[2], cut=True)
