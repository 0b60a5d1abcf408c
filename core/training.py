"""Training: clips -> feature windows -> the CNN, with progress through plain callbacks and a cancel check.

The split is by clip (`musicspeech.core.datasets`), so validation windows come from recordings the network never saw.
Two kinds of figures come from the held-out clips:

- **Monitoring, per epoch** (`_Validation`): one Keras pass over the held-out windows after each epoch gives
  val_loss, val_accuracy (windows) and val_clip_accuracy (each clip called by the argmax of the mean of its
  window probabilities). Fast; it draws the live chart, picks the best weights and stops early. It is not what
  the app says about a clip (no silence gate, no smoothing).
- **The evaluation, once, after training** (`TrainResult.evaluation`, the bundle's `info["metrics"]`): the
  network that will be saved (its TensorFlow Lite flatbuffer) run on the held-out clips by the app's own
  analyser (`core.inference.Classifier.classify_clips`: the file pipeline and the verdict policy), so each clip
  is called what the app calls it: music, speech or silence (`evaluate_predictions`). Clip accuracy, window
  accuracy, confusion matrices (columns: the verdict labels) and the clips it got wrong.

Importing this module does not load TensorFlow (`train` does): the app's process unpickles the results of a run
made in the training process (`musicspeech.core.training_process`) with these classes, and never loads TensorFlow.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from musicspeech.core.audio import Waveform
from musicspeech.core.augment import AugmentSettings, Beds, augment
from musicspeech.core.datasets import Clip, Dataset, DataSummary, LoadedClip, load_clips, split_train_val, summarize
from musicspeech.core.errors import Cancelled, DatasetError
from musicspeech.core.feature_cache import ClipFeatures, FeatureCache
from musicspeech.core.features import YAMNET_EMBEDDING_SIZE, FeatureSpec, frame_features, windows
from musicspeech.core.recipes import TrainSettings
from musicspeech.core.verdict import NOISE, SILENCE, verdict_labels

if TYPE_CHECKING:
    from musicspeech.core.analysis import Prediction
    from musicspeech.core.bundle import TrainedBundle
    from musicspeech.core.model import ModelBundle

CancelCheck = Callable[[], bool]


class TrainingListener:
    """Receives progress. Every method is optional to override; all are called on the training thread."""

    def stage(self, name: str, done: int, total: int) -> None:
        """A stage outside the epochs advanced: "loading", "features" (or "embeddings") before training, and
        "evaluating" (held-out clips through the app's analyser) after it."""

    def data(self, summary: DataSummary) -> None:
        """The data were read: counts, durations and clips worth a look (silent, clipped, duplicates)."""

    def batch(self, epoch: int, batch: int, batches: int, logs: dict[str, float]) -> None:
        """A training batch ended (epoch and batch count from 0)."""

    def epoch(self, epoch: int, epochs: int, logs: dict[str, float]) -> None:
        """An epoch ended; `logs` has loss and accuracy, and with validation clips the monitoring figures
        val_loss, val_accuracy (windows) and val_clip_accuracy (clips, each called by the argmax of the mean of
        its window probabilities: no silence gate, no smoothing; the evaluation after training is the app's)."""


@dataclass(frozen=True)
class ClipOutcome:
    name: str
    true_label: str
    predicted: str  # what the clip was called: a model label, or silence (`evaluate_predictions`)
    probabilities: dict[str, float]  # the model's, over its labels
    source: str = ""  # file path when there is one
    confidence: float = math.nan  # of the call (for silence: the clip's silent share)

    @property
    def correct(self) -> bool:
        """Called what it is; a clip of a `noise` class (neither music nor speech) is rightly called silence."""
        return self.predicted == self.true_label or (self.true_label == NOISE and self.predicted == SILENCE)


@dataclass(frozen=True)
class Evaluation:
    labels: tuple[str, ...]  # the model's: the rows of `confusion`, rows and columns of `window_confusion`
    called: tuple[str, ...]  # the columns of `confusion`: what a clip can be called
    clip_accuracy: float
    window_accuracy: float
    confusion: list[list[int]]  # clips; rows: true label (`labels`), columns: what it was called (`called`)
    window_confusion: list[list[int]]  # windows; rows: true label, columns: the network's argmax (`labels`)
    clips: tuple[ClipOutcome, ...]

    @property
    def wrong(self) -> list[ClipOutcome]:
        return [c for c in self.clips if not c.correct]

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": list(self.labels),
            "called": list(self.called),
            "clip_accuracy": self.clip_accuracy,
            "window_accuracy": self.window_accuracy,
            "confusion": self.confusion,
            "window_confusion": self.window_confusion,
            "clips": len(self.clips),
            "wrong": [asdict(c) for c in self.wrong],
        }


def evaluate_windows(labels: Sequence[str], outcomes: Sequence[tuple[Clip, np.ndarray]]) -> Evaluation:
    """Evaluation from each clip's window probabilities (n_windows, n_classes), each clip called by the argmax of
    their mean (no silence gate, no smoothing: the per-epoch monitoring's rule); the columns are the model's
    labels. What the app says about a clip is `evaluate_predictions`."""
    index = {label: i for i, label in enumerate(labels)}
    n = len(labels)
    confusion = np.zeros((n, n), dtype=int)
    window_confusion = np.zeros((n, n), dtype=int)
    clips = []
    for clip, probs in outcomes:
        truth = index[clip.label]
        mean = probs.mean(axis=0)
        predicted = int(np.argmax(mean))
        confusion[truth, predicted] += 1
        np.add.at(window_confusion[truth], np.argmax(probs, axis=1), 1)
        clips.append(
            ClipOutcome(
                clip.name,
                clip.label,
                labels[predicted],
                {label: round(float(p), 4) for label, p in zip(labels, mean, strict=True)},
                str(clip.path or ""),
                round(float(mean[predicted]), 4),
            )
        )
    return _evaluation(tuple(labels), tuple(labels), confusion, window_confusion, clips)


def evaluate_predictions(labels: Sequence[str], outcomes: Sequence[tuple[Clip, Prediction]]) -> Evaluation:
    """Evaluation from the app's verdicts (`core.inference.Classifier.classify_clips`): each clip is called
    what the app calls it (`Prediction.label`: a model label or silence). The confusion matrix's columns are the
    verdict labels (`core.verdict.verdict_labels`: the model's, `noise` folded into silence, and silence), so it
    is not square when silence is a column; a clip of a `noise` class called silence is right. The window
    accuracy and window confusion are the network's own (the argmax of each window's probabilities)."""
    labels = tuple(labels)
    called = verdict_labels(labels)
    index, column = {label: i for i, label in enumerate(labels)}, {label: j for j, label in enumerate(called)}
    confusion = np.zeros((len(labels), len(called)), dtype=int)
    window_confusion = np.zeros((len(labels), len(labels)), dtype=int)
    clips = []
    for clip, prediction in outcomes:
        truth = index[clip.label]
        confusion[truth, column[prediction.label]] += 1
        if len(prediction.window_probabilities):
            np.add.at(window_confusion[truth], np.argmax(prediction.window_probabilities, axis=1), 1)
        clips.append(
            ClipOutcome(
                clip.name,
                clip.label,
                prediction.label,
                {label: round(p, 4) for label, p in prediction.probability_dict().items()},
                str(clip.path or ""),
                round(float(prediction.confidence), 4),
            )
        )
    return _evaluation(labels, called, confusion, window_confusion, clips)


def _evaluation(
    labels: tuple[str, ...],
    called: tuple[str, ...],
    confusion: np.ndarray,
    window_confusion: np.ndarray,
    clips: list[ClipOutcome],
) -> Evaluation:
    window_total = window_confusion.sum()
    return Evaluation(
        labels,
        called,
        sum(c.correct for c in clips) / len(clips) if clips else math.nan,
        float(np.trace(window_confusion) / window_total) if window_total else math.nan,
        confusion.tolist(),
        window_confusion.tolist(),
        tuple(clips),
    )


@dataclass
class TrainResult:
    bundle: ModelBundle | TrainedBundle  # TrainedBundle: from the training process (`core.training_process`)
    history: dict[str, list[float]]
    # The app's verdicts on the held-out clips (`evaluate_predictions`). None when there was no validation split
    # (val_fraction 0), or when cancelled before the evaluation ended (`cancelled`; the bundle is kept).
    evaluation: Evaluation | None
    summary: DataSummary
    cancelled: bool  # True: stopped by the user; the bundle holds the best weights seen until then
    epochs_run: int
    seconds: float


class Teacher:
    """A trained model whose probabilities the network also learns from (distillation, off by default): the loss
    becomes (1 - weight) x cross-entropy on the true labels + weight x KL divergence from the teacher's
    probabilities, on every training window, augmented copies included. The teacher sees the same audio as each
    training window (its own window length, centred on it) through its own features, so any bundle can teach,
    e.g. a head on YAMNet's embeddings teaching the small log-mel network. The windows of the classes named in
    `true_only` learn from their true label alone (the teacher's probabilities are replaced by it there)."""

    def __init__(
        self,
        network: Callable[[np.ndarray], np.ndarray],
        labels: Sequence[str],
        features: FeatureSpec,
        weight: float = 0.5,
        name: str = "teacher",
        true_only: Sequence[str] = (),
    ):
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"teacher weight {weight} is not between 0 and 1")
        self.network, self.labels, self.features, self.weight, self.name = (
            network,
            tuple(labels),
            features,
            weight,
            name,
        )
        self.true_only = tuple(true_only)

    @classmethod
    def load(cls, path, weight: float = 0.5, true_only: Sequence[str] = ()) -> Teacher:
        """A bundle as a teacher, run in LiteRT (a YAMNet bundle needs YAMNet's weights, as for classifying)."""
        from musicspeech.core.bundle import read_bundle
        from musicspeech.core.runtime import network_for

        file = read_bundle(path)
        network = network_for(file.tflite, file.features, len(file.labels), file.path.name)
        return cls(network, file.labels, file.features, weight, file.path.name, true_only)

    def describe(self) -> str:
        alone = f", {', '.join(self.true_only)} from the true label alone" if self.true_only else ""
        return f"{self.name}: {self.features.kind} features, labels {', '.join(self.labels)}{alone}"

    def columns(self, labels: Sequence[str]) -> list[int]:
        """Where each of `labels` is among the teacher's classes (DatasetError when one is not)."""
        missing = [label for label in labels if label not in self.labels]
        if missing:
            raise DatasetError(f"the teacher {self.name} knows no class {', '.join(missing)}")
        return [self.labels.index(label) for label in labels]

    def probabilities(self, samples: np.ndarray, starts: np.ndarray, span: int) -> np.ndarray:
        """The teacher's probabilities (n, its classes) of the windows of `span` samples that start at `starts`:
        each through the teacher's own window, centred on it (zero-padded at the ends)."""
        spec = self.features
        size = spec.window_samples
        offset = (span - size) // 2
        padded = np.pad(np.asarray(samples, np.float32), (max(0, -offset), size + max(0, offset)))
        first = np.asarray(starts, dtype=np.int64) + max(0, offset)
        parts = [windows(frame_features(padded[a : a + size], spec), spec)[:1] for a in first]
        if not parts:
            return np.empty((0, len(self.labels)), np.float32)
        return np.concatenate([self.network(np.concatenate(parts[a : a + 64])) for a in range(0, len(parts), 64)])


def teacher_targets(
    items: Sequence[LoadedClip],
    teacher: Teacher,
    spec: FeatureSpec,
    hop_frames: int | None,
    listener: TrainingListener,
    cancel: CancelCheck | None,
) -> tuple[np.ndarray, ...]:
    """The teacher's probabilities (its classes' order) of every window `frame_windows` cuts from each item,
    with progress ("teacher") and cancel."""
    step = (hop_frames or spec.hop_frames) * spec.frame_step
    out = []
    for i, item in enumerate(items):
        if cancel and cancel():
            raise Cancelled("training cancelled")
        n = spec.window_count(len(item.waveform.samples), hop_frames)
        out.append(teacher.probabilities(item.waveform.samples, np.arange(n) * step, spec.window_span_samples))
        listener.stage("teacher", i + 1, len(items))
    return tuple(out)


def augmented_copies(
    loaded: Sequence[LoadedClip], settings: AugmentSettings, rate_hz: int, seed: int
) -> list[LoadedClip]:
    """`settings.copies` randomly augmented versions of every clip (seeded: each copy has its own generator, so
    the result does not depend on thread timing), labelled as the original. Mixtures take their beds from the
    same clips: music clips under speech, `noise` clips under anything."""
    beds = Beds(
        music=[x.waveform.samples for x in loaded if x.clip.label == "music"],
        noise=[x.waveform.samples for x in loaded if x.clip.label == NOISE],
    )

    def one(job: tuple[int, int]) -> LoadedClip:
        copy, i = job
        item = loaded[i]
        rng = np.random.default_rng([seed, copy, i])
        samples = augment(item.waveform.samples, rate_hz, settings, rng, item.clip.label, beds)
        return LoadedClip(item.clip, Waveform(samples, rate_hz, item.waveform.source))

    jobs = [(copy, i) for copy in range(settings.copies) for i in range(len(loaded))]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return list(pool.map(one, jobs))


def clip_features(
    train_clips: Sequence[Clip],
    val_clips: Sequence[Clip],
    settings: TrainSettings,
    listener: TrainingListener | None = None,
    cancel: CancelCheck | None = None,
    cache: FeatureCache | None = None,
    teacher: Teacher | None = None,
) -> ClipFeatures:
    """Decode the clips, tell the listener the data summary, add the augmented copies of the training clips and
    compute their frame features (or take all that from `cache`, and put it there). With a `teacher`, also its
    probabilities of every training window (`ClipFeatures.soft`; the cache is not used then)."""
    listener = listener or TrainingListener()
    spec = settings.features
    cache = None if teacher else cache
    key = cache.key(train_clips, val_clips, spec, settings.augment, settings.seed) if cache else ""
    if cache and (found := cache.load(key, list(train_clips) + list(val_clips))) is not None:
        listener.data(found.summary)
        listener.stage("features", 1, 1)
        return found
    all_clips = list(train_clips) + list(val_clips)
    loaded, errors = load_clips(all_clips, spec.rate_hz, lambda d, t: listener.stage("loading", d, t), cancel)
    summary = summarize(loaded, errors)
    listener.data(summary)
    train_names = {c.name for c in train_clips}
    train_loaded = [x for x in loaded if x.clip.name in train_names]
    val_loaded = [x for x in loaded if x.clip.name not in train_names]
    if settings.augment.copies:
        train_loaded = train_loaded + augmented_copies(train_loaded, settings.augment, spec.rate_hz, settings.seed)
    items = train_loaded + val_loaded
    frames = []
    for i, item in enumerate(items):
        if cancel and cancel():
            raise Cancelled("training cancelled")
        frames.append((item.clip, frame_features(item.waveform.samples, spec)))
        listener.stage("features", i + 1, len(items))
    features = ClipFeatures(summary, tuple(frames[: len(train_loaded)]), tuple(frames[len(train_loaded) :]))
    if teacher:
        hop_frames = spec.steps_in(settings.train_hop_s) if settings.train_hop_s else None
        soft = teacher_targets(train_loaded, teacher, spec, hop_frames, listener, cancel)
        features = ClipFeatures(features.summary, features.train, features.val, soft)
    if cache:
        cache.save(key, features)
    return features


def frame_windows(
    items: Sequence[tuple[Clip, np.ndarray]], labels: Sequence[str], spec: FeatureSpec, hop_frames: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All windows of the items' frame features as one float32 array, with their label and item indices."""
    index = {label: i for i, label in enumerate(labels)}
    parts = [windows(frames, spec, hop_frames) for _, frames in items]
    ys = [np.full(len(w), index[clip.label], dtype=np.int32) for (clip, _), w in zip(items, parts, strict=True)]
    owners = [np.full(len(w), i, dtype=np.int32) for i, w in enumerate(parts)]
    if sum(len(p) for p in parts) == 0:
        return np.empty((0, *spec.window_shape), np.float32), np.empty(0, np.int32), np.empty(0, np.int32)
    return np.concatenate(parts).astype(np.float32, copy=False), np.concatenate(ys), np.concatenate(owners)


def embed_windows(
    embedder, parts: Sequence[np.ndarray], listener: TrainingListener, cancel: CancelCheck | None
) -> list[np.ndarray]:
    """Each array of waveform windows -> YAMNet's embeddings of them, with progress ("embeddings") and cancel."""
    total, done, out = sum(len(x) for x in parts), 0, []
    for x in parts:
        pieces = []
        for a in range(0, len(x), 64):
            if cancel and cancel():
                raise Cancelled("training cancelled")
            pieces.append(embedder(x[a : a + 64]))
            done += len(pieces[-1])
            listener.stage("embeddings", done, total)
        out.append(np.concatenate(pieces) if pieces else np.empty((0, YAMNET_EMBEDDING_SIZE), np.float32))
    return out


class _Validation:
    """The held-out windows with their labels and clips: one forward pass gives the window loss and accuracy and
    the clip accuracy of the weights at hand (Keras' own validation pass gives no clip figure). Monitoring, after
    every epoch: fast, and not the app's verdicts (the evaluation after training, `evaluate_predictions`, is)."""

    def __init__(self, labels: Sequence[str], clips: Sequence[Clip], x: np.ndarray, y: np.ndarray, owner: np.ndarray):
        self.labels, self.clips, self.x, self.y, self.owner = tuple(labels), list(clips), x, y, owner

    def run(self, model) -> dict[str, float]:
        probs = model.predict(self.x, batch_size=512, verbose=0)
        picked = np.clip(probs[np.arange(len(self.y)), self.y], 1e-7, 1.0)  # Keras' clipping in its cross-entropy
        per_clip = np.zeros((len(self.clips), probs.shape[1]))
        np.add.at(per_clip, self.owner, probs)
        truth = np.array([self.labels.index(c.label) for c in self.clips])
        return {
            "val_loss": float(-np.log(picked).mean()),
            "val_accuracy": float((probs.argmax(axis=1) == self.y).mean()),
            "val_clip_accuracy": float((per_clip.argmax(axis=1) == truth).mean()),
        }


class _Monitor:
    """Validates after each epoch, forwards progress, turns the cancel flag into `stop_training`, keeps the best
    weights (lowest validation loss) and the figures of every epoch, stops early. A Keras callback: `train` makes
    it one (`_keras_monitor`), so that this module loads without TensorFlow."""

    def __init__(
        self,
        listener: TrainingListener,
        cancel: CancelCheck | None,
        epochs: int,
        batches: int,
        patience: int,
        validation: _Validation | None,
        keep_last: bool = False,
    ):
        super().__init__()
        self.keep_last = keep_last
        self.listener, self.cancel, self.epochs, self.batches, self.patience = (
            listener,
            cancel,
            epochs,
            batches,
            patience,
        )
        self.validation = validation
        self.history: dict[str, list[float]] = {}
        self.best_loss = math.inf
        self.best_weights: list[np.ndarray] | None = None
        self.since_best = 0
        self.cancelled = False
        self.epochs_run = 0
        self.current_epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.listener.batch(self.current_epoch, batch, self.batches, _floats(logs))
        if self.cancel and self.cancel():
            self.cancelled = True
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        logs = _floats(logs)
        if self.cancelled:  # a partial epoch: not validated, not kept
            return
        if self.validation is not None:
            logs.update(self.validation.run(self.model))
        self.epochs_run = epoch + 1
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)
        self.listener.epoch(epoch, self.epochs, logs)
        loss = logs.get("val_loss", logs.get("loss", math.inf))
        if loss < self.best_loss or self.keep_last:
            self.best_loss, self.since_best = loss, 0
            self.best_weights = self.model.get_weights()
        else:
            self.since_best += 1
            if self.patience and self.since_best >= self.patience:
                self.model.stop_training = True
        if self.cancel and self.cancel():  # asked during the validation pass
            self.cancelled = True
            self.model.stop_training = True


def train(
    dataset: Dataset,
    settings: TrainSettings | None = None,
    listener: TrainingListener | None = None,
    cancel: CancelCheck | None = None,
    split: tuple[Sequence[Clip], Sequence[Clip]] | None = None,
    cache: FeatureCache | None = None,
    teacher: Teacher | None = None,
) -> TrainResult:
    """Train a bundle on `dataset` (split by clip unless `split` is given) and evaluate it on the held-out clips.

    After each epoch the held-out windows are monitored (`_Validation`: the live figures, the best weights, early
    stopping). After training, with the best weights back, the evaluation runs the bundle as it will be saved
    (its TensorFlow Lite flatbuffer, converted once and kept by the bundle) through the app's analyser on the
    held-out clips (stage "evaluating"): `TrainResult.evaluation` and the bundle's `info["metrics"]` are what the
    app would call each clip (`evaluate_predictions`).

    With a `cache` (the app and the command line pass `FeatureCache()`), the clips' features come from it when
    the same data, split, features and augmentation were prepared before, and go into it otherwise.
    Cancelling during loading raises `Cancelled`; cancelling during training ends it with the best weights of
    the epochs completed so far (`TrainResult.cancelled`), or raises `Cancelled` if none completed. A run
    cancelled during training or during the evaluation keeps its bundle, with no evaluation (None).
    With a `teacher` (`Teacher`), the network learns from its probabilities as well as from the true labels.
    """
    settings = settings or TrainSettings()
    listener = listener or TrainingListener()
    start = time.perf_counter()
    spec, labels = settings.features, dataset.labels
    if split is not None:
        train_clips, val_clips = split
    elif settings.val_fraction == 0:  # everything for training (the shipped model); no evaluation
        train_clips, val_clips = list(dataset.clips), []
    else:
        train_clips, val_clips = split_train_val(dataset.clips, settings.val_fraction, settings.seed)
    if not train_clips or (settings.val_fraction > 0 and not val_clips):
        raise DatasetError("need clips on both sides of the split: add more recordings per class")

    embedder = None
    if spec.kind == "yamnet":  # a head on YAMNet's embeddings: its weights must be there (ModelError if not)
        from musicspeech.core.yamnet import Embedder

        embedder = Embedder.load()
    features = clip_features(train_clips, val_clips, settings, listener, cancel, cache, teacher)
    summary = features.summary
    hop_frames = spec.steps_in(settings.train_hop_s) if settings.train_hop_s else None
    x_train, y_train, _ = frame_windows(features.train, labels, spec, hop_frames)
    x_val, y_val, val_owner = frame_windows(features.val, labels, spec)
    if embedder is not None:
        x_train, x_val = embed_windows(embedder, [x_train, x_val], listener, cancel)
    val_clips_loaded = [clip for clip, _ in features.val]
    if len(x_train) == 0 or (val_clips and len(x_val) == 0):
        raise DatasetError("no usable audio on one side of the split (all clips unreadable or empty)")

    from musicspeech.core.model import ModelBundle, build_model
    from musicspeech.core.tf_runtime import keras

    keras.utils.set_random_seed(settings.seed)
    model = build_model(settings.model, spec, len(labels), float(x_train.mean()), float(x_train.var()))
    y_fit, loss, metrics = y_train, keras.losses.SparseCategoricalCrossentropy(), ["accuracy"]
    if teacher:  # targets: the true label one-hot, then the teacher's probabilities
        columns = teacher.columns(labels)
        soft = np.concatenate(features.soft)[:, columns] if features.soft else np.empty((0, len(labels)))
        soft = soft / np.maximum(soft.sum(axis=1, keepdims=True), 1e-12)  # over this data's classes only
        if soft.shape != (len(y_train), len(labels)):
            raise DatasetError(f"the teacher gave {soft.shape[0]} windows' probabilities for {len(y_train)}")
        hard = np.eye(len(labels), dtype=np.float32)[y_train]
        alone = np.isin(y_train, [labels.index(label) for label in teacher.true_only if label in labels])
        soft = np.where(alone[:, None], hard, soft)  # these classes' windows: the true label alone
        y_fit = np.concatenate([hard, soft.astype(np.float32)], axis=1)
        loss, metrics = _distillation_loss(keras, len(labels), teacher.weight), [_distillation_accuracy(keras)]
    model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate), loss=loss, metrics=metrics)
    batches = math.ceil(len(x_train) / settings.batch_size)
    validation = _Validation(labels, val_clips_loaded, x_val, y_val, val_owner) if len(x_val) else None
    monitor = _keras_monitor(keras)(
        listener, cancel, settings.epochs, batches, settings.patience, validation, settings.keep_last
    )
    weights = sample_weight = None
    if settings.balance_classes:
        counts = np.bincount(y_train, minlength=len(labels)).astype(np.float64)
        weights = {i: float(len(y_train) / (len(labels) * n)) for i, n in enumerate(counts) if n}
        if teacher:  # Keras would read the class from the two-part targets' argmax: weigh the windows instead
            sample_weight = np.array([weights[int(y)] for y in y_train], dtype=np.float32)
            weights = None
    model.fit(
        x_train,
        y_fit,
        class_weight=weights,
        sample_weight=sample_weight,
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        shuffle=True,
        verbose=0,
        callbacks=[monitor],
    )
    if monitor.best_weights is None:
        raise Cancelled("training cancelled before the first epoch ended")
    model.set_weights(monitor.best_weights)
    if teacher:  # the saved network names no loss of this module's
        model.compile(loss=keras.losses.SparseCategoricalCrossentropy())
    history = monitor.history
    info = {
        "data": {
            "source": dataset.source,
            "summary": summary.to_dict(),
            "train_clips": sorted(c.name for c in train_clips),
            "val_clips": sorted(c.name for c in val_clips),
            "train_windows": int(len(x_train)),
            "val_windows": int(len(x_val)),
        },
        "training": {
            **settings.to_dict(),
            "epochs_run": monitor.epochs_run,
            "cancelled": monitor.cancelled,
            **(
                {"teacher": {"name": teacher.name, "weight": teacher.weight, "true_only": list(teacher.true_only)}}
                if teacher
                else {}
            ),
        },
        "metrics": {},
        "history": history,
    }
    bundle = ModelBundle(model=model, labels=labels, features=spec, config=settings.model, info=info)
    evaluation, cancelled = None, monitor.cancelled
    if validation is not None and not cancelled:
        try:
            evaluation = evaluate_bundle(bundle, val_clips_loaded, listener, cancel)
        except Cancelled:  # the trained model is kept; its evaluation is missing
            cancelled = True
    seconds = time.perf_counter() - start
    info["training"].update(cancelled=cancelled, seconds=round(seconds, 1))
    if evaluation is not None:
        info["metrics"] = {
            "clip_accuracy": evaluation.clip_accuracy,
            "window_accuracy": evaluation.window_accuracy,
            "called": list(evaluation.called),
            "confusion": evaluation.confusion,
            "window_confusion": evaluation.window_confusion,
        }
    return TrainResult(bundle, history, evaluation, summary, cancelled, monitor.epochs_run, seconds)


def evaluate_bundle(
    bundle: ModelBundle,
    clips: Sequence[Clip],
    listener: TrainingListener | None = None,
    cancel: CancelCheck | None = None,
) -> Evaluation:
    """The app's verdicts on labelled clips with a just-trained bundle: its TensorFlow Lite network (converted
    here if not yet; the bundle keeps it for saving), the file pipeline and the verdict policy, as `musicspeech
    evaluate` does with the saved file. Progress as the stage "evaluating"; a cancel raises `Cancelled`. A clip
    that cannot be read now is left out."""
    from musicspeech.core.inference import Classifier

    listener = listener or TrainingListener()
    listener.stage("evaluating", 0, len(clips))
    if cancel and cancel():
        raise Cancelled("evaluation cancelled")
    classifier = Classifier(bundle)  # converts the network (a few seconds)
    outcomes = [
        (clip, prediction)
        for clip, prediction, _ in classifier.classify_clips(
            clips, progress=lambda done, total: listener.stage("evaluating", done, total), cancel=cancel
        )
        if prediction is not None
    ]
    return evaluate_predictions(bundle.labels, outcomes)


def _distillation_loss(keras, n: int, weight: float):
    """(1 - weight) x cross-entropy on the true labels (targets[:, :n], one-hot) + weight x KL divergence from
    the teacher's probabilities (targets[:, n:]) to the network's."""
    ops = keras.ops

    def distillation(targets, probs):
        probs = ops.clip(probs, 1e-7, 1.0)
        hard, soft = targets[:, :n], targets[:, n:]
        ce = -ops.sum(hard * ops.log(probs), axis=-1)
        kl = ops.sum(soft * (ops.log(ops.clip(soft, 1e-7, 1.0)) - ops.log(probs)), axis=-1)
        return (1.0 - weight) * ce + weight * kl

    return distillation


def _distillation_accuracy(keras):
    """Accuracy against the true labels of the two-part targets."""
    ops = keras.ops

    def accuracy(targets, probs):
        n = ops.shape(probs)[-1]
        return ops.cast(ops.argmax(targets[:, :n], axis=-1) == ops.argmax(probs, axis=-1), "float32")

    return accuracy


def _keras_monitor(keras) -> type:
    """`_Monitor` as a Keras callback."""
    return type("Monitor", (_Monitor, keras.callbacks.Callback), {})


def _floats(logs: dict | None) -> dict[str, float]:
    return {k: float(v) for k, v in (logs or {}).items()}
