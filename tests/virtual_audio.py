"""A real virtual sound device for the tests and benchmarks: PulseAudio (from Debian's packages) with a null sink.

Start it before sounddevice is first imported (PortAudio scans the devices when it loads), with this process's
XDG_RUNTIME_DIR set to its runtime folder, so that PortAudio finds it.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np


class VirtualAudio:
    """A real virtual sound device: PulseAudio with a null sink `vsink`, whose monitor is the default microphone.

    The server runs as a child of the tests (not daemonized), in a private runtime folder, so that a test can
    take it away in the middle of a stream (`stop`) and bring it back (`start`) the way a device comes and goes.
    """

    SINK = "vsink"

    def __init__(self, runtime: Path):
        self.runtime = Path(runtime)
        self.env = {**os.environ, "XDG_RUNTIME_DIR": str(self.runtime)}
        self.proc = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "pulseaudio",
                "--daemonize=no",
                "--use-pid-file=no",
                "--exit-idle-time=-1",
                "-n",
                f"--load=module-null-sink sink_name={self.SINK}",
                "--load=module-native-protocol-unix",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=self.env,
        )
        for _ in range(100):
            if subprocess.run(["pactl", "info"], capture_output=True, check=False, env=self.env).returncode == 0:
                break
            time.sleep(0.05)
        else:
            self.stop()
            raise RuntimeError("PulseAudio did not start")
        subprocess.run(["pactl", "set-default-sink", self.SINK], check=True, env=self.env)
        subprocess.run(["pactl", "set-default-source", f"{self.SINK}.monitor"], check=True, env=self.env)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()  # as a device that vanishes: no goodbye to the clients
            self.proc.wait()
            self.proc = None

    def play(self, samples, rate_hz: int = 16000):
        """Start playing float32 samples into the sink and return at once (the `pacat` process; `.wait()` for
        the end). The samples go through a file: a pipe would block the caller at playback speed."""
        with tempfile.NamedTemporaryFile(dir=self.runtime, suffix=".f32", delete=False) as f:
            f.write(np.asarray(samples, np.float32).tobytes())
        return subprocess.Popen(
            [
                "pacat",
                "--playback",
                f"--device={self.SINK}",
                "--format=float32le",
                f"--rate={rate_hz}",
                "--channels=1",
                "--latency-msec=50",
                f.name,
            ],
            env=self.env,
        )
