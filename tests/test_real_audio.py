"""The shipped model on real audio beyond plain GTZAN clips: speech over a music bed is speech, a clean studio
voice is speech, music under noise is music, silence is silence. Every clip here is one the model never trained
on: GTZAN's held-out fold (recorded in the bundle) and the out-of-domain devset (../shared/devset)."""

import importlib.util

import numpy as np
import pytest

from musicspeech.core.audio import Waveform, load_audio
from musicspeech.core.augment import mix
from musicspeech.core.datasets import from_folder
from musicspeech.core.inference import Classifier
from musicspeech.core.paths import shipped_model_path
from musicspeech.core.verdict import SILENCE

from .conftest import GTZAN_DIR, REPO
from .test_shipped_model import devset  # noqa: F401  (the fixture)

RATE = 16000


@pytest.fixture(scope="module")
def shipped():
    return Classifier.from_path(shipped_model_path())


def held_out(shipped, label: str) -> list[np.ndarray]:
    names = [n for n in shipped.bundle.info["data"]["val_clips"] if n.startswith(f"{label}/")]  # GTZAN's fold 1
    assert len(names) >= 10
    return [load_audio(GTZAN_DIR / "music_speech" / f"{label}_wav" / n.split("/")[1], RATE).samples for n in names]


@pytest.mark.parametrize("snr_db", [20, 10, 5])
def test_speech_over_a_music_bed_is_speech(shipped, snr_db):
    speech, music = held_out(shipped, "speech"), held_out(shipped, "music")
    verdicts = []
    for i, s in enumerate(speech):
        bed = music[i % len(music)][: len(s)]
        verdicts.append(shipped.classify(Waveform(mix(s[: len(bed)], bed, snr_db), RATE, "mix")).label)
    assert verdicts.count("speech") >= len(verdicts) - 1, verdicts


def test_music_under_noise_stays_music(shipped):
    rng = np.random.default_rng(0)
    verdicts = []
    for m in held_out(shipped, "music"):
        noise = rng.standard_normal(len(m)).astype(np.float32)
        verdicts.append(shipped.classify(Waveform(mix(m, noise, 15.0), RATE, "music in noise")).label)
    assert verdicts.count("music") >= len(verdicts) - 1, verdicts


def test_clean_studio_voice_prompts_are_speech(shipped, devset):  # noqa: F811
    """The devset's speech: professionally recorded voice prompts, clean, in English and Spanish."""
    speech = [c for c in devset.clips if c.label == "speech"]
    verdicts = [shipped.classify(c.waveform(RATE)).label for c in speech]
    assert verdicts.count("speech") >= len(verdicts) - 1, verdicts


def test_a_quiet_stretch_inside_music_is_silence_and_the_clip_stays_music(shipped):
    music = held_out(shipped, "music")[0]
    x = np.concatenate([music[: 8 * RATE], np.zeros(6 * RATE, np.float32), music[8 * RATE : 16 * RATE]])
    p = shipped.classify(Waveform(x, RATE, "music with a pause"))
    assert p.label == "music"
    assert [s.label for s in p.segments] == ["music", SILENCE, "music"]


def test_gtzan_folder_reader_still_sees_both_classes():
    assert from_folder(GTZAN_DIR).labels == ("music", "speech")


def test_a_voice_sung_over_music_is_more_often_music_than_before(shipped):
    """Held-out GTZAN speech sung on held notes by scripts/make_sung.py (the pool's train split holds such clips,
    made from other voices), over held-out GTZAN music with the voice 0 and 3 dB louder. Sung music is music; the
    model shipped before these clips called 4 of these 16 music, this one 8 (docs/MODEL.md). Real songs are not
    to be had here, so this checks what the made ones teach, not a rate on real songs."""
    make_sung = _script("make_sung")
    speech, music = held_out(shipped, "speech")[:8], held_out(shipped, "music")
    verdicts = []
    for voice_db in (0.0, 3.0):
        for i, s in enumerate(speech):
            voice = make_sung.sing(s[: 12 * RATE].astype(np.float64), np.random.default_rng(i), 12.0)
            bed = music[i % len(music)][: len(voice)]
            verdicts.append(shipped.classify(Waveform(mix(voice[: len(bed)], bed, voice_db), RATE, "sung")).label)
    assert verdicts.count("music") >= 7, verdicts


def _script(name: str):
    pytest.importorskip("pyworld", reason="the pool's extra (pyworld-prebuilt) sings")
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
