"""Plays prompts, clip after clip, without blocking the UI thread (docs/voice.md).

Clips are loaded once per process (``ClipBank``): the first on the UI thread at start — it opens
the audio device (SDL's mixer: Kivy's ``audio_sdl2`` provider, the one the Kivy wheel ships) —
and the rest on a thread of their own, so the UI thread only ever starts a loaded sound. A sound
reports its end through Kivy's clock (``on_stop``), which starts the next clip. A cut stops the
sound playing and forgets the queue. Where no audio device opens, the prompts are only logged,
with one warning: the terminal works the same, silently.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any, Callable, Iterable

from kiosk.voice.manifest import Manifest
from kiosk.voice.prompts import Prompt

log = logging.getLogger(__name__)

Loader = Callable[[str], Any]


def kivy_loader(path: str) -> Any:
    from kivy.core.audio import SoundLoader

    sound = SoundLoader.load(path)
    # a sound the mixer could not open loads as an object of length 0 (audio_sdl2)
    return sound if sound is not None and sound.length > 0 else None


class ClipBank:
    """Sounds by path, loaded once for the process (every app of a test run shares them)."""

    def __init__(self, loader: Loader = kivy_loader) -> None:
        self.loader = loader
        self.sounds: dict[Path, Any] = {}
        self.audio: bool | None = None  # None: not tried yet
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def open(self, paths: Iterable[Path]) -> bool:
        """Loads one clip here (it opens the audio device) and the rest on a loading thread;
        False when there is no audio output."""
        todo = [p for p in dict.fromkeys(paths) if p not in self.sounds]
        if self.audio is None and todo:
            first = min(todo, key=lambda p: p.stat().st_size if p.exists() else 1 << 30)
            sound = self.loader(str(first))
            self.audio = sound is not None
            if not self.audio:
                log.warning("voice: no audio output could be opened (SDL_AUDIODRIVER=%s); "
                            "prompts are logged, not spoken",
                            os.environ.get("SDL_AUDIODRIVER", "default"))
                return False
            self.sounds[first] = sound
            todo.remove(first)
        if self.audio and todo:
            self._thread = threading.Thread(target=self._load, args=(todo,), name="voice-load",
                                            daemon=True)
            self._thread.start()
        return bool(self.audio)

    def _load(self, paths: list[Path]) -> None:
        for path in paths:
            sound = self.loader(str(path))
            with self._lock:
                self.sounds[path] = sound
            if sound is None:
                log.warning("voice: cannot load %s", path)

    def wait(self, timeout: float) -> bool:
        """For tests and the benchmark: every clip loaded."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def get(self, path: Path) -> Any:
        with self._lock:
            return self.sounds.get(path)


class Player:
    """A queue of prompts in one voice. ``said`` records every prompt handed to it (its id,
    language and clips), ``started`` every clip that began to sound: what tests read."""

    def __init__(self, bank: ClipBank, manifests: dict[str, Manifest]) -> None:
        self.bank = bank
        self.manifests = manifests
        self.volume = 0.8
        self.said: list[tuple[str, str, tuple[str, ...]]] = []
        self.started: list[str] = []
        self.cuts = 0
        self._queue: list[tuple[Prompt, str]] = []
        self._clips: list[Path] = []
        self._sound: Any = None
        self._bound: int | None = None
        self._generation = 0

    @property
    def speaking(self) -> bool:
        return self._sound is not None or bool(self._queue) or bool(self._clips)

    def say(self, prompts: Iterable[Prompt], lang: str, cut: bool = False) -> None:
        if cut:
            self.stop()
        for p in prompts:
            self.said.append((p.id, lang, p.clips))
            if self.bank.audio:
                # a newer amount replaces one still waiting (notes credited in quick succession)
                self._queue = [(q, lg) for q, lg in self._queue if q.id != p.id]
                self._queue.append((p, lang))
            else:
                log.info("voice (%s): %s %s", lang, p.id, " ".join(p.clips))
        if self._sound is None:
            self._advance()

    def stop(self) -> None:
        """Cuts what is playing and forgets the queue."""
        if self.speaking:
            self.cuts += 1
        self._generation += 1
        self._queue.clear()
        self._clips.clear()
        sound, self._sound = self._sound, None
        if sound is not None:
            self._unbind(sound)
            sound.stop()

    def _unbind(self, sound: Any) -> None:
        if self._bound is not None:
            sound.unbind_uid("on_stop", self._bound)
            self._bound = None

    def _advance(self) -> None:
        while not self._clips and self._queue:
            p, lang = self._queue.pop(0)
            self._clips = self.manifests[lang].paths(p.clips)
        while self._clips:
            path = self._clips.pop(0)
            sound = self.bank.get(path)
            if sound is None:
                log.debug("voice: %s not loaded yet, skipped", path)
                continue
            generation = self._generation
            self._sound = sound
            self._bound = sound.fbind("on_stop", lambda *_a: self._ended(generation))
            sound.volume = self.volume
            self.started.append(path.name)
            sound.play()
            return
        self._sound = None
        if self._queue:
            self._advance()

    def _ended(self, generation: int) -> None:
        if generation != self._generation or self._sound is None:
            return
        self._unbind(self._sound)
        self._sound = None
        self._advance()
