"""Inference with a real trained model: verdicts, timelines, segments, batches of files."""

import numpy as np
import pytest
import soundfile as sf

from musicspeech.core.audio import Waveform, load_audio
from musicspeech.core.datasets import expand_paths
from musicspeech.core.errors import Cancelled
from musicspeech.core.features import waveform_windows
from musicspeech.core.inference import CHUNK_WINDOWS, Classifier, segments

from .conftest import GTZAN_MUSIC, GTZAN_SPEECH


@pytest.fixture(scope="module")
def classifier(trained):
    return Classifier.from_path(trained[1])


def held_out(trained):
    result, _ = trained
    return [c for c in result.evaluation.clips]


def test_held_out_clips_get_their_labels(classifier, trained):
    outcomes = held_out(trained)
    correct = 0
    for outcome in outcomes:
        prediction = classifier.classify_path(outcome.source)
        correct += prediction.label == outcome.true_label
        assert prediction.labels == ("music", "speech")
        assert prediction.window_probabilities.shape == (59, 2)
        np.testing.assert_allclose(prediction.window_probabilities.sum(axis=1), 1.0, rtol=1e-4)
        assert prediction.confidence == pytest.approx(max(prediction.probability_dict().values()))
        assert prediction.duration_s == pytest.approx(30.0, abs=0.01)
    assert correct >= len(outcomes) - 1


def test_segments_tile_the_clip_without_gaps(classifier, music_clip):
    p = classifier.classify_path(music_clip)
    assert p.segments[0].start_s == 0.0 and p.segments[-1].end_s == pytest.approx(p.duration_s)
    for a, b in zip(p.segments, p.segments[1:], strict=False):
        assert a.end_s == b.start_s and a.label != b.label


@pytest.mark.parametrize(("speech_name", "music_name"), [("news1", "u2"), ("female", "jazz1")])
def test_speech_then_music_is_cut_near_the_change(classifier, speech_name, music_name):
    # clips outside the training subset
    speech = load_audio(GTZAN_SPEECH / f"{speech_name}.wav", 16000).samples[: 16000 * 15]
    music = load_audio(GTZAN_MUSIC / f"{music_name}.wav", 16000).samples[: 16000 * 15]
    both = Waveform(np.concatenate([speech, music]), 16000, "speech+music")
    p = classifier.classify(both)
    labels = [s.label for s in p.segments]
    assert labels[0] == "speech" and labels[-1] == "music"
    change = next(s.start_s for s in p.segments if s.label == "music")
    assert abs(change - 15.0) < 1.0


def test_segment_edges_follow_window_centres():
    probs = np.array([[0.9, 0.1]] * 4 + [[0.1, 0.9]] * 4, dtype=np.float32)
    starts = np.arange(8) * 0.5
    path = np.array([0] * 4 + [1] * 4)
    segs = segments(probs, path, ("music", "speech", "silence"), starts, 1.0, 4.5, ("music", "speech"))
    assert [(s.label, s.start_s, s.end_s) for s in segs] == [("music", 0.0, 2.25), ("speech", 2.25, 4.5)]
    assert segs[0].probabilities["music"] == pytest.approx(0.9)


def test_a_batch_of_files_goes_on_past_bad_ones(classifier, tmp_path, music_clip, speech_clip):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF nonsense")
    short = tmp_path / "short.wav"
    sf.write(short, load_audio(speech_clip, 16000).samples[:4000], 16000)  # 0.25 s: one padded window
    paths = [music_clip, bad, speech_clip, short, tmp_path / "missing.mp3"]
    seen = []
    results = list(classifier.classify_files(paths, progress=lambda d, t: seen.append((d, t))))
    assert [r.path for r in results] == paths
    assert [r.error is None for r in results] == [True, False, True, True, False]
    assert "broken.wav" in results[1].error and "missing.mp3" in results[4].error
    assert results[0].prediction.label == "music" and results[2].prediction.label == "speech"
    assert results[3].prediction.window_probabilities.shape == (1, 2)
    assert seen[-1] == (5, 5)
    one = classifier.classify_path(music_clip)  # batching across files does not change the numbers
    np.testing.assert_allclose(results[0].prediction.window_probabilities, one.window_probabilities, atol=1e-5)


def test_classifying_files_can_be_cancelled(classifier, music_clip):
    calls = []
    with pytest.raises(Cancelled):
        for _ in classifier.classify_files([music_clip] * 40, cancel=lambda: len(calls) > 0):
            calls.append(1)
    assert len(calls) < 40


def test_folders_expand_to_their_audio_files(tmp_path, subset_dir):
    (tmp_path / "notes.txt").write_text("x")
    found = expand_paths([subset_dir, tmp_path / "notes.txt"])
    assert len(found) == 25 and found[-1].name == "notes.txt"
    assert all(p.suffix == ".wav" for p in found[:-1])


def test_a_long_file_goes_through_in_pieces_with_the_same_numbers(classifier, tmp_path, music_clip, speech_clip):
    # 150 s at the clips' own 22,050 Hz: more than two pieces of windows, cut while the file decodes
    clips = [sf.read(p, dtype="int16")[0] for p in (music_clip, speech_clip, music_clip, speech_clip, music_clip)]
    long_file = tmp_path / "long.wav"
    sf.write(long_file, np.concatenate(clips), 22050, subtype="PCM_16")
    (result,) = classifier.classify_files([long_file])
    whole = classifier.classify_path(long_file)
    assert len(whole.window_probabilities) == 299 > 2 * CHUNK_WINDOWS
    np.testing.assert_allclose(result.prediction.window_probabilities, whole.window_probabilities, atol=1e-5)
    np.testing.assert_array_equal(result.prediction.window_starts_s, whole.window_starts_s)
    assert [s.label for s in result.prediction.segments] == [s.label for s in whole.segments]
    assert result.prediction.duration_s == pytest.approx(150.0, abs=0.01)
    feats, _ = waveform_windows(load_audio(long_file, 16000).samples, classifier.spec)  # all at once
    np.testing.assert_allclose(classifier.window_probabilities(feats), whole.window_probabilities, atol=1e-5)
