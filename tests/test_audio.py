"""Audio loading: the format / bit depth / rate / channel matrix, and bad input, on files made here."""

import os
import subprocess

import numpy as np
import pytest
import soundfile as sf

from musicspeech.core.audio import Waveform, load_audio, write_wav
from musicspeech.core.errors import AudioError

RATE = 16000


def tone(freq_hz, seconds, rate, channels=1, amplitude=0.5):
    t = np.arange(int(seconds * rate)) / rate
    x = (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)
    return np.repeat(x[:, None], channels, axis=1) if channels > 1 else x


def peak_hz(w: Waveform) -> float:
    spectrum = np.abs(np.fft.rfft(w.samples * np.hanning(len(w.samples))))
    return float(np.fft.rfftfreq(len(w.samples), 1 / w.rate_hz)[np.argmax(spectrum)])


@pytest.fixture(scope="module")
def excerpt(music_clip):
    """4 s of a real GTZAN clip at its own rate (22,050 Hz), and the same decoded at 16 kHz as reference."""
    x, rate = sf.read(music_clip, dtype="float32", frames=4 * 22050)
    return x, rate


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
def test_wav_bit_depths(tmp_path, subtype):
    path = tmp_path / f"tone_{subtype}.wav"
    sf.write(path, tone(440, 1.0, 22050), 22050, subtype=subtype)
    w = load_audio(path, RATE)
    assert w.samples.dtype == np.float32 and w.samples.ndim == 1 and w.rate_hz == RATE
    assert w.duration_s == pytest.approx(1.0, abs=1e-3)
    assert abs(peak_hz(w) - 440) < 3
    assert np.max(np.abs(w.samples)) == pytest.approx(0.5, abs=0.03)


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000, 96000, 192000])
def test_any_sample_rate(tmp_path, rate):
    path = tmp_path / f"tone_{rate}.wav"
    sf.write(path, tone(1000, 2.0, rate), rate, subtype="PCM_16")
    w = load_audio(path, RATE)
    assert len(w.samples) == pytest.approx(2 * RATE, abs=2)
    assert abs(peak_hz(w) - 1000) < 2


@pytest.mark.parametrize("channels", [1, 2, 6, 8])
def test_channels_are_mixed_down_as_a_mean(tmp_path, channels):
    x = tone(440, 1.0, 16000, channels)
    if channels > 1:
        x[:, 1] = 0.0  # one silent channel lowers the mean
    path = tmp_path / f"ch{channels}.wav"
    sf.write(path, x, 16000, subtype="FLOAT")
    w = load_audio(path, RATE)
    expected = 0.5 * (channels - 1) / channels if channels > 1 else 0.5
    assert np.max(np.abs(w.samples)) == pytest.approx(expected, abs=1e-3)


def test_opposite_phase_stereo_cancels(tmp_path):
    x = tone(440, 1.0, 16000)
    sf.write(tmp_path / "phase.wav", np.stack([x, -x], axis=1), 16000, subtype="FLOAT")
    assert np.max(np.abs(load_audio(tmp_path / "phase.wav", RATE).samples)) < 1e-6


def ffmpeg_encode(src, dst, *args):
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(src), *args, str(dst)], check=True)
    return dst


@pytest.mark.parametrize(
    ("suffix", "min_corr"),
    [(".wav", 0.999), (".flac", 0.999), (".ogg", 0.95), (".mp3", 0.95), (".m4a", 0.95), (".opus", 0.9)],
)
def test_compressed_formats_keep_the_content(tmp_path, excerpt, suffix, min_corr):
    x, rate = excerpt
    wav = tmp_path / "ref.wav"
    sf.write(wav, x, rate, subtype="PCM_16")
    reference = load_audio(wav, RATE).samples
    path = wav if suffix == ".wav" else ffmpeg_encode(wav, tmp_path / f"excerpt{suffix}")
    w = load_audio(path, RATE)
    assert w.samples.dtype == np.float32 and w.rate_hz == RATE
    assert w.duration_s == pytest.approx(4.0, abs=0.1)  # lossy codecs pad a little
    # codecs shift by their delay: compare at the best lag within 60 ms
    n = len(reference) - 2000
    corr = max(
        np.corrcoef(reference[1000 : 1000 + n], w.samples[1000 + lag : 1000 + lag + n])[0, 1]
        for lag in range(-960, 961, 8)
        if 1000 + lag + n <= len(w.samples)
    )
    assert corr > min_corr


def test_a_real_clip_loads_at_the_model_rate(music_clip):
    w = load_audio(music_clip, RATE)
    assert len(w.samples) == 30 * RATE and w.source == str(music_clip)


def test_non_ascii_names_with_spaces(tmp_path):
    path = tmp_path / "Grüße aus Köln – 1 (live).wav"
    sf.write(path, tone(300, 0.5, 44100), 44100)
    assert load_audio(path, RATE).duration_s == pytest.approx(0.5, abs=1e-3)


def test_nan_inf_and_beyond_full_scale_floats(tmp_path):
    x = tone(440, 1.0, 16000)
    x[100:200] = np.nan
    x[300] = np.inf
    x[301] = -np.inf
    sf.write(tmp_path / "nan.wav", x, 16000, subtype="FLOAT")
    w = load_audio(tmp_path / "nan.wav", RATE)
    assert np.isfinite(w.samples).all() and np.all(w.samples[100:200] == 0)
    sf.write(tmp_path / "loud.wav", tone(440, 1.0, 16000) * 1000, 16000, subtype="FLOAT")
    loud = load_audio(tmp_path / "loud.wav", RATE)
    assert np.isfinite(loud.samples).all() and np.max(np.abs(loud.samples)) == pytest.approx(500, rel=0.01)


def test_one_sample_and_silence(tmp_path):
    sf.write(tmp_path / "one.wav", np.array([0.25], np.float32), 16000, subtype="FLOAT")
    assert len(load_audio(tmp_path / "one.wav", RATE).samples) == 1
    sf.write(tmp_path / "silence.wav", np.zeros(16000, np.float32), 16000)
    assert not np.any(load_audio(tmp_path / "silence.wav", RATE).samples)


def bad_files(tmp_path, excerpt):
    """(path, words the message must contain) for files that are not audio or are damaged."""
    x, rate = excerpt
    wav = tmp_path / "good.wav"
    sf.write(wav, x, rate, subtype="PCM_16")
    mp3 = ffmpeg_encode(wav, tmp_path / "good.mp3")
    ogg = ffmpeg_encode(wav, tmp_path / "good.ogg")
    cases = {}

    def make(name, data):
        (tmp_path / name).write_bytes(data)
        cases[tmp_path / name] = name

    make("empty.wav", b"")
    make("header_only.wav", wav.read_bytes()[:44])
    make("text.wav", b"these are meeting notes, not audio\n" * 20)
    make("text.mp3", b"hello world\n" * 50)
    make("image.m4a", b"\x89PNG\r\n\x1a\n" + os.urandom(3000))
    make("random.flac", os.urandom(5000))
    make("junk_mp3.mp3", os.urandom(4000) + b"\x00" * 100)
    make("half.ogg", ogg.read_bytes()[: len(ogg.read_bytes()) // 3])
    make("noise_only.ogg", b"OggS" + os.urandom(2000))
    (tmp_path / "folder.wav").mkdir()
    cases[tmp_path / "folder.wav"] = "folder.wav"
    cases[tmp_path / "missing.wav"] = "missing.wav"
    return cases, mp3


def test_bad_files_give_one_clear_line(tmp_path, excerpt):
    cases, _ = bad_files(tmp_path, excerpt)
    for path, name in cases.items():
        try:
            w = load_audio(path, RATE)
        except AudioError as e:
            message = str(e)
            assert name in message and "\n" not in message and "Traceback" not in message, message
            assert message.startswith("cannot read ")
        else:  # a decoder may recover something from a damaged file; it must then be real audio
            assert name in ("half.ogg", "header_only.wav") and np.isfinite(w.samples).all(), name


def test_specific_messages(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "x.wav").mkdir()
    with pytest.raises(AudioError, match="empty"):
        load_audio(tmp_path / "empty.wav", RATE)
    with pytest.raises(AudioError, match="is a folder"):
        load_audio(tmp_path / "x.wav", RATE)
    with pytest.raises(AudioError, match="no such file"):
        load_audio(tmp_path / "nope.wav", RATE)
    (tmp_path / "notes.mp3").write_text("not audio at all " * 30)
    with pytest.raises(AudioError, match="not an audio file"):
        load_audio(tmp_path / "notes.mp3", RATE)


def test_truncated_files_give_what_is_there_or_a_clear_error(tmp_path, excerpt):
    x, rate = excerpt
    wav = tmp_path / "full.wav"
    sf.write(wav, x, rate, subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(wav.read_bytes()[: 44 + 2 * rate])  # the header still says 4 s; 1 s is there
    w = load_audio(cut, RATE)
    assert w.duration_s == pytest.approx(1.0, abs=0.01)
    mp3 = ffmpeg_encode(wav, tmp_path / "full.mp3")
    half = tmp_path / "half.mp3"
    half.write_bytes(mp3.read_bytes()[: mp3.stat().st_size // 2])
    assert load_audio(half, RATE).duration_s == pytest.approx(2.0, abs=0.3)


def test_too_long_is_refused_before_decoding(tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, np.zeros(16000 * 10, np.float32), 16000)
    with pytest.raises(AudioError, match="too long"):
        load_audio(path, RATE, max_duration_s=5)


def test_write_wav_round_trips_16_bit_audio_exactly_and_clips_the_rest(tmp_path):
    pcm = np.round(tone(440, 1.0, RATE) * 32767).astype(np.int16)
    path = write_wav(tmp_path / "take.wav", Waveform(pcm.astype(np.float32) / 32768, RATE, "x"))
    x, rate = sf.read(path, dtype="int16")
    assert rate == RATE and sf.info(path).subtype == "PCM_16" and np.array_equal(x, pcm)
    loud = write_wav(tmp_path / "loud.wav", Waveform(np.array([2.0, -2.0, np.nan, 0.5], np.float32), RATE))
    assert sf.read(loud, dtype="int16")[0].tolist() == [32767, -32768, 0, 16384]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loud.wav", "take.wav"]  # nothing half-written
