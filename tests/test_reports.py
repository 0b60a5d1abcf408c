"""Audacity label tracks, one per audio file: their names never clash."""

from pathlib import Path

from musicspeech.core.reports import audacity_label_paths


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


def test_one_file_gets_the_name_typed_as_a_label_track():
    assert audacity_label_paths([Path("/a/beep.wav")], Path("/out/mine.txt")) == [Path("/out/mine.txt")]
    assert audacity_label_paths([Path("/a/beep.wav")], Path("/out/results.csv")) == [Path("/out/results.txt")]
