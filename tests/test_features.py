"""The one feature implementation: shapes, agreement with TensorFlow's definitions, and file == live."""

import numpy as np
import pytest

from musicspeech.core.analysis import WindowStream
from musicspeech.core.audio import load_audio
from musicspeech.core.features import (
    FeatureSpec,
    frame_features,
    mel_matrix,
    waveform_windows,
    windows,
)

SEED_STFT = FeatureSpec(kind="stft", frame_length=255, frame_step=128, fft_length=256)

# The same frames through the same code agree to float32 rounding: OpenBLAS's mel product of a frame depends in
# its last bits on the frame's row in the matrix (seen: 6e-7 on log-mel values of magnitude ~1-10).
FLOAT32_ROUNDING = 1e-5


def tone(freq_hz: float, seconds: float, rate_hz: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate_hz)) / rate_hz
    return (0.5 * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def test_seed_stft_shape_matches_the_tutorial():
    # the tutorial: 1 s at 16 kHz -> tf.signal.stft(255, 128) -> (124, 129)
    feats = frame_features(tone(440, 1.0), SEED_STFT)
    assert feats.shape == (124, 129)
    assert SEED_STFT.window_shape == (124, 129)


@pytest.mark.parametrize("spec", [SEED_STFT, FeatureSpec()], ids=["stft", "logmel"])
def test_tone_energy_lands_in_the_right_bin(spec):
    feats = frame_features(tone(1000, 1.0), spec)
    peak_bin = int(np.argmax(feats.mean(axis=0)))
    centre_hz = spec.bin_frequencies_hz()[peak_bin]
    assert abs(centre_hz - 1000) < (70 if spec.kind == "logmel" else 2 * spec.rate_hz / spec.fft_length)


def test_stft_agrees_with_an_independent_float64_computation(speech_clip):
    x = load_audio(speech_clip, 16000).samples[:16000]
    frames = np.lib.stride_tricks.sliding_window_view(x.astype(np.float64), 255)[::128]
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(255) / 255)
    expected = np.abs(np.fft.rfft(frames * hann, n=256))
    np.testing.assert_allclose(frame_features(x, SEED_STFT), expected, atol=1e-4, rtol=1e-4)


def test_mel_filters_cover_the_band_and_skip_dc():
    spec = FeatureSpec()
    m = mel_matrix(spec)
    assert m.shape == (257, 64)
    assert np.all(m[0] == 0)
    assert np.all(m.max(axis=0) > 0.5)  # every band has a filter that peaks
    freqs = np.linspace(0, 8000, 257)
    assert freqs[np.nonzero(m.sum(axis=1))[0][0]] >= spec.fmin_hz - 40
    assert freqs[np.nonzero(m.sum(axis=1))[0][-1]] <= spec.fmax_hz + 40


@pytest.mark.parametrize(
    "spec", [SEED_STFT, FeatureSpec(), FeatureSpec(window_s=1.5, hop_s=0.25)], ids=["stft", "logmel", "logmel-1.5s"]
)
def test_a_window_is_the_same_from_a_file_or_a_live_buffer(music_clip, spec):
    x = load_audio(music_clip, spec.rate_hz).samples
    file_windows, starts = waveform_windows(x, spec)
    for i in (0, 3, len(file_windows) - 1):
        a = int(round(starts[i] * spec.rate_hz))
        live, _ = waveform_windows(x[a : a + spec.window_samples], spec)
        assert len(live) == 1
        np.testing.assert_allclose(live[0], file_windows[i], rtol=0, atol=FLOAT32_ROUNDING)


def test_window_count_and_starts():
    spec = FeatureSpec(window_s=1.0, hop_s=0.5)
    feats, starts = waveform_windows(tone(300, 30.0), spec)
    assert feats.shape == (59, *spec.window_shape)
    np.testing.assert_allclose(starts[:3], [0.0, 0.5, 1.0])
    assert starts[-1] + spec.window_s <= 30.0


def test_short_signals_are_padded_to_one_window_and_empty_gives_none():
    spec = FeatureSpec()
    feats, starts = waveform_windows(tone(300, 0.2), spec)
    assert feats.shape == (1, *spec.window_shape) and starts.tolist() == [0.0]
    feats, _ = waveform_windows(np.zeros(0, np.float32), spec)
    assert len(feats) == 0


def test_long_input_is_chunked_without_changing_the_result():
    spec = FeatureSpec()
    x = np.random.default_rng(0).standard_normal(16000 * 50).astype(np.float32) * 0.1  # > one 4096-frame chunk
    whole = frame_features(x, spec)
    assert len(whole) > 4096
    np.testing.assert_allclose(whole[4090:4100], frame_features(x[4090 * 160 : 4100 * 160 + 240], spec), atol=1e-5)


def test_windows_is_a_view_not_a_copy():
    spec = FeatureSpec()
    frames = frame_features(tone(200, 5.0), spec)
    w = windows(frames, spec)
    assert np.shares_memory(w, frames)


def test_spec_round_trips_and_rejects_nonsense():
    spec = FeatureSpec(kind="stft", window_s=1.5)
    assert FeatureSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ValueError):
        FeatureSpec(kind="mfcc")
    with pytest.raises(ValueError):
        FeatureSpec.from_dict({**spec.to_dict(), "unexpected": 1})
    with pytest.raises(ValueError):
        FeatureSpec(window_s=0.01)


@pytest.mark.parametrize("spec", [SEED_STFT, FeatureSpec(window_norm=True), FeatureSpec(window_s=1.5, hop_s=0.25)])
def test_windows_computed_piece_by_piece_are_the_whole_signals(music_clip, spec):
    x = load_audio(music_clip, spec.rate_hz).samples[: spec.rate_hz * 20 + 123]
    whole, _ = waveform_windows(x, spec)
    assert spec.window_count(len(x)) == len(whole)
    stream = WindowStream(spec)  # the analyser's cut: blocks of samples of any size
    pieces = [
        stream.feed(x[a : a + 7 * spec.hop_samples + 5]).feats for a in range(0, len(x), 7 * spec.hop_samples + 5)
    ]
    np.testing.assert_allclose(np.concatenate(pieces), whole, rtol=0, atol=FLOAT32_ROUNDING)
    span = spec.window_span_samples
    assert spec.window_count(span - 1) == 0 and spec.window_count(span) == 1 == len(
        windows(frame_features(x[:span], spec), spec)
    )
