"""The training feature cache: a second run takes the very same features from disk; anything that changes them
(a file's content, the features, the augmentation, the split) finds no entry; a damaged entry is a miss."""

import dataclasses
import shutil

import numpy as np
import pytest
import soundfile as sf

from musicspeech.core import feature_cache
from musicspeech.core.augment import AugmentSettings
from musicspeech.core.datasets import from_folder, split_train_val
from musicspeech.core.feature_cache import FeatureCache
from musicspeech.core.features import FeatureSpec
from musicspeech.core.recipes import TrainSettings
from musicspeech.core.training import TrainingListener, clip_features, train

from .conftest import link_subset

SETTINGS = TrainSettings(features=FeatureSpec(window_norm=True), augment=AugmentSettings(copies=1), seed=3)


class Stages(TrainingListener):
    def __init__(self):
        self.names = set()

    def stage(self, name, done, total):
        self.names.add(name)


@pytest.fixture
def data(tmp_path, gtzan_dir):
    """Real copies (not links) of 3 + 3 GTZAN clips in a temporary folder, so that one can be changed."""
    links = link_subset(tmp_path / "links", ["blues", "jazz", "rock"], ["acomic", "allison", "amal"])
    root = tmp_path / "data"
    shutil.copytree(links, root, symlinks=False)
    return from_folder(root)


def features_of(dataset, settings, cache, val_fraction=1 / 3):
    listener = Stages()
    train_clips, val_clips = split_train_val(dataset.clips, val_fraction, settings.seed)
    return clip_features(train_clips, val_clips, settings, listener, cache=cache), listener.names


def assert_same(a, b):
    assert a.summary == b.summary
    assert [c.name for c, _ in a.train] == [c.name for c, _ in b.train]
    assert [c.name for c, _ in a.val] == [c.name for c, _ in b.val]
    for (_, x), (_, y) in zip(a.train + a.val, b.train + b.val, strict=True):
        np.testing.assert_array_equal(x, y)


def test_a_second_run_reads_the_same_features_from_the_cache(data, tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    first, stages = features_of(data, SETTINGS, cache)
    assert "loading" in stages and len(list(cache.folder.glob("*.npz"))) == 1
    second, stages = features_of(data, SETTINGS, cache)
    assert "loading" not in stages  # nothing decoded
    assert_same(first, second)
    assert len(first.train) == 2 * len(first.val) * 2  # 4 training clips and their augmented copies, 2 held out
    uncached, _ = features_of(data, SETTINGS, None)
    assert_same(first, uncached)


@pytest.mark.parametrize(
    "change",
    ["file content", "features", "augmentation", "seed", "split"],
)
def test_anything_that_changes_the_features_misses_the_cache(data, tmp_path, change):
    cache = FeatureCache(tmp_path / "cache")
    before, _ = features_of(data, SETTINGS, cache)
    settings, val_fraction = SETTINGS, 1 / 3
    if change == "file content":
        path = data.clips[0].path
        x, rate = sf.read(path, dtype="float32")
        sf.write(path, x * 0.5, rate, subtype="PCM_16")
    elif change == "features":
        settings = dataclasses.replace(SETTINGS, features=FeatureSpec(window_norm=True, n_mels=40))
    elif change == "augmentation":
        settings = dataclasses.replace(SETTINGS, augment=AugmentSettings(copies=1, gain_db=(0.0, 0.0)))
    elif change == "seed":
        settings = dataclasses.replace(SETTINGS, seed=4)
    elif change == "split":
        val_fraction = 1 / 2
    after, stages = features_of(data, settings, cache, val_fraction)
    assert "loading" in stages
    assert len(list(cache.folder.glob("*.npz"))) == 2
    with pytest.raises(AssertionError):
        assert_same(before, after)


def test_a_damaged_entry_is_a_miss_and_is_replaced(data, tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    first, _ = features_of(data, SETTINGS, cache)
    (entry,) = cache.folder.glob("*.npz")
    entry.write_bytes(entry.read_bytes()[:5000])
    again, stages = features_of(data, SETTINGS, cache)
    assert "loading" in stages
    assert_same(first, again)
    assert features_of(data, SETTINGS, cache)[1] == {"features"}  # the rewritten entry is good


def test_old_entries_are_dropped_and_the_folder_can_go(data, tmp_path, monkeypatch):
    monkeypatch.setattr(feature_cache, "MAX_ENTRIES", 2)
    cache = FeatureCache(tmp_path / "cache")
    for seed in (1, 2, 3):
        features_of(data, dataclasses.replace(SETTINGS, seed=seed), cache)
    assert len(list(cache.folder.glob("*.npz"))) == 2
    shutil.rmtree(cache.folder)
    assert "loading" in features_of(data, SETTINGS, cache)[1]


@pytest.mark.slow  # two training runs (~8 s); quick: test_a_second_run_reads_the_same_features_from_the_cache
def test_training_uses_the_cache(data, tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    settings = dataclasses.replace(SETTINGS, epochs=1, patience=0, val_fraction=1 / 3)
    first = Stages()
    a = train(data, settings, first, cache=cache)
    second = Stages()
    b = train(data, settings, second, cache=cache)
    assert "loading" in first.names and "loading" not in second.names
    assert a.summary == b.summary
    assert a.bundle.info["data"]["train_windows"] == b.bundle.info["data"]["train_windows"] > 0
    assert [c.name for c in a.evaluation.clips] == [c.name for c in b.evaluation.clips]


# a training run (~4 s); quick: test_saving.py::test_a_full_or_read_only_feature_cache_only_makes_training_slower
@pytest.mark.slow
def test_a_cache_folder_that_cannot_be_written_does_not_stop_training(data, tmp_path, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder's parent should be")  # mkdir fails, even for root
    cache = FeatureCache(blocker / "cache")
    settings = dataclasses.replace(SETTINGS, epochs=1, patience=0, val_fraction=1 / 3)
    result = train(data, settings, Stages(), cache=cache)
    assert result.epochs_run == 1 and result.evaluation is not None
    assert any("not kept in the cache" in r.getMessage() for r in caplog.records)
    assert blocker.read_text().startswith("a file")
