"""The clip check: every prompt (number clips included) has a clip in both languages, the clips
say the catalogue's current words, and a utility's recorded clips drop in by the manifest."""

from __future__ import annotations

import array
import json
import wave

import pytest

from kiosk.voice import build, manifest, steps
from kiosk.voice.cues import SPEAKING
from kiosk.voice.numbers import NUMBER_CLIPS
from kiosk.voice.prompts import CLIPS, LANGS, PHRASES, all_clips, prompt

AUDIO_MAGIC = (b"OggS", b"RIFF")


@pytest.mark.parametrize("lang", LANGS)
def test_every_prompt_has_a_clip(lang):
    wanted = all_clips(lang)
    assert NUMBER_CLIPS[lang] <= set(wanted)
    assert {f"screen.{s}" for s in SPEAKING} <= set(wanted)
    # the new screens' prompts: each message's own, the scanner variants, a reference's letters
    assert set(steps.MESSAGE_PROMPTS.values()) <= set(wanted)
    assert {f"screen.{s}.scan" for s in steps.SCAN_SCREENS} <= set(wanted)
    assert set(prompt("say.reference", lang, ref="K0123456789ABCDEFZ").clips) <= set(wanted)
    assert manifest.missing(lang, wanted) == [], "run `make sounds` (docs/voice.md)"
    for clip in manifest.load(lang).clips.values():
        assert clip.path.read_bytes()[:4] in AUDIO_MAGIC, clip.path


@pytest.mark.parametrize("lang", LANGS)
def test_the_clips_say_the_current_words(lang):
    m = manifest.load(lang)
    stale = {cid: (m.text(cid), text) for cid, text in all_clips(lang).items()
             if m.text(cid) != text}
    assert stale == {}, "a prompt's text changed: run `make sounds` (docs/voice.md)"


@pytest.mark.parametrize("lang", LANGS)
def test_every_phrase_uses_only_clips_there_are(lang):
    have = set(manifest.load(lang).clips)
    for pid in [c for c in CLIPS if not c.startswith("part.")] + list(PHRASES):
        said = prompt(pid, lang, amount=12_850, paid=5_000, left=7_850, ref="K3F0A9B1")
        assert set(said.clips) <= have, pid


def test_the_check_fails_when_a_clip_is_missing(tmp_path):
    folder = tmp_path / "en"
    folder.mkdir()
    (folder / "screen_attract.ogg").write_bytes(b"OggS" + bytes(100))
    (folder / manifest.MANIFEST).write_text(json.dumps({"language": "en", "clips": {
        "screen.attract": {"text": "Hello", "file": "screen_attract.ogg"},
        "num.5": {"text": "five", "file": "gone.ogg"}}}), "utf-8")
    wanted = {"screen.attract": "", "num.5": "", "unit.yuan": ""}
    assert manifest.missing("en", wanted, tmp_path) == ["num.5", "unit.yuan"]


def test_recorded_clips_drop_in_by_the_manifest(tmp_path):
    """A utility's recordings: the same ids, its own file names and format."""
    folder = tmp_path / "zh_CN"
    folder.mkdir()
    clips = {}
    for cid in all_clips("zh_CN"):
        name = f"rec-{len(clips):03d}.wav"
        build.write_wav(folder / name, array.array("h", [0, 1000, -1000, 0] * 400))
        clips[cid] = {"text": "录音", "file": name}
    (folder / manifest.MANIFEST).write_text(json.dumps({"language": "zh_CN", "clips": clips}),
                                            "utf-8")
    assert manifest.missing("zh_CN", all_clips("zh_CN"), tmp_path) == []
    m = manifest.load("zh_CN", tmp_path)
    assert m.paths(("num.5",))[0].name.startswith("rec-")


def test_trim_and_resample_keep_the_sound_and_drop_the_silence(tmp_path):
    rate = 22_050
    tone = [(4000 if (i // 20) % 2 else -4000) for i in range(rate // 2)]
    samples = array.array("h", [0] * rate + tone + [0] * rate)
    out = build.resample(build.trim(samples, rate), rate)
    seconds = len(out) / build.RATE
    assert 0.5 <= seconds <= 0.5 + 2 * build.MARGIN_S + 0.01
    build.write_wav(tmp_path / "x.wav", out)
    with wave.open(str(tmp_path / "x.wav")) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16_000, 1, 2)


def test_build_without_its_tools_is_one_line_and_exit_2(monkeypatch, capsys):
    monkeypatch.setattr(build.shutil, "which", lambda _name: None)
    assert build.main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "espeak-ng" in err


def test_build_bad_option_is_one_line_and_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        build.main(["--lang", "fr"])
    assert exc.value.code == 2 and capsys.readouterr().err.count("\n") == 1
