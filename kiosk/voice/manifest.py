"""The clip manifest of one language: ``assets/sounds/<lang>/manifest.json``.

``{"language": "zh_CN", "clips": {"<clip id>": {"text": "…", "file": "<name>.wav"}}}``: the
text is what the clip says (and the help overlay shows for ``screen.*`` clips), the file is
beside the manifest. A utility's own recordings are a drop-in replacement: the same ids, any
file names, WAV or OGG (docs/voice.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOUNDS_DIR = ROOT / "assets" / "sounds"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Clip:
    id: str
    text: str
    path: Path


@dataclass(frozen=True)
class Manifest:
    lang: str
    clips: dict[str, Clip]

    def text(self, clip_id: str) -> str:
        clip = self.clips.get(clip_id)
        return clip.text if clip is not None else ""

    def paths(self, clip_ids: tuple[str, ...]) -> list[Path]:
        return [self.clips[c].path for c in clip_ids if c in self.clips]


def load(lang: str, sounds_dir: Path = SOUNDS_DIR) -> Manifest:
    """The manifest of ``lang`` (an empty one, when there is none: the voice then only logs)."""
    folder = sounds_dir / lang
    try:
        raw = json.loads((folder / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return Manifest(lang, {})
    clips = {cid: Clip(cid, str(entry.get("text", "")), folder / str(entry["file"]))
             for cid, entry in raw.get("clips", {}).items() if entry.get("file")}
    return Manifest(lang, clips)


def missing(lang: str, wanted: dict[str, str], sounds_dir: Path = SOUNDS_DIR) -> list[str]:
    """The clip ids of ``wanted`` with no entry or no file in the manifest of ``lang``."""
    m = load(lang, sounds_dir)
    return sorted(cid for cid in wanted
                  if cid not in m.clips or not m.clips[cid].path.is_file()
                  or m.clips[cid].path.stat().st_size == 0)
