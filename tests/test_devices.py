"""Playback through a real virtual sound device (PulseAudio null sink), heard on its monitor."""

import subprocess
import time

import numpy as np
import pytest

from core.audio import load_audio
from core.devices import DeviceError, Player, output_devices


def record_monitor(seconds: float, rate: int = 16000) -> subprocess.Popen:
    return subprocess.Popen(
        [
            "parecord",
            "--device=vsink.monitor",
            "--raw",
            "--format=float32le",
            f"--rate={rate}",
            "--channels=1",
            "--latency-msec=20",
        ],
        stdout=subprocess.PIPE,
    )


def test_the_virtual_device_is_listed(virtual_audio):
    assert any(d.outputs > 0 for d in output_devices())


def test_a_played_clip_reaches_the_device(virtual_audio, music_clip):
    clip = load_audio(music_clip, 16000).samples[: 16000 * 2]
    recorder = record_monitor(4)
    time.sleep(0.3)
    player = Player(clip, 16000)
    player.play()
    positions = []
    while player.playing:
        positions.append(player.position_s)
        time.sleep(0.05)
    time.sleep(0.3)
    recorder.terminate()
    heard = np.frombuffer(recorder.communicate()[0], dtype=np.float32)
    assert positions == sorted(positions) and positions[-1] > 1.5  # the position moves forward with the sound
    assert np.sqrt(np.mean(heard**2)) > 0.3 * np.sqrt(np.mean(clip**2))
    # the sound server resamples, so compare loudness contours (20 ms frames) at the best offset
    sent, got = envelope(clip[8000:24000]), envelope(heard)  # the middle second: the recorder may start late
    best = max(np.corrcoef(sent, got[k : k + len(sent)])[0, 1] for k in range(0, len(got) - len(sent) + 1))
    assert best > 0.9


def envelope(x, frame=320):
    n = len(x) // frame
    return np.sqrt(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1))


def test_pause_keeps_the_place_and_stop_rewinds(virtual_audio, speech_clip):
    player = Player(load_audio(speech_clip, 16000).samples, 16000)
    player.play()
    time.sleep(0.6)
    player.pause()
    here = player.position_s
    assert 0.2 < here < 1.0 and not player.playing
    time.sleep(0.2)
    assert player.position_s == pytest.approx(here, abs=1e-6)
    player.seek(10.0)
    assert player.position_s == pytest.approx(10.0)
    player.stop()
    assert player.position_s == 0.0


def test_a_missing_device_is_a_clear_error(virtual_audio):
    player = Player(np.zeros(1600, np.float32), 16000, device=987)
    with pytest.raises(DeviceError, match="cannot play"):
        player.play()
