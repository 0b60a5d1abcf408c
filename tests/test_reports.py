"""Result files and what the table shows per file: shares of each label, Audacity label tracks and their names."""

from pathlib import Path

import numpy as np
import pytest

from core.inference import Prediction, Segment
from core.reports import audacity_label_paths, audacity_labels, label_shares, segments_csv


def prediction(segments, duration_s):
    labels = ("music", "speech")
    return Prediction(
        labels, np.array([0.3, 0.7]), np.zeros(1), np.array([[0.3, 0.7]]), 1.0, duration_s, tuple(segments)
    )


MIXED = prediction(
    [
        Segment(0.0, 2.0, "silence", {"music": 0.5, "speech": 0.5}),
        Segment(2.0, 8.0, "speech", {"music": 0.1, "speech": 0.9}),
        Segment(8.0, 10.0, "music", {"music": 0.8, "speech": 0.2}),
    ],
    10.0,
)


def test_shares_are_the_segments_lengths_over_the_duration():
    assert label_shares(MIXED) == pytest.approx({"speech": 0.6, "music": 0.2, "silence": 0.2})
    assert label_shares(prediction([], 0.0)) == {"speech": 0.0, "music": 0.0, "silence": 0.0}


def test_a_silence_segment_is_written_without_a_probability_the_model_does_not_give():
    silent = prediction([Segment(0.0, 1.5, "silence", {"music": 0.5, "speech": 0.5})], 1.5)
    assert audacity_labels(silent) == "0.000\t1.500\tsilence\n"
    assert audacity_labels(MIXED).splitlines()[1] == "2.000\t8.000\tspeech (90%)"

    class Result:
        path, prediction = Path("x.wav"), MIXED

    assert segments_csv([Result], ["music", "speech"]).splitlines()[1] == "x.wav,0.000,2.000,silence,0.5000,0.5000"


def test_label_files_never_share_a_name():
    paths = [Path("/data/a/beep.wav"), Path("/data/b/beep.wav"), Path("/data/x/s/beep.wav"), Path("/data/y/s/beep.wav")]
    paths += [Path("/data/blues.wav"), Path("/data/Blues.flac"), Path("/rel/talk.wav")]
    named = audacity_label_paths(paths, Path("/out/labels.txt"))
    assert [p.name for p in named] == [
        "labels-a-beep.txt",
        "labels-b-beep.txt",
        "labels-x-s-beep.txt",
        "labels-y-s-beep.txt",
        "labels-data-blues.txt",
        "labels-data-Blues (2).txt",
        "labels-talk.txt",
    ]
    assert {p.parent for p in named} == {Path("/out")}
    assert audacity_label_paths([Path("/a/beep.wav")], Path("/out/results.csv")) == [Path("/out/results.txt")]
