"""Inspect's analysis in the core (core/inspection.py): a file is decoded once, for the picture, the sound and the
model; the model gets the clip at its own rate. Real GTZAN audio (22,050 Hz), the real shipped model."""

import numpy as np
import pytest

import musicspeech.core.inspection
from musicspeech.core.audio import Waveform, load_audio
from musicspeech.core.features import FeatureSpec
from musicspeech.core.inference import Classifier
from musicspeech.core.inspection import inspect_audio, model_copy, read_clip
from musicspeech.core.paths import shipped_model_path


@pytest.fixture
def decodes(monkeypatch):
    """Every decoding Inspect asks for, (path, rate), the real decoder doing it."""
    seen = []
    real = musicspeech.core.inspection.load_audio

    def counted(path, rate_hz, *args, **kwargs):
        seen.append((path, rate_hz))
        return real(path, rate_hz, *args, **kwargs)

    monkeypatch.setattr(musicspeech.core.inspection, "load_audio", counted)
    return seen


def test_a_file_is_decoded_once_at_its_own_rate_and_analysed_at_16_khz(music_clip, decodes):
    analysed, playback = read_clip(music_clip)
    assert decodes == [(music_clip, 22050)]
    assert playback.rate_hz == 22050 and analysed.rate_hz == 16000
    assert analysed.duration_s == pytest.approx(playback.duration_s, abs=0.01)
    direct = load_audio(music_clip, 16000).samples  # what decoding at 16 kHz gives: the same audio
    n = min(len(direct), len(analysed.samples))
    assert np.abs(analysed.samples[1000 : n - 1000] - direct[1000 : n - 1000]).max() < 1e-3


def test_a_file_too_long_to_keep_at_its_own_rate_is_decoded_once_at_16_khz(music_clip, decodes, monkeypatch):
    monkeypatch.setattr(musicspeech.core.inspection, "PLAYBACK_BUDGET_BYTES", 22050 * 4)  # a second at 22 kHz
    analysed, playback = read_clip(music_clip)
    assert decodes == [(music_clip, 16000)] and playback is analysed


def test_the_model_gets_the_clip_at_its_own_rate(music_clip):
    classifier = Classifier.from_path(shipped_model_path())
    analysed, playback = read_clip(music_clip)
    shown = inspect_audio(analysed, FeatureSpec(n_mels=128, fmin_hz=0.0, fmax_hz=8000.0), classifier, playback)
    assert shown.prediction.duration_s == pytest.approx(30.0, abs=0.05)
    assert shown.for_model(16000) is analysed and shown.for_model(22050) is playback
    at_8k = shown.for_model(8000)
    assert at_8k.rate_hz == 8000 and len(at_8k.samples) == pytest.approx(30 * 8000, abs=100)
    # a waveform at another rate is resampled to the model's before the windows are cut
    by_rate = classifier.classify(playback)
    assert len(by_rate.window_probabilities) == len(shown.prediction.window_probabilities)
    np.testing.assert_allclose(by_rate.window_probabilities, shown.prediction.window_probabilities, atol=0.02)
    assert model_copy(analysed, analysed, 16000) is analysed
    assert model_copy(Waveform(np.zeros(100, np.float32), 16000), analysed, 44100).rate_hz == 44100
