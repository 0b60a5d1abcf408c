"""The features of a training run's clips, kept on disk, so that training again on the same data (other epochs,
learning rate, batch size or network) skips decoding, augmentation and the spectrograms.

An entry holds the frame features (`core.features.frame_features`) of every training clip, its augmented copies
and every validation clip, with the data summary. Windows are cut from them as usual, so a run from the cache
trains on the very same numbers as a run without it.

The key is a SHA-256 over the content of every clip (file bytes, or the samples of clips held in memory), their
names, labels and side of the split in order, the `FeatureSpec`, the augmentation settings and the seed: a
changed file, clip, split, feature or augmentation setting finds no entry. Entries are written atomically
(`core.atomic`) into the user's cache folder; the oldest beyond `MAX_ENTRIES` are deleted; deleting the folder
at any time is safe. A damaged entry is deleted and counts as missing; a cache that cannot be written (read-only,
full disk) is logged and only makes the next run slower.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import zipfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musicspeech.core.atomic import atomic_path, remove_strays
from musicspeech.core.augment import AugmentSettings
from musicspeech.core.datasets import Clip, DataSummary
from musicspeech.core.errors import SaveError
from musicspeech.core.features import FeatureSpec

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MAX_ENTRIES = 3  # GTZAN with the shipped recipe's two augmented copies: about 240 MB an entry


@dataclass(frozen=True)
class ClipFeatures:
    """What training needs from the data: frame features per item (training items first, augmented copies
    labelled as their clip), the validation items, and the data summary."""

    summary: DataSummary
    train: tuple[tuple[Clip, np.ndarray], ...]
    val: tuple[tuple[Clip, np.ndarray], ...]
    soft: tuple[np.ndarray, ...] = ()  # a teacher's probabilities of each training item's windows (distillation)


class FeatureCache:
    """A folder of entries, one file each: `<key>.npz`."""

    def __init__(self, folder: Path | None = None):
        from musicspeech.core.paths import user_cache_dir

        self.folder = Path(folder) if folder is not None else user_cache_dir() / "features"

    def key(
        self,
        train_clips: Sequence[Clip],
        val_clips: Sequence[Clip],
        spec: FeatureSpec,
        augment: AugmentSettings,
        seed: int,
    ) -> str:
        """Everything the features depend on, hashed (the clips' content on worker threads)."""
        clips = list(train_clips) + list(val_clips)
        with ThreadPoolExecutor(max_workers=4) as pool:
            contents = list(pool.map(_content_hash, clips))
        described = {
            "version": FORMAT_VERSION,
            "train": [[c.name, c.label, h] for c, h in zip(train_clips, contents, strict=False)],
            "val": [[c.name, c.label, h] for c, h in zip(val_clips, contents[len(train_clips) :], strict=True)],
            "features": spec.to_dict(),
            "augment": augment.to_dict(),
            "seed": seed if augment.copies else None,
        }
        return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.npz"

    def load(self, key: str, clips: Sequence[Clip]) -> ClipFeatures | None:
        """The entry for `key`, with its clips looked up by name in `clips`; None when missing or damaged."""
        path = self.path(key)
        if not path.is_file():
            return None
        by_name = {c.name: c for c in clips}
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                frames = z["frames"]
                lengths = z["lengths"]
            parts = np.split(frames, np.cumsum(lengths)[:-1]) if len(lengths) else []
            names = meta["train"] + meta["val"]
            if len(parts) != len(names) or meta.get("version") != FORMAT_VERSION:
                raise ValueError("entry does not match its index")
            items = [(by_name[name], part) for name, part in zip(names, parts, strict=True)]
            summary = DataSummary(
                counts=meta["summary"]["counts"],
                durations_s=meta["summary"]["durations_s"],
                silent=tuple(meta["summary"]["silent"]),
                clipped=tuple(meta["summary"]["clipped"]),
                duplicates=tuple(tuple(d) for d in meta["summary"]["duplicates"]),
                unreadable=tuple(meta["summary"]["unreadable"]),
            )
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
            path.unlink(missing_ok=True)
            return None
        with contextlib.suppress(OSError):  # a read-only cache is still read
            path.touch()  # most recently used: kept longest
        n_train = len(meta["train"])
        return ClipFeatures(summary, tuple(items[:n_train]), tuple(items[n_train:]))

    def save(self, key: str, features: ClipFeatures) -> Path | None:
        """Write the entry atomically, then drop the oldest entries beyond `MAX_ENTRIES`. A cache that cannot be
        written (read-only, full disk) is only a slower next run: that is logged, and None returned."""
        items = list(features.train) + list(features.val)
        n_bins = items[0][1].shape[1] if items else 0
        meta = {
            "version": FORMAT_VERSION,
            "train": [c.name for c, _ in features.train],
            "val": [c.name for c, _ in features.val],
            "summary": features.summary.to_dict() | {"durations_s": features.summary.durations_s},
        }
        frames = np.concatenate([f for _, f in items]) if items else np.empty((0, n_bins), np.float32)
        lengths = np.array([len(f) for _, f in items], dtype=np.int64)
        path = self.path(key)
        try:
            remove_strays(self.folder)  # entries of runs killed while saving them (hundreds of MB each)
            with atomic_path(path) as tmp, open(tmp, "wb") as out:
                np.savez(out, frames=frames, lengths=lengths, meta=np.array(json.dumps(meta)))
            entries = sorted(self.folder.glob("*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
            for old in entries[MAX_ENTRIES:]:
                old.unlink(missing_ok=True)
        except SaveError as e:
            log.warning("training features not kept in the cache: %s", e)
            return None
        except OSError as e:
            log.warning("old training features not removed from the cache: %s", e)
        return path


def _content_hash(clip: Clip) -> str:
    digest = hashlib.sha256()
    if clip.samples is not None:
        digest.update(f"{clip.rate_hz}|{clip.samples.dtype}|{clip.samples.shape}".encode())
        digest.update(np.ascontiguousarray(clip.samples).tobytes())
    elif clip.path is not None:
        with open(clip.path, "rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()
