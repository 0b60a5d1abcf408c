"""The verdict policy: silence is silence, and segments follow the audio without fragments."""

import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf

from musicspeech.core.audio import Waveform, load_audio
from musicspeech.core.inference import Classifier
from musicspeech.core.self_test import shipped_model_path
from musicspeech.core.verdict import (
    FILE_POLICY,
    SILENCE,
    merge_short_runs,
    verdict_labels,
    viterbi,
    window_edges,
    window_states,
)

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


# the minimum segment length (min_segment_s) --------------------------------------------------------------------
MUSIC, SPEECH = [0.99, 0.01], [0.01, 0.99]


def file_labels(probs, min_s, levels=None, duration_s=None, switch_cost=2.0):
    """Window labels under the file preset (windows of 1 s every 0.5 s); a low switch cost, so that Viterbi keeps
    short runs and the minimum length is what removes them."""
    probs = np.asarray(probs, np.float32)
    n = len(probs)
    levels = np.full(n, -20.0) if levels is None else levels
    duration_s = duration_s or 0.5 * (n - 1) + 1.0
    edges = window_edges(np.arange(n) * 0.5, 1.0, duration_s)
    policy = replace(FILE_POLICY, switch_cost=switch_cost, min_segment_s=min_s)
    path, states = window_states(probs, levels, ("music", "speech"), policy, edges)
    return [states[i] for i in path]


def runs(labels):
    out = []
    for label in labels:
        if out and out[-1][0] == label:
            out[-1][1] += 1
        else:
            out.append([label, 1])
    return [tuple(r) for r in out]


def test_a_one_second_speech_blip_in_music_vanishes_with_a_two_second_minimum():
    probs = [MUSIC] * 19 + [SPEECH] * 2 + [MUSIC] * 19  # 20.5 s; the blip's two windows speak for 1 s
    assert runs(file_labels(probs, 0.0)) == [("music", 19), ("speech", 2), ("music", 19)]
    assert runs(file_labels(probs, 2.0)) == [("music", 40)]
    assert runs(file_labels(probs, 0.9)) == [("music", 19), ("speech", 2), ("music", 19)]  # 1 s >= 0.9 s


def test_the_first_and_last_segments_count_their_real_length():
    # windows every 0.5 s: three windows speak for 1.5 s inside, but the first three for 1.75 s (from 0)
    first = [SPEECH] * 3 + [MUSIC] * 30
    assert runs(file_labels(first, 1.6)) == [("speech", 3), ("music", 30)]
    middle = [MUSIC] * 15 + [SPEECH] * 3 + [MUSIC] * 15
    assert runs(file_labels(middle, 1.6)) == [("music", 33)]
    # the last three run to the end: 2.15 s of a 20.4 s signal whose last window starts at 19 s
    last = [MUSIC] * 36 + [SPEECH] * 3
    assert runs(file_labels(last, 2.1, duration_s=20.4)) == [("music", 36), ("speech", 3)]
    assert runs(file_labels(last, 2.2, duration_s=20.4)) == [("music", 39)]


def test_a_signal_shorter_than_the_minimum_is_one_segment():
    assert runs(file_labels([MUSIC] * 2 + [SPEECH] * 3, 5.0)) == [("speech", 5)]  # speech explains more of it
    assert runs(file_labels([SPEECH], 5.0)) == [("speech", 1)]


def test_short_silence_gaps_join_the_sound_around_them_and_long_ones_stay():
    probs = [SPEECH] * 40
    levels = np.full(40, -20.0)
    levels[10:12] = -80.0  # a pause of 1 s
    levels[25:31] = -80.0  # a pause of 3 s
    gaps = [("speech", 10), (SILENCE, 2), ("speech", 13), (SILENCE, 6), ("speech", 9)]
    assert runs(file_labels(probs, 0.0, levels)) == gaps
    assert runs(file_labels(probs, 2.0, levels)) == [("speech", 25), (SILENCE, 6), ("speech", 9)]


def test_a_short_run_goes_to_the_neighbour_that_explains_it_better():
    edges = np.arange(23) * 1.0
    path = np.array([0] * 10 + [2] * 2 + [1] * 10)
    emission = np.log(np.full((22, 3), 0.1))
    emission[10:12, 1] = np.log(0.5)  # the short run's windows lean to state 1 (speech) rather than 0
    assert merge_short_runs(path, emission, edges, 3.0).tolist() == [0] * 10 + [1] * 12
    emission[10:12, 0] = np.log(0.9)
    assert merge_short_runs(path, emission, edges, 3.0).tolist() == [0] * 12 + [1] * 10
    # shortest first: the 1 s run goes before the 2 s one, and the two music runs become one
    path = np.array([0] * 10 + [1] + [0] * 2 + [1] * 10)
    emission = np.log(np.full((23, 3), 0.1))
    assert merge_short_runs(path, emission, np.arange(24) * 1.0, 3.0).tolist() == [0] * 13 + [1] * 10


def test_the_minimum_is_fast_on_hours_of_flickering_windows():
    """Three hours of windows every 0.5 s whose label changes every one to four windows: no run is left shorter
    than the minimum, and the runs that were long enough are untouched (the time it takes goes in the report,
    not in an assert)."""
    rng = np.random.default_rng(3)
    n = 3 * 3600 * 2
    lengths = rng.integers(1, 5, n // 2)
    path = np.repeat(np.arange(len(lengths)) % 3, lengths)[:n]
    emission = np.log(rng.dirichlet(np.ones(3), n))
    edges = window_edges(np.arange(n) * 0.5, 1.0, 0.5 * n + 0.5)
    merged = merge_short_runs(path, emission, edges, 2.0)
    change = np.flatnonzero(np.diff(merged)) + 1
    bounds = np.concatenate([[0], change, [n]])
    assert (np.diff(edges[bounds]) >= 2.0).all() and len(bounds) > 100
