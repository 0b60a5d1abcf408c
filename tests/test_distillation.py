"""Distillation (`core.training.Teacher`): a teacher's probabilities on the audio of each training window, and
the network learning from them beside the true labels."""

from pathlib import Path

import numpy as np
import pytest

from musicspeech.core.audio import load_audio
from musicspeech.core.datasets import from_folder
from musicspeech.core.errors import DatasetError
from musicspeech.core.features import frame_features, windows
from musicspeech.core.recipes import TrainSettings
from musicspeech.core.training import Teacher, train

SHIPPED_MODEL = Path(__file__).resolve().parent.parent / "resources" / "models" / "musicspeech.msmodel"


@pytest.fixture(scope="module")
def teacher():
    return Teacher.load(SHIPPED_MODEL, weight=0.5)


def test_the_teacher_hears_the_audio_of_each_window_centred_and_padded(teacher, gtzan_dir):
    spec = teacher.features
    music = load_audio(gtzan_dir / "music_speech" / "music_wav" / "blues.wav", spec.rate_hz).samples[: 2 * spec.rate_hz]
    speech = load_audio(gtzan_dir / "music_speech" / "speech_wav" / "news1.wav", spec.rate_hz).samples[
        : 2 * spec.rate_hz
    ]
    samples = np.concatenate([music, speech]).astype(np.float32)  # 2 s of music, then 2 s of speech
    size = spec.window_samples

    def direct(segment):
        return teacher.network(windows(frame_features(segment, spec), spec)[:1])[0]

    starts = np.array([0, 8000, 24000])
    probs = teacher.probabilities(samples, starts, size)
    assert probs.shape == (3, len(teacher.labels))
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    for p, a in zip(probs, starts, strict=True):
        assert np.allclose(p, direct(samples[a : a + size]), atol=1e-6)
    # a longer window: the teacher's own, centred on it
    wider = teacher.probabilities(samples, np.array([8000]), size + 2 * 1600)
    assert np.allclose(wider[0], direct(samples[9600 : 9600 + size]), atol=1e-6)
    # a shorter one near the end: the teacher's window reaches past the audio, zero-padded
    end = len(samples) - size + 800
    shorter = teacher.probabilities(samples, np.array([end]), size - 1600)
    padded = np.concatenate([samples[end - 800 :], np.zeros(1600, np.float32)])
    assert np.allclose(shorter[0], direct(padded), atol=1e-6)
    assert [teacher.labels[i] for i in probs.argmax(axis=1)] == ["music", "music", "speech"]


def test_a_teacher_must_know_every_class_and_a_weight_between_0_and_1(teacher):
    assert teacher.columns(["speech", "music"]) == [teacher.labels.index("speech"), teacher.labels.index("music")]
    with pytest.raises(DatasetError, match="knows no class laughter"):
        teacher.columns(["music", "laughter"])
    with pytest.raises(ValueError, match="between 0 and 1"):
        Teacher(teacher.network, teacher.labels, teacher.features, weight=1.5)


class AlwaysSpeech:
    """A teacher's network that calls everything speech: what the network learns from it shows in its verdicts."""

    def __call__(self, x):
        return np.tile(np.array([[0.02, 0.01, 0.97]], np.float32), (len(x), 1))  # music, noise, speech


@pytest.mark.slow  # three training runs (54 s on the shared machine, a training run beside it)
def test_the_network_learns_the_teachers_probabilities_in_proportion_to_its_weight(subset_dir, teacher):
    settings = TrainSettings(epochs=3, patience=0, seed=1)
    dataset = from_folder(subset_dir)
    taught = train(dataset, settings, teacher=Teacher(AlwaysSpeech(), teacher.labels, teacher.features, 1.0))
    alone = train(dataset, settings, teacher=Teacher(AlwaysSpeech(), teacher.labels, teacher.features, 0.0))
    music_alone = train(
        dataset, settings, teacher=Teacher(AlwaysSpeech(), teacher.labels, teacher.features, 1.0, true_only=["music"])
    )
    speech = taught.bundle.labels.index("speech")
    # weight 1: only the teacher counts, and it says speech (renormalised over this data's two classes)
    assert all(c.predicted == "speech" for c in taught.evaluation.clips)
    assert all(c.probabilities["speech"] > 0.8 for c in taught.evaluation.clips)
    assert taught.evaluation.clip_accuracy == 0.5
    # weight 0: the true labels alone, as without a teacher
    assert alone.evaluation.clip_accuracy >= 5 / 6
    assert taught.bundle.info["training"]["teacher"] == {"name": "teacher", "weight": 1.0, "true_only": []}
    assert speech == 1 and taught.history["accuracy"][-1] <= 0.6  # against the true labels
    # weight 1 but music's windows learn their true label alone: music is music again
    assert all(c.predicted == "music" for c in music_alone.evaluation.clips if c.true_label == "music")
    assert music_alone.evaluation.clip_accuracy >= 5 / 6
    assert music_alone.bundle.info["training"]["teacher"]["true_only"] == ["music"]
