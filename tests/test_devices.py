"""Playback and recording through a real virtual sound device (PulseAudio null sink): what is played is heard on
its monitor, and the monitor is the microphone."""

import subprocess
import threading
import time

import numpy as np
import pytest

from musicspeech.core.audio import load_audio
from musicspeech.core.devices import DeviceError, Player, Recorder, input_devices, output_devices


def record_monitor(rate: int = 16000) -> subprocess.Popen:
    """parecord on the virtual sink's monitor, returned once it streams (so nothing played next is missed). A
    thread reads its output as it comes: parecord keeps what the pipe cannot take in its own memory, and loses
    that when it is stopped (a full 64 KB pipe is one second of audio)."""
    recorder = subprocess.Popen(
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
    recorder.heard = bytearray(recorder.stdout.read(rate // 25 * 4))  # 40 ms of the monitor's silence

    def drain() -> None:
        while chunk := recorder.stdout.read1(65536):
            recorder.heard += chunk

    recorder.reader = threading.Thread(target=drain, daemon=True)
    recorder.reader.start()
    return recorder


def stop_recording(recorder: subprocess.Popen) -> np.ndarray:
    recorder.terminate()
    recorder.wait()
    recorder.reader.join()
    heard = bytes(recorder.heard)
    return np.frombuffer(heard[: len(heard) // 4 * 4], dtype=np.float32)


def test_the_virtual_device_is_listed_default_first_with_its_rate(virtual_audio):
    for listed in (output_devices(), input_devices()):
        assert listed and listed[0].is_default and sum(d.is_default for d in listed) == 1
        assert listed[0].default_rate_hz >= 8000 and f"{listed[0].default_rate_hz} Hz" in listed[0].label


def test_a_played_clip_reaches_the_device(virtual_audio, music_clip):
    clip = load_audio(music_clip, 16000).samples[: 16000 * 2]
    recorder = record_monitor()
    player = Player(clip, 16000)
    player.play()
    positions = []
    while player.playing:
        positions.append(player.position_s)
        time.sleep(0.05)
    time.sleep(0.3)
    heard = stop_recording(recorder)
    assert positions == sorted(positions) and positions[-1] > 1.5  # the position moves forward with the sound
    assert np.sqrt(np.mean(heard**2)) > 0.3 * np.sqrt(np.mean(clip**2))
    # the sound server resamples, so compare loudness contours (20 ms frames) at the best offset
    sent = envelope(clip[8000:24000])  # the middle second: the recorder may start late
    best = best_match(sent, heard)
    assert best > 0.8  # the same contour (unrelated sound: near 0); a loaded machine drops a few blocks


def envelope(x, frame=320):
    n = len(x) // frame
    return np.sqrt(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1))


def best_match(sent: np.ndarray, heard: np.ndarray, frame=320) -> float:
    """The highest correlation of the contour `sent` with `heard`'s, over every offset to an eighth of a frame
    (whole frames alone leave up to half a frame of misalignment, which blurs a contour's peaks)."""
    best = -1.0
    for phase in range(0, frame, frame // 8):
        got = envelope(heard[phase:], frame)
        for k in range(0, len(got) - len(sent) + 1):
            best = max(best, float(np.corrcoef(sent, got[k : k + len(sent)])[0, 1]))
    return best


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


def test_playback_goes_to_the_chosen_device_and_a_missing_one_is_a_clear_error(virtual_audio, music_clip):
    clip = load_audio(music_clip, 16000).samples[: 16000 * 2]
    name = next(d.name for d in output_devices() if not d.is_default)  # "pulse" besides "default" here
    recorder = record_monitor()
    player = Player(clip, 16000, device=name)
    player.play()
    while player.playing:
        time.sleep(0.05)
    time.sleep(0.3)
    heard = stop_recording(recorder)
    assert np.sqrt(np.mean(heard**2)) > 0.3 * np.sqrt(np.mean(clip**2))
    player.device = "a speaker that is not there"
    with pytest.raises(DeviceError, match="not connected"):
        player.play()


def test_seeking_while_playing_goes_on_from_there(virtual_audio, speech_clip):
    player = Player(load_audio(speech_clip, 16000).samples, 16000)
    player.play()
    time.sleep(0.3)
    player.seek(20.0)
    time.sleep(0.5)
    here = player.position_s
    player.stop()
    assert 20.0 <= here < 21.0


def test_a_recording_holds_what_was_played_into_the_device(virtual_audio, music_clip):
    clip = load_audio(music_clip, 16000).samples[16000 * 5 : 16000 * 8]
    recorder = Recorder()
    recorder.start()
    assert wait_until(lambda: recorder.seconds > 0.2, 10), "no audio from the virtual microphone"
    quiet = recorder.level_dbfs()
    virtual_audio.play(clip).wait()
    loud = recorder.level_dbfs(window_s=1.0)
    time.sleep(0.3)
    take = recorder.stop()
    assert recorder.error is None and not recorder.recording
    assert take.rate_hz == recorder.rate_hz and take.duration_s > 3.0
    assert quiet < -60 and loud > -30  # the meter follows the sound
    from musicspeech.core.audio import resample

    got = resample(take.samples, take.rate_hz, 16000)
    best = best_match(envelope(clip[8000:40000]), got)  # the middle two seconds
    assert best > 0.8  # the same contour (unrelated sound: near 0); a loaded machine drops a few blocks


def test_a_recording_keeps_its_audio_when_the_device_goes_away(virtual_audio, music_clip):
    recorder = Recorder()
    recorder.start()
    try:
        virtual_audio.play(load_audio(music_clip, 16000).samples[: 16000 * 2]).wait()
        assert wait_until(lambda: recorder.seconds > 1.0, 10)
        virtual_audio.stop()
        assert wait_until(lambda: recorder.error is not None, 10)
    finally:
        if virtual_audio.proc is None:
            virtual_audio.start()
    take = recorder.stop()
    assert "no longer available" in recorder.error and "kept" in recorder.error
    assert take.duration_s > 1.0 and np.abs(take.samples).max() > 0.05


def test_a_recording_stops_at_its_limit_and_keeps_what_it_has(virtual_audio):
    recorder = Recorder(max_s=0.5)
    recorder.start()
    assert wait_until(lambda: recorder.error is not None, 10)
    take = recorder.stop()
    assert recorder.error == "recording stopped at its limit of 0.5 s"
    assert 0.5 <= take.duration_s < 0.6


def test_playback_stops_with_a_message_when_the_device_goes_away(virtual_audio, speech_clip):
    player = Player(load_audio(speech_clip, 16000).samples, 16000)
    player.play()
    try:
        time.sleep(0.5)
        virtual_audio.stop()
        assert wait_until(lambda: not player.playing, 10)
    finally:
        if virtual_audio.proc is None:
            virtual_audio.start()
    assert "no longer available" in player.error
    player.play()  # the device is back: playing works again
    assert player.playing and player.error is None
    player.stop()


def wait_until(condition, timeout_s):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_stream_that_never_stops_is_left_behind_and_closing_returns():
    """PortAudio's stop once blocked for ever in CI (the sound server gone wrong under load, a window closing after
    a failed test). That cannot be made to happen on demand, so this stream's stop blocks until it is released: the
    close gives up after its timeout, and the stream stays counted as open until its stop does return."""
    from musicspeech.core import devices

    release, closed = threading.Event(), threading.Event()

    class StuckStream:
        def stop(self):
            release.wait()

        def close(self):
            closed.set()

    devices._opened(+1)
    before = devices._open_streams
    start = time.monotonic()
    assert devices._shut(StuckStream(), timeout_s=0.3) is False
    assert time.monotonic() - start < 2.0 and devices._open_streams == before and not closed.is_set()
    release.set()
    assert closed.wait(5.0)
    deadline = time.monotonic() + 5.0
    while devices._open_streams != before - 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert devices._open_streams == before - 1
