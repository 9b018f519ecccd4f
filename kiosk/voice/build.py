"""Build the shipped voice clips: ``python -m kiosk.voice.build`` (``make sounds``).

Every clip of ``kiosk.voice.prompts`` is said by ``espeak-ng`` (Debian package espeak-ng; voices
``cmn`` and ``en``), trimmed of the silence espeak puts around it (so number clips join into one
amount), resampled to 16 kHz mono and encoded as Ogg Vorbis by ``oggenc`` (Debian package
vorbis-tools; an eighth of the WAV's size) into ``assets/sounds/<lang>/`` with its
``manifest.json``. The output depends only on the texts and the tools' versions (each stream's
serial number is fixed from its clip id), so running it again changes nothing. Recorded clips replace these by the same manifest (docs/voice.md).
"""

from __future__ import annotations

import array
import json
import zlib
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

from kiosk.cli.config_args import OneLineParser
from kiosk.voice.manifest import MANIFEST, SOUNDS_DIR
from kiosk.voice.prompts import LANGS, all_clips

RATE = 16_000
#: espeak-ng voice and words per minute: slower than its 175 for listeners with weak hearing
VOICES = {"zh_CN": ("cmn", "210"), "en": ("en", "145")}
#: Vorbis quality (oggenc -q): speech at 16 kHz stays clear
QUALITY = "2"
#: below this a sample counts as silence; this much of it is kept at each end
SILENCE, MARGIN_S = 400, 0.03


def file_name(clip_id: str) -> str:
    return clip_id.replace(".", "_") + ".ogg"


def speak(text: str, lang: str, espeak: str) -> tuple[array.array, int]:
    voice, speed = VOICES[lang]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "clip.wav"
        subprocess.run([espeak, "-v", voice, "-s", speed, "-w", str(out), text], check=True,
                       capture_output=True, timeout=60)
        with wave.open(str(out)) as w:
            if w.getnchannels() != 1 or w.getsampwidth() != 2:
                raise RuntimeError(f"espeak-ng wrote {w.getnchannels()} channels of "
                                   f"{w.getsampwidth() * 8} bits; expected 16-bit mono")
            samples = array.array("h", w.readframes(w.getnframes()))
            return samples, w.getframerate()


def trim(samples: array.array, rate: int) -> array.array:
    loud = [i for i, v in enumerate(samples) if abs(v) > SILENCE]
    if not loud:
        return samples
    keep = int(MARGIN_S * rate)
    return samples[max(0, loud[0] - keep):loud[-1] + keep + 1]


def resample(samples: array.array, rate: int, to: int = RATE) -> array.array:
    """Linear interpolation in integer arithmetic (espeak-ng writes 22 050 Hz)."""
    if rate == to or not samples:
        return samples
    n = len(samples) * to // rate
    out = array.array("h", bytes(2 * n))
    last = len(samples) - 1
    for i in range(n):
        pos_num = i * rate  # source position = pos_num / to
        j, frac = divmod(pos_num, to)
        a = samples[min(j, last)]
        b = samples[min(j + 1, last)]
        out[i] = a + (b - a) * frac // to
    return out


def write_wav(path: Path, samples: array.array, rate: int = RATE) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())


def encode(wav: Path, out: Path, clip_id: str, oggenc: str) -> None:
    serial = str(zlib.crc32(clip_id.encode()) & 0x7FFFFFFF)
    subprocess.run([oggenc, "-Q", "-q", QUALITY, "-s", serial, "-o", str(out), str(wav)],
                   check=True, capture_output=True, timeout=60)


def build(lang: str, out_dir: Path, espeak: str, oggenc: str) -> int:
    folder = out_dir / lang
    folder.mkdir(parents=True, exist_ok=True)
    clips = all_clips(lang)
    manifest = {"language": lang, "made_by": "python -m kiosk.voice.build (espeak-ng)",
                "clips": {}}
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "clip.wav"
        for clip_id in sorted(clips):
            text = clips[clip_id]
            samples, rate = speak(text, lang, espeak)
            write_wav(wav, resample(trim(samples, rate), rate))
            encode(wav, folder / file_name(clip_id), clip_id, oggenc)
            manifest["clips"][clip_id] = {"text": text, "file": file_name(clip_id)}
    for old in list(folder.glob("*.ogg")) + list(folder.glob("*.wav")):
        if old.name not in {file_name(c) for c in clips}:
            old.unlink()
    (folder / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n",
                                   "utf-8")
    return len(clips)


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(prog="python -m kiosk.voice.build", description=__doc__.split("\n")[0])
    p.add_argument("--lang", choices=LANGS, action="append",
                   help="build only this language (repeatable; default: all)")
    p.add_argument("--out", metavar="DIR", type=Path, default=SOUNDS_DIR,
                   help="where the <lang>/ folders go (default: assets/sounds)")
    args = p.parse_args(argv)
    tools = {name: shutil.which(name) for name in ("espeak-ng", "oggenc")}
    absent = [name for name, path in tools.items() if path is None]
    if absent:
        print(f"python -m kiosk.voice.build: {', '.join(absent)} not installed "
              "(apt-get install espeak-ng vorbis-tools)", file=sys.stderr)
        return 2
    for lang in args.lang or LANGS:
        n = build(lang, args.out, tools["espeak-ng"], tools["oggenc"])
        print(f"{lang}: {n} clips in {args.out / lang}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
