"""Runs ONE peer system on a list of files, inside the peers' venv (bench/.peers-venv), and prints JSON.

    bench/.peers-venv/bin/python bench/peer_adapter.py PEER FILE_LIST [RUNS]

PEER is ina (inaSpeechSegmenter), silero (Silero VAD), yamnet (YAMNet, zero-shot), pyaa (pyAudioAnalysis) or
webrtc (WebRTC VAD);
FILE_LIST has one audio path a line. Prints one JSON object: the peer, its version, the seconds it took to load
(with a first call on the first file), and per file p(speech), the verdict and the seconds each of RUNS passes
took (decoding, features and model: the whole call).
Each peer runs as its documentation says; this file never imports the project (its own venv has no TensorFlow
of ours, and ours has none of the peers' packages). The verdict rules are in `PEERS` below.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from importlib.metadata import version
from pathlib import Path

warnings.filterwarnings("ignore")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# inaSpeechSegmenter's model, copied there by bench/setup_peers.sh (it would otherwise be downloaded)
os.environ.setdefault("KERAS_HOME", str(Path(sys.prefix) / "keras"))


def read_16k(path: str):
    """Mono float32 at 16 kHz (soundfile, then soxr HQ), for the peers that take samples rather than files."""
    import numpy as np
    import soundfile as sf
    import soxr

    x, rate = sf.read(path, dtype="float32", always_2d=True)
    x = x.mean(axis=1, dtype=np.float32)
    return soxr.resample(x, rate, 16000, quality="HQ").astype(np.float32) if rate != 16000 else x


def ina():
    """inaSpeechSegmenter, speech/music/noise engine: p(speech) = speech seconds / (speech + music seconds)."""
    from inaSpeechSegmenter import Segmenter

    seg = Segmenter(vad_engine="smn", detect_gender=False, batch_size=1024)

    def run(path: str):
        speech = music = 0.0
        found = seg(path)
        for label, start, end in found:
            if label == "speech":
                speech += end - start
            elif label == "music":
                music += end - start
        p = speech / (speech + music) if speech + music else 0.5
        return p, [{"label": label, "start_s": float(a), "end_s": float(b)} for label, a, b in found]

    return "inaSpeechSegmenter", run


def silero():
    """Silero VAD (its TorchScript model): p(speech) = the share of time inside its speech timestamps."""
    import torch
    from silero_vad import get_speech_timestamps, load_silero_vad

    model = load_silero_vad()

    def run(path: str) -> float:
        x = torch.from_numpy(read_16k(path))
        stamps = get_speech_timestamps(x, model, sampling_rate=16000)
        return sum(s["end"] - s["start"] for s in stamps) / max(1, len(x))

    return "silero-vad", run


def yamnet():
    """YAMNet (AudioSet, 521 classes), zero-shot, as TensorFlow Lite (../shared/models/yamnet): on patches of
    0.975 s every 0.48 s, p(speech) = the mean of Speech / (Speech + Music) scores."""
    import numpy as np
    import tensorflow as tf

    shared = Path(os.environ.get("MUSICSPEECH_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    interpreter = tf.lite.Interpreter(model_path=str(shared / "models" / "yamnet" / "yamnet.tflite"))
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]["index"]
    out = interpreter.get_output_details()[0]["index"]
    patch, hop = 15600, 7680

    def run(path: str) -> float:
        x = read_16k(path)
        if len(x) < patch:
            x = np.pad(x, (0, patch - len(x)))
        ratios = []
        for a in range(0, len(x) - patch + 1, hop):
            interpreter.set_tensor(inp, x[a : a + patch].astype(np.float32))
            interpreter.invoke()
            scores = interpreter.get_tensor(out).reshape(-1)
            ratios.append(scores[0] / max(scores[0] + scores[132], 1e-9))
        return float(np.mean(ratios))

    return "tensorflow-cpu", run


def pyaa():
    """pyAudioAnalysis, its shipped speech/music SVM (`svm_rbf_sm`) on mid-term features: its p(speech)."""
    import pyAudioAnalysis
    from pyAudioAnalysis import audioTrainTest

    model = str(Path(pyAudioAnalysis.__file__).parent / "data" / "models" / "svm_rbf_sm")

    def run(path: str) -> float:
        _, probabilities, classes = audioTrainTest.file_classification(path, model, "svm_rbf")
        return float(probabilities[list(classes).index("speech")])

    return "pyAudioAnalysis", run


def webrtc():
    """WebRTC VAD, mode 3, 30 ms frames of 16-bit 16 kHz audio: p(speech) = the share of voiced frames."""
    import numpy as np
    import webrtcvad

    frame = 480  # 30 ms at 16 kHz

    def run(path: str) -> float:
        vad = webrtcvad.Vad(3)  # a fresh one per file: it adapts to what it heard
        pcm = (np.clip(read_16k(path), -1, 1) * 32767).astype("<i2").tobytes()
        n = len(pcm) // (2 * frame)
        voiced = sum(vad.is_speech(pcm[i * 2 * frame : (i + 1) * 2 * frame], 16000) for i in range(n))
        return voiced / n if n else 0.5

    return "webrtcvad-wheels", run


PEERS = {"ina": ina, "silero": silero, "yamnet": yamnet, "pyaa": pyaa, "webrtc": webrtc}
"""Every peer: verdict speech when p(speech) >= 0.5, else music."""


def main(argv: list[str]) -> int:
    name, file_list, runs = argv[0], argv[1], int(argv[2]) if len(argv) > 2 else 1
    result_out = os.fdopen(os.dup(1), "w")  # the JSON goes here; what the peers print goes to stderr
    os.dup2(2, 1)
    paths = [line for line in Path(file_list).read_text().splitlines() if line.strip()]
    start = time.perf_counter()
    package, run = PEERS[name]()
    if paths:  # a first call outside the timing: lazy imports, graph building
        run(paths[0])
    load_s = time.perf_counter() - start
    files = [{"path": path, "seconds": []} for path in paths]
    for _ in range(runs):
        for item in files:
            t = time.perf_counter()
            try:
                got = run(item["path"])
                p, segments = got if isinstance(got, tuple) else (got, None)
                item.update(p_speech=float(p), label="speech" if p >= 0.5 else "music")
                if segments is not None:
                    item["segments"] = segments
            except Exception as e:  # a peer that fails on a file: counted as wrong, shown in the table
                item["error"] = f"{type(e).__name__}: {e}"[:200]
            item["seconds"].append(time.perf_counter() - t)
    out = {"peer": name, "package": package, "version": version(package), "load_s": load_s, "files": files}
    json.dump(out, result_out)
    result_out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
