"""Training for real on a few GTZAN clips: progress, evaluation, cancel and early stopping."""

from pathlib import Path

import numpy as np
import pytest

from musicspeech.core.audio import load_audio
from musicspeech.core.datasets import from_folder
from musicspeech.core.errors import Cancelled
from musicspeech.core.recipes import TrainSettings
from musicspeech.core.training import TrainingListener, train


class Recorder(TrainingListener):
    def __init__(self, cancel_at=None):
        self.batches, self.epochs, self.stages, self.summaries = [], [], [], []
        self.cancel_at = cancel_at  # (epoch, batch) after which cancel() turns True

    def data(self, summary):
        self.summaries.append(summary)

    def stage(self, name, done, total):
        self.stages.append((name, done, total))

    def batch(self, epoch, batch, batches, logs):
        self.batches.append((epoch, batch, batches, logs))

    def epoch(self, epoch, epochs, logs):
        self.epochs.append((epoch, logs))

    def cancel(self):
        return self.cancel_at is not None and any((e, b) >= self.cancel_at for e, b, _, _ in self.batches)


def test_a_short_real_training_run_learns(trained):
    result, _ = trained
    ev = result.evaluation
    assert ev.labels == ("music", "speech")
    assert len(ev.clips) == 6  # 3 + 3 held-out recordings
    assert ev.clip_accuracy >= 5 / 6 and ev.window_accuracy >= 0.8
    assert np.sum(ev.confusion) == 6 and np.sum(ev.window_confusion) == 6 * 59
    assert result.epochs_run == 4 and not result.cancelled
    assert len(result.history["loss"]) == 4 and result.history["val_accuracy"][-1] > 0.5
    assert [c.name for c in ev.wrong] == [c.name for c in ev.clips if c.true_label != c.predicted]


def test_each_epochs_validation_figures_are_those_of_its_weights(trained):
    """The validation pass after each epoch (window loss and accuracy, clip accuracy): for the kept weights, the
    figures Keras computes itself on the held-out windows, and the clip accuracy of the final evaluation."""
    from musicspeech.core.datasets import Clip
    from musicspeech.core.features import frame_features
    from musicspeech.core.training import frame_windows

    result, _ = trained
    history, ev, bundle = result.history, result.evaluation, result.bundle
    assert len(history["val_clip_accuracy"]) == len(history["val_loss"]) == result.epochs_run == 4
    assert all(0.0 <= a <= 1.0 for a in history["val_clip_accuracy"])
    best = int(np.argmin(history["val_loss"]))
    assert history["val_clip_accuracy"][best] == ev.clip_accuracy
    assert history["val_accuracy"][best] == pytest.approx(ev.window_accuracy, abs=1e-9)
    val = [
        (
            Clip(o.name, o.true_label, Path(o.source)),
            frame_features(load_audio(o.source, bundle.features.rate_hz).samples, bundle.features),
        )
        for o in ev.clips
    ]
    x, y, _ = frame_windows(val, bundle.labels, bundle.features)
    loss, accuracy = bundle.model.evaluate(x, y, batch_size=512, verbose=0)
    assert history["val_loss"][best] == pytest.approx(loss, rel=1e-4)
    assert history["val_accuracy"][best] == pytest.approx(accuracy, abs=1e-6)


def test_progress_reaches_the_listener_and_cancel_keeps_the_best_epoch(subset_dir):
    rec = Recorder(cancel_at=(1, 3))
    result = train(from_folder(subset_dir), TrainSettings(epochs=5, batch_size=32, seed=2), rec, cancel=rec.cancel)
    assert result.cancelled and result.epochs_run == 1
    assert [e for e, _ in rec.epochs] == [0]
    assert rec.batches[-1][:2] == (1, 3)  # stopped right after the batch that saw the cancel
    batches_per_epoch = rec.batches[0][2]
    assert [b for e, b, _, _ in rec.batches if e == 0] == list(range(batches_per_epoch))
    assert {name for name, _, _ in rec.stages} >= {"loading", "features"}
    assert rec.summaries[0].counts == {"music": 12, "speech": 12}
    assert {"val_loss", "val_accuracy", "val_clip_accuracy"} <= set(rec.epochs[0][1])
    assert len(result.evaluation.clips) == 6


def test_cancel_before_any_epoch_ends_raises(subset_dir):
    rec = Recorder(cancel_at=(0, 1))
    with pytest.raises(Cancelled):
        train(from_folder(subset_dir), TrainSettings(epochs=3), rec, cancel=rec.cancel)
    with pytest.raises(Cancelled):
        train(from_folder(subset_dir), TrainSettings(epochs=3), cancel=lambda: True)  # while loading


@pytest.mark.slow  # a training run of its own (~5 s); quick: the tests above
def test_early_stopping_ends_a_run_that_stops_improving(subset_dir):
    rec = Recorder()
    result = train(from_folder(subset_dir), TrainSettings(epochs=10, learning_rate=0.0, patience=2), rec)
    assert result.epochs_run == 3  # the first epoch is the best; two more without improvement


@pytest.mark.slow  # a training run of its own (~6 s); quick: the tests above
def test_training_on_every_clip_has_no_evaluation(subset_dir):
    result = train(from_folder(subset_dir), TrainSettings(epochs=2, val_fraction=0.0, patience=0))
    assert result.evaluation is None and result.epochs_run == 2
    assert len(result.bundle.info["data"]["train_clips"]) == 24 and result.bundle.info["data"]["val_clips"] == []
    assert "val_loss" not in result.history and len(result.history["loss"]) == 2
