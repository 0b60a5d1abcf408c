"""Where labelled clips come from, and how they are split.

Sources: a class-per-folder tree (labels from folder names; GTZAN's `music_wav`/`speech_wav` read as
`music`/`speech`), the original GTZAN `music_speech.tar.gz`, or tensorflow-datasets (see `core.tfds_source`).
Splits are stratified by label, seeded, and grouped by clip: the windows cut from one recording always stay
on one side of a split or fold.
"""

from __future__ import annotations

import hashlib
import os
import random
import tarfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from musicspeech.core.atomic import atomic_dir
from musicspeech.core.audio import Waveform, load_audio, resample, to_mono_float32, write_wav
from musicspeech.core.errors import AudioError, Cancelled, DatasetError, SaveError

AUDIO_EXTENSIONS = frozenset(
    [
        ".wav",
        ".wave",
        ".flac",
        ".ogg",
        ".oga",
        ".opus",
        ".mp3",
        ".m4a",
        ".mp4",
        ".aac",
        ".wma",
        ".aif",
        ".aiff",
        ".aifc",
        ".au",
        ".snd",
        ".caf",
        ".webm",
        ".mka",
    ]
)

Progress = Callable[[int, int], None]
"""progress(done, total)"""


@dataclass(frozen=True)
class Clip:
    """One labelled recording: a file on disk, or samples already in memory (tensorflow-datasets)."""

    name: str  # unique within a data set, e.g. "music/blues.wav"
    label: str
    path: Path | None = None
    samples: np.ndarray | None = field(default=None, repr=False, compare=False)
    rate_hz: int | None = None
    group: str = ""  # clips sharing a group never straddle a split; defaults to the name

    @property
    def group_key(self) -> str:
        return self.group or self.name

    def waveform(self, rate_hz: int) -> Waveform:
        if self.samples is not None and self.rate_hz:
            return Waveform(resample(to_mono_float32(self.samples), self.rate_hz, rate_hz), rate_hz, self.name)
        if self.path is None:
            raise DatasetError(f"clip {self.name} has neither a file nor samples")
        return load_audio(self.path, rate_hz)


@dataclass(frozen=True)
class Dataset:
    clips: tuple[Clip, ...]
    source: str  # what it was read from, for people and for the model bundle

    @property
    def labels(self) -> tuple[str, ...]:
        """Sorted label names: the model's class order (never retyped anywhere else)."""
        return tuple(sorted({c.label for c in self.clips}))

    def counts(self) -> dict[str, int]:
        counts = Counter(c.label for c in self.clips)
        return {label: counts[label] for label in self.labels}


# Sources -------------------------------------------------------------------------------------------------


def open_source(source: str | os.PathLike, cache_dir: Path | None = None) -> Dataset:
    """A folder tree or an archive on disk (use `musicspeech.core.tfds_source` for tensorflow-datasets)."""
    path = Path(source)
    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder")
    if path.is_dir():
        return from_folder(path)
    if tarfile.is_tarfile(path):
        return from_archive(path, cache_dir)
    raise DatasetError(f"{path}: not a folder of class folders nor a .tar.gz archive")


def from_folder(root: str | os.PathLike) -> Dataset:
    """A class-per-folder tree: `root/<label>/**/audio files`. GTZAN's layout (`music_speech/music_wav/...`)
    and a folder that holds only that tree are recognised too."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder")
    class_dirs = _class_dirs(root)
    clips = []
    for class_dir in class_dirs:
        label = _label_from_folder(class_dir.name)
        for path in audio_files_in(class_dir):
            clips.append(Clip(name=f"{label}/{path.relative_to(class_dir).as_posix()}", label=label, path=path))
    labels = {c.label for c in clips}
    if len(labels) < 2:
        found = ", ".join(sorted(labels)) or "none"
        raise DatasetError(
            f"{root}: need audio files in at least two class folders (e.g. music/ and speech/); found: {found}"
        )
    return Dataset(tuple(clips), source=str(root))


def from_archive(archive: str | os.PathLike, cache_dir: Path | None = None) -> Dataset:
    """The original `music_speech.tar.gz` (or any .tar/.tar.gz of a class-per-folder tree), extracted once
    into the cache and read from there."""
    from musicspeech.core.paths import user_cache_dir

    archive = Path(archive)
    stat = archive.stat()
    key = hashlib.sha256(f"{archive.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    target = (cache_dir or user_cache_dir() / "imports") / f"{archive.name.split('.')[0]}-{key}"
    if not target.is_dir():
        try:  # whole or not at all: a cancelled, failed or killed import leaves no half tree (`core.atomic`)
            with atomic_dir(target) as staging, tarfile.open(archive) as tar:
                members = [m for m in tar.getmembers() if m.isdir() or m.isfile()]
                tar.extractall(staging, members=members, filter="data")
        except SaveError as e:
            raise DatasetError(f"cannot extract {archive} into {target.parent}: {e.problem}") from None
        except (tarfile.TarError, OSError, EOFError) as e:
            raise DatasetError(f"{archive}: cannot extract the archive ({e})") from None
    return Dataset(from_folder(target).clips, source=str(archive))


def _class_dirs(root: Path) -> list[Path]:
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    with_audio = [d for d in subdirs if _has_audio(d)]
    if len(with_audio) == 1:  # a wrapper folder, like the archive's top `music_speech/`
        inner = sorted(p for p in with_audio[0].iterdir() if p.is_dir() and _has_audio(p))
        if len(inner) >= 2:
            return inner
    return with_audio


def _has_audio(folder: Path) -> bool:
    return any(True for _ in _walk_audio(folder))


def _label_from_folder(name: str) -> str:
    return name[: -len("_wav")] if name.lower().endswith("_wav") else name


def add_to_class_folder(root: str | os.PathLike, label: str, waveform: Waveform, prefix: str = "live") -> Path:
    """Save a clip into a class-per-folder tree, as `root/label/prefix-YYYYmmdd-HHMMSS.wav` (a new name each
    time), atomically. Returns the file written."""
    folder = Path(root) / label
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target, n = folder / f"{prefix}-{stamp}.wav", 1
    while target.exists():
        n += 1
        target = folder / f"{prefix}-{stamp}-{n}.wav"
    return write_wav(target, waveform)


def expand_paths(paths: Sequence[str | os.PathLike]) -> list[Path]:
    """Files as given, and the audio files inside folders (recursively, sorted). Unknown paths are kept so
    that they get their own error line."""
    out: list[Path] = []
    for p in map(Path, paths):
        if _is_dir(p):
            out.extend(audio_files_in(p))
        else:
            out.append(p)
    return out


def audio_files_in(folder: str | os.PathLike) -> list[Path]:
    """The audio files inside `folder` and its subfolders, sorted; hidden folders and files (`.src/`, `.git/`,
    macOS's `._name.wav`) are skipped: caches and copies that are not the user's recordings."""
    return sorted(_walk_audio(Path(folder)))


def _walk_audio(folder: Path) -> Iterator[Path]:
    for top, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS:
                path = Path(top, name)
                if path.is_file():  # not a broken link
                    yield path


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # a name too long for the file system, ...: not a folder; reading it will say what is wrong
        return False


# Loading and summary -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedClip:
    clip: Clip
    waveform: Waveform


def load_clips(
    clips: Sequence[Clip],
    rate_hz: int,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
    workers: int = 4,
) -> tuple[list[LoadedClip], list[str]]:
    """Decode clips in parallel. Returns the loaded clips (input order) and one error line per failure."""
    loaded: list[LoadedClip | None] = [None] * len(clips)
    errors: list[str] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(c.waveform, rate_hz): i for i, c in enumerate(clips)}
        for done, future in enumerate(as_completed(futures), start=1):
            if cancel and cancel():
                for f in futures:
                    f.cancel()
                raise Cancelled("loading cancelled")
            i = futures[future]
            try:
                loaded[i] = LoadedClip(clips[i], future.result())
            except AudioError as e:
                errors.append(str(e))
            if progress:
                progress(done, len(clips))
    return [x for x in loaded if x is not None], errors


@dataclass(frozen=True)
class DataSummary:
    """Per-class counts and durations, and clips worth a look before training."""

    counts: dict[str, int]
    durations_s: dict[str, float]
    silent: tuple[str, ...]
    clipped: tuple[str, ...]
    duplicates: tuple[tuple[str, ...], ...]
    unreadable: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {
            "counts": self.counts,
            "durations_s": {k: round(v, 2) for k, v in self.durations_s.items()},
            "silent": list(self.silent),
            "clipped": list(self.clipped),
            "duplicates": [list(d) for d in self.duplicates],
            "unreadable": list(self.unreadable),
        }

    def lines(self) -> list[str]:
        out = [f"{label}: {self.counts[label]} clips, {self.durations_s[label] / 60:.1f} min" for label in self.counts]
        if self.silent:
            out.append(f"silent (below -60 dBFS): {', '.join(self.silent)}")
        if self.clipped:
            out.append(f"clipped (>0.1% samples at full scale): {', '.join(self.clipped)}")
        for group in self.duplicates:
            out.append(f"identical audio: {', '.join(group)}")
        for line in self.unreadable:
            out.append(f"unreadable: {line}")
        return out


SILENT_DBFS = -60.0
CLIPPED_FRACTION = 0.001


def summarize(loaded: Sequence[LoadedClip], unreadable: Sequence[str] = ()) -> DataSummary:
    counts: dict[str, int] = defaultdict(int)
    durations: dict[str, float] = defaultdict(float)
    silent, clipped = [], []
    for item in loaded:
        x = item.waveform.samples
        counts[item.clip.label] += 1
        durations[item.clip.label] += item.waveform.duration_s
        rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0
        if 20 * np.log10(max(rms, 1e-12)) < SILENT_DBFS:
            silent.append(item.clip.name)
        if len(x) and np.count_nonzero(np.abs(x) >= 0.999) > CLIPPED_FRACTION * len(x):
            clipped.append(item.clip.name)
    labels = sorted(counts)
    return DataSummary(
        counts={k: counts[k] for k in labels},
        durations_s={k: durations[k] for k in labels},
        silent=tuple(silent),
        clipped=tuple(clipped),
        duplicates=_duplicates(loaded),
        unreadable=tuple(unreadable),
    )


def _duplicates(loaded: Sequence[LoadedClip]) -> tuple[tuple[str, ...], ...]:
    """Groups of clips with the same audio, even in other containers or bit depths.

    Candidates share a duration and a coarse loudness contour (64 block RMS values within 0.5 dB);
    a candidate pair is confirmed by a sample correlation above 0.99.
    """
    prints = []
    for item in loaded:
        x = item.waveform.samples
        blocks = np.array_split(x, 64) if len(x) >= 64 else [x]
        rms = np.array([np.sqrt(np.mean(np.square(b, dtype=np.float64))) if len(b) else 0.0 for b in blocks])
        prints.append((round(item.waveform.duration_s, 1), 20 * np.log10(rms + 1e-9)))
    parent = list(range(len(loaded)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(len(loaded)):
        for j in range(i + 1, len(loaded)):
            (di, pi), (dj, pj) = prints[i], prints[j]
            if di != dj or len(pi) != len(pj) or np.max(np.abs(pi - pj)) > 0.5:
                continue
            a, b = loaded[i].waveform.samples, loaded[j].waveform.samples
            n = min(len(a), len(b))
            if np.std(a[:n]) > 0 and np.std(b[:n]) > 0 and np.corrcoef(a[:n], b[:n])[0, 1] > 0.99:
                parent[root(j)] = root(i)
    groups: dict[int, list[str]] = defaultdict(list)
    for i, item in enumerate(loaded):
        groups[root(i)].append(item.clip.name)
    return tuple(tuple(names) for names in groups.values() if len(names) > 1)


# Splits --------------------------------------------------------------------------------------------------


def split_train_val(clips: Sequence[Clip], val_fraction: float = 0.25, seed: int = 0) -> tuple[list[Clip], list[Clip]]:
    """Stratified, seeded, grouped split (3:1 by default, as the seed recipe)."""
    if not 0 < val_fraction < 1:
        raise ValueError("val_fraction must be between 0 and 1")
    folds = _stratified_group_folds(clips, round(1 / val_fraction), seed)
    val = set(folds[0])
    return [c for c in clips if c.group_key not in val], [c for c in clips if c.group_key in val]


def k_folds(clips: Sequence[Clip], k: int = 5, seed: int = 0) -> list[tuple[list[Clip], list[Clip]]]:
    """k (train, validation) pairs; each group is in exactly one validation fold."""
    if k < 2:
        raise ValueError("k must be at least 2")
    folds = _stratified_group_folds(clips, k, seed)
    out = []
    for fold in folds:
        held = set(fold)
        out.append(([c for c in clips if c.group_key not in held], [c for c in clips if c.group_key in held]))
    return out


def _stratified_group_folds(clips: Sequence[Clip], k: int, seed: int) -> list[list[str]]:
    """Deal each label's groups round-robin into k folds after a seeded shuffle.

    A group's label is its clips' majority label; groups are dealt largest label first so the folds stay
    balanced. Sorting before shuffling makes the result independent of the input order.
    """
    groups: dict[str, list[Clip]] = defaultdict(list)
    for c in clips:
        groups[c.group_key].append(c)
    by_label: dict[str, list[str]] = defaultdict(list)
    for key, members in groups.items():
        label = Counter(m.label for m in members).most_common(1)[0][0]
        by_label[label].append(key)
    for label, keys in by_label.items():
        if len(keys) < k:
            raise DatasetError(f"class '{label}' has {len(keys)} recordings: at least {k} are needed for {k} folds")
    rng = random.Random(seed)
    folds: list[list[str]] = [[] for _ in range(k)]
    offset = 0
    for label in sorted(by_label):
        keys = sorted(by_label[label])
        rng.shuffle(keys)
        for i, key in enumerate(keys):
            folds[(i + offset) % k].append(key)
        offset += len(keys)
    return folds


# A first look -------------------------------------------------------------------------------------------


def quick_summary(dataset: Dataset, cancel: Callable[[], bool] | None = None) -> list[str]:
    """What a data set holds, from the files' headers only (no decoding: seconds for thousands of files), for a
    first look as soon as the data is chosen: clips and minutes per class. Training decodes every clip and
    gives the full `DataSummary` (silent, clipped, identical and unreadable clips)."""
    import soundfile as sf

    counts = dataset.counts()
    minutes: dict[str, float] = dict.fromkeys(counts, 0.0)
    unknown: dict[str, int] = dict.fromkeys(counts, 0)
    for clip in dataset.clips:
        if cancel and cancel():
            raise Cancelled("summary cancelled")
        if clip.samples is not None and clip.rate_hz:
            minutes[clip.label] += len(clip.samples) / clip.rate_hz / 60
            continue
        try:
            minutes[clip.label] += sf.info(os.fsencode(clip.path)).duration / 60
        except Exception:  # noqa: BLE001 (any reader error: its length is read when training decodes it)
            unknown[clip.label] += 1
    lines = []
    for label, n in counts.items():
        line = f"{label}: {n} clips, {minutes[label]:.1f} min"
        if unknown[label]:
            line += f" (and {unknown[label]} of unknown length until read)"
        lines.append(line)
    return lines
