"""Long runs keep their memory flat: live mode (the analyzer over half an hour of real audio, and a session on the
virtual sound device for a minute) and a two-hour file classified three times. bench/longrun.py measures the
same over ten minutes of the app's Live tab on the device; these check that nothing grows with time."""

import json
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pytest

from musicspeech.core.audio import load_audio
from musicspeech.core.inference import Classifier
from musicspeech.core.live import LiveAnalyzer, LiveListener, LiveSession, LiveSettings
from musicspeech.core.paths import shipped_model_path

from .conftest import GTZAN_MUSIC, GTZAN_SPEECH, REPO

pytestmark = pytest.mark.slow
RATE = 16000


@pytest.fixture(scope="module")
def classifier():
    return Classifier.from_path(shipped_model_path())


@pytest.fixture(scope="module")
def programme():
    """Ten minutes of real GTZAN speech and music in turn, 30 s each."""
    speech, music = sorted(GTZAN_SPEECH.glob("*.wav")), sorted(GTZAN_MUSIC.glob("*.wav"))
    pieces = [
        load_audio(p, RATE).samples[: 30 * RATE] for pair in zip(speech[:10], music[:10], strict=True) for p in pair
    ]
    return np.concatenate(pieces)


class Count(LiveListener):
    """Counts what the loop reports and keeps nothing (a listener that kept everything would grow by itself)."""

    def __init__(self):
        self.verdicts, self.segments, self.labels = 0, 0, set()

    def verdict(self, verdict):
        self.verdicts += 1

    def segment(self, segment):
        self.segments += 1
        self.labels.add(segment.label)


def traced_mb() -> float:
    return tracemalloc.get_traced_memory()[0] / 2**20


def test_the_live_analyzer_over_half_an_hour_of_audio_keeps_its_memory_flat(classifier, programme):
    got = Count()
    analyzer = LiveAnalyzer(classifier, LiveSettings(), got)
    block = RATE  # 1 s: ten verdicts a model call (a sound device hands over 0.1 s or less; the same code)
    tracemalloc.start()
    try:
        marks = []
        for minute in range(30):
            offset = (minute % 10) * 60 * RATE
            chunk = programme[offset : offset + 60 * RATE]
            for a in range(0, len(chunk), block):
                analyzer.feed(chunk[a : a + block])
            if minute in (9, 29):
                marks.append(traced_mb())
    finally:
        tracemalloc.stop()
    assert got.verdicts >= 30 * 60 * 10 - 20  # a verdict every 0.1 s
    assert {"music", "speech"} <= got.labels <= {"music", "speech", "silence"} and got.segments >= 55  # turns followed
    assert marks[1] - marks[0] < 0.5, marks  # MB of Python and numpy memory, 10 min -> 30 min


def test_a_live_session_on_the_device_keeps_its_memory_flat(virtual_audio, classifier, programme):
    got = Count()
    session = LiveSession(classifier, LiveSettings(), listener=got)
    player = virtual_audio.play(programme[: 75 * RATE])
    tracemalloc.start()
    session.start()
    try:
        time.sleep(25)  # the rolling buffer, the queues and the model's first calls are in place
        early = traced_mb()
        time.sleep(45)
        late = traced_mb()
    finally:
        session.stop()
        tracemalloc.stop()
        player.kill()
    assert got.verdicts >= 60 * 10 and got.labels >= {"music", "speech"}
    assert late - early < 1.0, (early, late)


CHILD = """
import json, os, sys
import numpy as np
from musicspeech.core.audio import Waveform
from musicspeech.core.inference import Classifier
from musicspeech.core.paths import shipped_model_path

def rss_mb():
    for line in open(f"/proc/{os.getpid()}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

classifier = Classifier.from_path(shipped_model_path())
classifier.classify(Waveform(np.zeros(16000, np.float32), 16000))
out = {"loaded": rss_mb(), "passes": []}
for _ in range(3):
    (result,) = classifier.classify_files([sys.argv[1]])
    p = result.prediction
    out["passes"].append({"rss": rss_mb(), "duration_s": p.duration_s, "labels": [s.label for s in p.segments]})
    del result, p
print(json.dumps(out))
"""


def test_a_two_hour_file_is_classified_and_memory_stays_flat(tmp_path, programme):
    import soundfile as sf

    path = tmp_path / "two hours.wav"
    with sf.SoundFile(path, "w", samplerate=RATE, channels=1, subtype="PCM_16") as out:
        for _ in range(12):  # 12 x 10 minutes
            out.write(programme)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], cwd=REPO, capture_output=True, text=True, timeout=900, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    passes = out["passes"]
    assert all(p["duration_s"] == pytest.approx(7200, abs=0.1) for p in passes)
    labels = passes[0]["labels"]
    assert len(labels) >= 200 and {"music", "speech"} <= set(labels) <= {"music", "speech", "silence"}  # 240 turns
    assert all(p["labels"] == labels for p in passes)
    array_mb = 7200 * RATE * 4 / 2**20
    assert passes[0]["rss"] - out["loaded"] < array_mb  # the decoded file is not kept after the result
    # No leak: what a pass leaves behind would be hundreds of MB (the decoded file is 439 MB). The allocator's
    # own ups and downs between passes were seen up to 28 MB (125, 124, 151 MB after the passes, 2026-12-03).
    assert passes[2]["rss"] - passes[1]["rss"] < 50, [p["rss"] for p in passes]
    assert passes[2]["rss"] - passes[0]["rss"] < 50, [p["rss"] for p in passes]
