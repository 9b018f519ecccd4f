"""The player's queue with stand-in sounds (no audio device): clips in order, one at a time; a
cut stops the sound and forgets the queue; a newer amount replaces one still waiting; without
audio output the prompts are only recorded and logged, with one warning."""

from __future__ import annotations

import logging
from pathlib import Path

from kiosk.voice.manifest import Clip, Manifest
from kiosk.voice.prompts import Prompt
from kiosk.ui.voice_player import ClipBank, Player


class FakeSound:
    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log
        self.state, self.volume = "stop", 1.0
        self._handlers: dict[int, object] = {}
        self._uid = 0

    def fbind(self, _event: str, fn) -> int:
        self._uid += 1
        self._handlers[self._uid] = fn
        return self._uid

    def unbind_uid(self, _event: str, uid: int) -> None:
        self._handlers.pop(uid, None)

    def play(self) -> None:
        self.state = "play"
        self.log.append(f"play {self.name}")

    def stop(self) -> None:  # Kivy dispatches on_stop for a stop too
        if self.state == "play":
            self.state = "stop"
            self.log.append(f"stop {self.name}")
            for fn in list(self._handlers.values()):
                fn(self)

    def finish(self) -> None:
        self.stop()


def make(tmp_path: Path, audio: bool = True):
    log: list[str] = []
    sounds: dict[str, FakeSound] = {}

    def loader(path: str):
        if not audio:
            return None
        sounds[Path(path).stem] = FakeSound(Path(path).stem, log)
        return sounds[Path(path).stem]

    clips = {}
    for cid in ("a", "b", "c", "num.5"):
        p = tmp_path / f"{cid}.ogg"
        p.write_bytes(b"OggS")
        clips[cid] = Clip(cid, cid, p)
    bank = ClipBank(loader)
    bank.open(c.path for c in clips.values())
    assert bank.wait(5)
    player = Player(bank, {"en": Manifest("en", clips)})
    return player, sounds, log


def test_clips_play_in_order_one_at_a_time(tmp_path):
    player, sounds, log = make(tmp_path)
    player.say([Prompt("p1", ("a", "num.5")), Prompt("p2", ("b",))], "en")
    assert log == ["play a"]
    sounds["a"].finish()
    assert log[-1] == "play num.5"
    sounds["num.5"].finish()
    sounds["b"].finish()
    assert log == ["play a", "stop a", "play num.5", "stop num.5", "play b", "stop b"]
    assert not player.speaking and player.started == ["a.ogg", "num.5.ogg", "b.ogg"]


def test_a_cut_stops_the_sound_and_forgets_the_queue(tmp_path):
    player, sounds, log = make(tmp_path)
    player.say([Prompt("p1", ("a", "b"))], "en")
    player.say([Prompt("p2", ("c",))], "en", cut=True)
    assert log == ["play a", "stop a", "play c"]  # b never played
    assert player.cuts == 1


def test_a_newer_amount_replaces_one_still_waiting(tmp_path):
    player, sounds, log = make(tmp_path)
    player.say([Prompt("screen", ("a",)), Prompt("credited", ("b",))], "en")
    player.say([Prompt("credited", ("c",))], "en")
    sounds["a"].finish()
    assert log[-1] == "play c"
    assert [p for p, _l, _c in player.said] == ["screen", "credited", "credited"]


def test_volume_is_set_on_each_clip(tmp_path):
    player, sounds, _log = make(tmp_path)
    player.volume = 0.3
    player.say([Prompt("p", ("a",))], "en")
    assert sounds["a"].volume == 0.3


def test_without_audio_the_prompts_are_logged_with_one_warning(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    player, sounds, log = make(tmp_path, audio=False)
    player.say([Prompt("p1", ("a",)), Prompt("p2", ("b",))], "en")
    assert player.bank.audio is False and log == [] and not player.speaking
    assert [p for p, _l, _c in player.said] == ["p1", "p2"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "no audio output" in warnings[0].getMessage()
    assert any("p1" in r.getMessage() for r in caplog.records if r.levelno == logging.INFO)
