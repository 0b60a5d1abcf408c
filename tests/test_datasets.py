"""Data sources (GTZAN folder and archive, the user's class folders), summaries, and grouped splits."""

import tarfile
from collections import Counter

import numpy as np
import pytest
import soundfile as sf

from musicspeech.core.datasets import (
    Clip,
    from_archive,
    from_folder,
    k_folds,
    load_clips,
    open_source,
    split_train_val,
    summarize,
)
from musicspeech.core.errors import DatasetError

from .conftest import GTZAN_MUSIC, GTZAN_SPEECH


def test_the_gtzan_folder_reads_as_64_music_and_64_speech(gtzan_dir):
    ds = from_folder(gtzan_dir)  # the folder that holds music_speech/{music,speech}_wav
    assert ds.labels == ("music", "speech")
    assert ds.counts() == {"music": 64, "speech": 64}
    assert all(c.path.parent.name == f"{c.label}_wav" for c in ds.clips)
    assert len({c.name for c in ds.clips}) == 128
    assert from_folder(gtzan_dir / "music_speech").counts() == ds.counts()


def test_the_gtzan_archive_is_imported_once(tmp_path, gtzan_dir):
    archive = tmp_path / "music_speech.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for src in [GTZAN_MUSIC / "blues.wav", GTZAN_MUSIC / "jazz.wav", GTZAN_SPEECH / "acomic.wav"]:
            tar.add(src, arcname=f"music_speech/{src.parent.name}/{src.name}")
    cache = tmp_path / "cache"
    ds = open_source(archive, cache_dir=cache)
    assert ds.counts() == {"music": 2, "speech": 1}
    assert ds.source == str(archive)
    loaded, errors = load_clips(ds.clips, 16000)
    assert not errors and all(abs(x.waveform.duration_s - 30.0) < 0.01 for x in loaded)
    again = from_archive(archive, cache_dir=cache)  # reuses the extraction
    assert [c.path for c in again.clips] == [c.path for c in ds.clips]
    assert len(list(cache.iterdir())) == 1


def test_a_damaged_archive_leaves_nothing_behind(tmp_path):
    archive = tmp_path / "music_speech.tar.gz"
    good = tmp_path / "good.tar.gz"
    with tarfile.open(good, "w:gz") as tar:
        tar.add(GTZAN_MUSIC / "blues.wav", arcname="music_speech/music_wav/blues.wav")
    archive.write_bytes(good.read_bytes()[:200_000])  # cut short
    cache = tmp_path / "cache"
    with pytest.raises(DatasetError, match="cannot extract"):
        from_archive(archive, cache_dir=cache)
    assert not any(cache.iterdir())


def write_tone(path, freq_hz, seconds=1.0, rate=22050, amplitude=0.3):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32), rate)


def test_user_class_folders_with_nested_files_and_other_formats(tmp_path):
    write_tone(tmp_path / "speech" / "a.wav", 200)
    write_tone(tmp_path / "speech" / "sub" / "b.flac", 300)
    write_tone(tmp_path / "music" / "c.ogg", 400)
    (tmp_path / "music" / "notes.txt").write_text("not audio")
    (tmp_path / "laughter").mkdir()  # a folder with no audio is not a class
    ds = from_folder(tmp_path)
    assert ds.labels == ("music", "speech")
    assert sorted(c.name for c in ds.clips) == ["music/c.ogg", "speech/a.wav", "speech/sub/b.flac"]


def test_one_class_is_not_enough(tmp_path):
    write_tone(tmp_path / "speech" / "a.wav", 200)
    with pytest.raises(DatasetError, match="at least two class folders"):
        from_folder(tmp_path)
    with pytest.raises(DatasetError, match="no such file"):
        open_source(tmp_path / "missing")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(DatasetError, match="not a folder"):
        open_source(tmp_path / "x.txt")


def test_summary_flags_silent_clipped_and_duplicate_clips(tmp_path):
    write_tone(tmp_path / "music" / "fine.wav", 440)
    write_tone(tmp_path / "music" / "copy.flac", 440)  # the same audio in another container
    write_tone(tmp_path / "music" / "hot.wav", 220, amplitude=3.0)  # float WAV beyond full scale
    write_tone(tmp_path / "speech" / "voice.wav", 150)
    sf.write(tmp_path / "speech" / "silent.wav", np.zeros(22050, np.float32), 22050)
    ds = from_folder(tmp_path)
    summary = summarize(*load_clips(ds.clips, 16000))
    assert summary.counts == {"music": 3, "speech": 2}
    assert summary.durations_s["speech"] == pytest.approx(2.0, abs=0.01)
    assert summary.silent == ("speech/silent.wav",)
    assert summary.clipped == ("music/hot.wav",)
    assert [sorted(g) for g in summary.duplicates] == [["music/copy.flac", "music/fine.wav"]]
    assert any("silent" in line for line in summary.lines())


def fake_clips(n_per_label=12, windows_groups=False):
    clips = []
    for label in ("music", "speech"):
        for i in range(n_per_label):
            group = f"{label}-rec{i // 2}" if windows_groups else ""
            clips.append(Clip(name=f"{label}/{i}.wav", label=label, group=group))
    return clips


def test_split_is_3_to_1_stratified_and_deterministic(gtzan_dir):
    clips = from_folder(gtzan_dir).clips
    train, val = split_train_val(clips, 0.25, seed=7)
    assert Counter(c.label for c in val) == {"music": 16, "speech": 16}
    assert len(train) == 96 and not {c.name for c in train} & {c.name for c in val}
    reordered = split_train_val(list(reversed(clips)), 0.25, seed=7)[1]
    assert {c.name for c in reordered} == {c.name for c in val}  # independent of the input order
    assert {c.name for c in split_train_val(clips, 0.25, seed=8)[1]} != {c.name for c in val}


def test_groups_never_straddle_a_split_or_fold():
    clips = fake_clips(12, windows_groups=True)  # two files per recording
    train, val = split_train_val(clips, 0.25, seed=1)
    assert not {c.group_key for c in train} & {c.group_key for c in val}
    folds = k_folds(clips, 3, seed=1)
    held = [c.group_key for _, v in folds for c in v]
    assert sorted(set(held)) == sorted({c.group_key for c in clips})
    assert len(held) == len(clips)  # each clip is held out exactly once
    for tr, va in folds:
        assert not {c.group_key for c in tr} & {c.group_key for c in va}


def test_five_folds_of_gtzan_are_balanced(gtzan_dir):
    folds = k_folds(from_folder(gtzan_dir).clips, 5, seed=0)
    sizes = [Counter(c.label for c in val) for _, val in folds]
    assert all(abs(s["music"] - s["speech"]) <= 1 for s in sizes)
    assert sum(sum(s.values()) for s in sizes) == 128


def test_too_few_recordings_for_the_folds():
    with pytest.raises(DatasetError, match="at least 5"):
        k_folds(fake_clips(3), 5)
