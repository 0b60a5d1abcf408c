"""The verdict policy: silence is silence, and segments follow the audio without fragments."""

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from musicspeech.core.audio import Waveform, load_audio
from musicspeech.core.inference import Classifier
from musicspeech.core.self_test import shipped_model_path
from musicspeech.core.verdict import FILE_POLICY, SILENCE, verdict_labels, viterbi, window_states

from .conftest import GTZAN_SPEECH, REPO

RATE = 16000


@pytest.fixture(scope="module")
def shipped():
    return Classifier.from_path(shipped_model_path())


def test_digital_silence_and_quiet_hiss_are_silence(shipped):
    rng = np.random.default_rng(0)
    for samples in (np.zeros(10 * RATE, np.float32), rng.standard_normal(10 * RATE).astype(np.float32) * 3e-4):
        p = shipped.classify(Waveform(samples, RATE, "quiet"))
        assert p.label == SILENCE
        assert [s.label for s in p.segments] == [SILENCE]
        assert p.shares[SILENCE] == pytest.approx(1.0)


def test_a_pause_inside_speech_is_a_silence_segment_and_the_clip_stays_speech(shipped):
    speech = load_audio(GTZAN_SPEECH / "news1.wav", RATE).samples
    x = np.concatenate([speech[: 10 * RATE], np.zeros(8 * RATE, np.float32), speech[10 * RATE : 20 * RATE]])
    p = shipped.classify(Waveform(x, RATE, "news with a pause"))
    assert p.label == "speech"
    labels = [s.label for s in p.segments]
    assert SILENCE in labels
    gap = next(s for s in p.segments if s.label == SILENCE)
    assert abs(gap.start_s - 10.0) <= 1.0 and abs(gap.end_s - 18.0) <= 1.0
    assert 0.2 <= p.shares[SILENCE] <= 0.35  # 8 s of 28
    assert p.shares["speech"] > 0.3


def test_one_odd_window_in_a_long_run_does_not_make_a_segment():
    probs = np.array([[0.1, 0.9]] * 20, np.float32)
    probs[10] = [0.8, 0.2]  # one window leaning to music, inside speech
    path, states = window_states(probs, np.full(20, -20.0), ("music", "speech"))
    assert states == ("music", "speech", SILENCE)
    assert set(path.tolist()) == {1}
    probs[8:14] = [0.95, 0.05]  # three seconds of clear music: a segment
    path, _ = window_states(probs, np.full(20, -20.0), ("music", "speech"))
    assert path.tolist() == [1] * 8 + [0] * 6 + [1] * 6


def test_quiet_windows_are_silence_whatever_the_network_says():
    probs = np.array([[0.1, 0.9]] * 12, np.float32)
    levels = np.array([-20.0] * 4 + [-80.0] * 4 + [-20.0] * 4)
    path, states = window_states(probs, levels, ("music", "speech"))
    assert [states[i] for i in path] == ["speech"] * 4 + [SILENCE] * 4 + ["speech"] * 4


def test_a_noise_class_is_reported_as_silence():
    assert verdict_labels(("music", "noise", "speech")) == ("music", "speech", SILENCE)
    probs = np.array([[0.01, 0.98, 0.01]] * 6 + [[0.05, 0.05, 0.9]] * 6, np.float32)  # noise must clearly win
    path, states = window_states(probs, np.full(12, -25.0), ("music", "noise", "speech"))
    assert [states[i] for i in path] == [SILENCE] * 6 + ["speech"] * 6


def test_viterbi_prefers_staying_unless_the_evidence_pays_for_the_change():
    emission = np.log(np.array([[0.9, 0.1], [0.4, 0.6], [0.9, 0.1]]))
    assert viterbi(emission, FILE_POLICY.switch_cost).tolist() == [0, 0, 0]
    assert viterbi(emission, 0.0).tolist() == [0, 1, 0]


def test_the_cli_says_silence_for_a_silent_file(tmp_path):
    path = tmp_path / "quiet.wav"
    sf.write(path, np.zeros(5 * RATE, np.float32), RATE)
    proc = subprocess.run(
        [sys.executable, "-m", "musicspeech", "classify", "--format", "json", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout)
    assert row["label"] == SILENCE and row["shares"][SILENCE] == 1.0
    assert [s["label"] for s in row["segments"]] == [SILENCE]
