"""Training for real on a few GTZAN clips: progress, evaluation, cancel and early stopping."""

from pathlib import Path

import numpy as np
import pytest

from musicspeech.core.audio import load_audio
from musicspeech.core.datasets import from_folder
from musicspeech.core.errors import Cancelled
from musicspeech.core.recipes import TrainSettings
from musicspeech.core.training import TrainingListener, evaluate_bundle, train


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
    """The validation pass after each epoch (monitoring: window loss and accuracy, clip accuracy): for the kept
    weights, the figures Keras computes itself on the held-out windows. The evaluation after training (the app's
    analyser, on the flatbuffer) sees the same windows: its window accuracy is the kept epoch's, to a window."""
    from musicspeech.core.datasets import Clip
    from musicspeech.core.features import frame_features
    from musicspeech.core.training import frame_windows

    result, _ = trained
    history, ev, bundle = result.history, result.evaluation, result.bundle
    assert len(history["val_clip_accuracy"]) == len(history["val_loss"]) == result.epochs_run == 4
    assert all(0.0 <= a <= 1.0 for a in history["val_clip_accuracy"])
    best = int(np.argmin(history["val_loss"]))
    assert history["val_accuracy"][best] == pytest.approx(ev.window_accuracy, abs=1.01 / (6 * 59))
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
    # cancelled: the model of the best epoch is kept, not evaluated (the evaluation would outlast the cancel)
    assert result.evaluation is None and result.bundle.info["metrics"] == {} and "evaluating" not in rec.stages
    assert result.bundle.info["training"]["cancelled"] is True


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


def silent_wav(path: Path, seconds: float = 5.0, rate_hz: int = 22050) -> Path:
    """A file of digital silence (generated, not a recording)."""
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(int(seconds * rate_hz), dtype=np.float32), rate_hz, subtype="PCM_16")
    return path


def test_the_evaluation_is_the_apps_verdicts_with_silence_as_a_column(trained, tmp_path):
    """The training's evaluation is what the app calls each held-out clip (the analyser on the saved network,
    with the verdict policy): a held-out silent clip is counted as called silence, and listed as wrong. Clips
    held in memory (tensorflow-datasets) go through the same analyser."""
    from musicspeech.core.datasets import Clip
    from musicspeech.core.inference import Classifier

    result, path = trained
    ev = result.evaluation
    assert ev.called == ("music", "speech", "silence") and ev.labels == ("music", "speech")
    assert [len(row) for row in ev.confusion] == [3, 3] and [len(row) for row in ev.window_confusion] == [2, 2]
    assert result.bundle.info["metrics"]["called"] == ["music", "speech", "silence"]
    assert result.bundle.info["metrics"]["confusion"] == ev.confusion
    assert sorted(o.name for o in ev.clips) == result.bundle.info["data"]["val_clips"]
    saved = Classifier.from_path(path)  # the file saved from this bundle calls each clip the same
    assert [o.predicted for o in ev.clips] == [saved.classify_path(o.source).label for o in ev.clips]

    held_out = [Clip(o.name, o.true_label, Path(o.source)) for o in ev.clips]
    silent = Clip("speech/silence.wav", "speech", silent_wav(tmp_path / "speech" / "silence.wav"))
    first = held_out[0]
    in_memory = Clip("in-memory", first.label, samples=load_audio(first.path, 16000).samples, rate_hz=16000)
    stages = Recorder()
    again = evaluate_bundle(result.bundle, [*held_out, silent, in_memory], stages)
    by_name = {o.name: o for o in again.clips}
    assert by_name["speech/silence.wav"].predicted == "silence" and by_name["speech/silence.wav"].confidence == 1.0
    assert "speech/silence.wav" in [o.name for o in again.wrong]
    assert by_name["in-memory"].predicted == by_name[first.name].predicted
    expected = np.array(ev.confusion)
    expected[1, 2] += 1  # the silent clip: true speech, called silence
    expected[ev.labels.index(first.label), ev.called.index(by_name[first.name].predicted)] += 1
    assert again.confusion == expected.tolist()
    assert again.clip_accuracy == pytest.approx(sum(o.correct for o in again.clips) / 8)
    assert stages.stages[0] == ("evaluating", 0, 8) and stages.stages[-1] == ("evaluating", 8, 8)


def test_a_noise_clip_called_silence_is_right():
    from musicspeech.core.training import ClipOutcome

    assert ClipOutcome("noise/hum.wav", "noise", "silence", {}).correct
    assert not ClipOutcome("noise/hum.wav", "noise", "speech", {}).correct
    assert not ClipOutcome("speech/x.wav", "speech", "silence", {}).correct


@pytest.mark.slow  # a training run of its own (~4 s); quick: test_the_evaluation_stops_at_a_cancel
def test_cancel_during_the_evaluation_keeps_the_trained_model(subset_dir, tmp_path):
    """A small run of its own (6 + 4 clips, 1 epoch: ~4 s), cancelled in its "evaluating" stage."""
    dataset = from_folder(subset_dir)
    music = [c for c in dataset.clips if c.label == "music"]
    speech = [c for c in dataset.clips if c.label == "speech"]
    split = (music[:3] + speech[:3], music[3:5] + speech[3:5])
    seen = []

    class CancelWhileEvaluating(Recorder):
        def stage(self, name, done, total):
            super().stage(name, done, total)
            if name == "evaluating" and done >= 1:
                seen.append(done)

    rec = CancelWhileEvaluating()
    result = train(dataset, TrainSettings(epochs=1, patience=0), rec, cancel=lambda: bool(seen), split=split)
    assert seen and seen[-1] < 4  # cancelled after the first held-out clip, before the last
    assert result.cancelled and result.evaluation is None and result.epochs_run == 1
    assert result.bundle.info["metrics"] == {} and result.bundle.info["training"]["cancelled"] is True
    saved = result.bundle.save(tmp_path / "kept.msmodel")  # the trained model is kept, and it works
    from musicspeech.core.inference import Classifier

    assert Classifier.from_path(saved).classify_path(music[0].path).label in ("music", "speech")


def test_the_evaluation_stops_at_a_cancel(trained):
    from musicspeech.core.datasets import Clip

    result, _ = trained
    clips = [Clip(o.name, o.true_label, Path(o.source)) for o in result.evaluation.clips]
    seen = Recorder()
    with pytest.raises(Cancelled):
        evaluate_bundle(result.bundle, clips, seen, cancel=lambda: any(d >= 1 for _, d, _ in seen.stages))
    assert seen.stages[-1][1] < len(clips)
