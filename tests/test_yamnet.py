"""The YAMNet-embeddings recipe: its weights' download against a real local HTTP server serving the real file,
and a real model trained on a few real clips that calls held-out real clips right."""

import hashlib
import http.server
import json
import os
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from musicspeech.core import yamnet
from musicspeech.core.errors import Cancelled, DownloadError, ModelError
from musicspeech.core.features import frame_features, windows
from musicspeech.core.recipes import YAMNET

from .conftest import GTZAN_MUSIC, GTZAN_SPEECH, REPO, link_subset

WEIGHTS_DIR = Path(os.environ.get("MUSICSPEECH_YAMNET_WEIGHTS", REPO.parent / "shared" / "models" / "yamnet"))


@pytest.fixture(scope="module")
def weights() -> bytes:
    path = WEIGHTS_DIR / "yamnet.tflite"
    if not path.is_file():
        pytest.fail(f"YAMNet's weights are missing at {path} (set MUSICSPEECH_YAMNET_WEIGHTS)")
    return path.read_bytes()


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # clients that hang up early are expected here
        pass


class Server:
    """A local HTTP server on 127.0.0.1 serving `body` as yamnet.tflite, honouring range requests (unless
    `ranges` is False); "slow" mode trickles it 16 kB at a time. `requests` records each request's Range header."""

    def __init__(self, body: bytes, slow: bool = False, ranges: bool = True):
        self.body, self.slow, self.ranges = body, slow, ranges
        self.requests: list[str | None] = []
        self.stopping = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                asked = self.headers.get("Range")
                outer.requests.append(asked)
                start = int(asked.split("=")[1].split("-")[0]) if asked and outer.ranges else 0
                body = outer.body[start:]
                self.send_response(206 if start else 200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(outer.body) - 1}/{len(outer.body)}")
                self.end_headers()
                step = 16_384 if outer.slow else len(body) or 1
                for i in range(0, len(body), step):
                    if outer.slow and outer.stopping.wait(0.02):
                        break
                    try:
                        self.wfile.write(body[i : i + step])
                        self.wfile.flush()
                    except OSError:  # the client hung up (a cancel)
                        break

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/yamnet.tflite"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve():
    servers = []

    def start(body: bytes, **kw) -> Server:
        servers.append(Server(body, **kw))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_with_progress_puts_the_checked_file_in_place(weights, serve, tmp_path):
    server = serve(weights)
    seen = []
    path = yamnet.download_weights(tmp_path / "yamnet", url=server.url, progress=lambda d, t: seen.append((d, t)))
    assert path == tmp_path / "yamnet" / "yamnet.tflite"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == yamnet.YAMNET_SHA256
    assert files_in(tmp_path / "yamnet") == ["yamnet.tflite"]  # nothing half-written beside it
    assert seen[0] == (0, len(weights)) and seen[-1] == (len(weights), len(weights))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) > 10
    assert yamnet.have_weights(tmp_path / "yamnet")
    # There already: no network needed (the server is gone).
    server.close()
    assert yamnet.download_weights(tmp_path / "yamnet", url=server.url) == path


def test_a_file_with_another_checksum_is_refused_and_nothing_is_left(weights, serve, tmp_path):
    damaged = bytearray(weights)
    damaged[len(damaged) // 2] ^= 0xFF
    server = serve(bytes(damaged))
    with pytest.raises(DownloadError) as e:
        yamnet.download_weights(tmp_path / "yamnet", url=server.url)
    assert "SHA-256" in str(e.value) and "\n" not in str(e.value)
    assert files_in(tmp_path / "yamnet") == []
    assert not yamnet.have_weights(tmp_path / "yamnet")


def test_cancel_leaves_no_weights_and_the_next_try_resumes(weights, serve, tmp_path):
    folder = tmp_path / "yamnet"
    server = serve(weights, slow=True)
    seen = []
    with pytest.raises(Cancelled):
        yamnet.download_weights(
            folder, url=server.url, progress=lambda d, t: seen.append(d), cancel=lambda: len(seen) > 20
        )
    assert not (folder / "yamnet.tflite").exists() and not yamnet.have_weights(folder)
    partial = folder / "yamnet.tflite.download"
    kept = partial.stat().st_size
    assert 0 < kept < len(weights)
    with pytest.raises(ModelError, match="YAMNet's weights"):
        yamnet.Embedder.load(folder)
    # The next try asks for the rest only, and the whole file checks out.
    resumed = serve(weights)
    path = yamnet.download_weights(folder, url=resumed.url)
    assert resumed.requests == [f"bytes={kept}-"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == yamnet.YAMNET_SHA256
    assert files_in(folder) == ["yamnet.tflite"]


def test_a_server_that_ignores_the_range_gives_a_clean_restart(weights, serve, tmp_path):
    folder = tmp_path / "yamnet"
    folder.mkdir()
    (folder / "yamnet.tflite.download").write_bytes(b"not the start of the file" * 100)
    server = serve(weights, ranges=False)
    path = yamnet.download_weights(folder, url=server.url)
    assert server.requests == ["bytes=2500-"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == yamnet.YAMNET_SHA256
    assert files_in(folder) == ["yamnet.tflite"]


def test_no_server_gives_one_plain_line_saying_how_to_work_offline(tmp_path):
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError) as e:
        yamnet.download_weights(tmp_path / "yamnet", url=f"http://127.0.0.1:{port}/yamnet.tflite", timeout_s=5)
    message = str(e.value)
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith("Cannot download YAMNet's weights") and "refused" in message
    assert "To work offline, copy yamnet.tflite" in message and message.endswith(str(tmp_path / "yamnet"))
    assert files_in(tmp_path / "yamnet") == []


def test_yamnet_windows_are_the_waveform_itself():
    spec = YAMNET.features
    x = np.random.default_rng(0).uniform(-1, 1, 16000 * 3).astype(np.float32)
    w = windows(frame_features(x, spec), spec)
    assert spec.window_shape == (130, 120) and spec.model_input_shape == (1024,)
    assert len(w) == 1 + (len(x) - 15600) // 7680
    np.testing.assert_array_equal(w[2].reshape(-1), x[2 * 7680 : 2 * 7680 + 15600])


def test_the_embedding_is_yamnets(weights):
    """The tensor read is YAMNet's pooled embedding: YAMNet's own last layer (dense 1024 -> 521, a logistic)
    applied to it gives YAMNet's scores, and those call music music and speech speech."""
    from musicspeech.core.audio import load_audio

    embedder = yamnet.Embedder(weights)
    music = load_audio(GTZAN_MUSIC / "classical.wav", 16000).samples[:15600]
    speech = load_audio(GTZAN_SPEECH / "allison.wav", 16000).samples[:15600]
    e = embedder(np.stack([music, speech]))
    assert e.shape == (2, 1024) and np.all(e >= 0) and e.max() > 0.1  # a mean of ReLUs
    scores = []
    for patch in (music, speech):  # YAMNet's own output, for the class map's Speech (0) and Music (132)
        interpreter = embedder._interpreter()
        interpreter.set_tensor(embedder._local.input, patch[None])
        interpreter.invoke()
        out = interpreter.get_output_details()[0]["index"]
        scores.append(interpreter.get_tensor(out)[0][[0, 132]])
    assert scores[0][1] > scores[0][0] and scores[1][0] > scores[1][1]


@pytest.fixture(scope="module")
def trained_path(weights, tmp_path_factory):
    """The YAMNet recipe trained on 4 + 4 real GTZAN clips, saved; YAMNet's weights found through the
    environment while the module's tests run. Without the recipe's augmented copies: a third of the time."""
    from musicspeech.core.augment import AugmentSettings
    from musicspeech.core.datasets import from_folder
    from musicspeech.core.recipes import recipe_settings
    from musicspeech.core.training import train

    root = tmp_path_factory.mktemp("yamnet-model")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MUSICSPEECH_YAMNET_DIR", str(WEIGHTS_DIR))
        data = link_subset(
            root / "data", music=["blues", "jazz", "rock", "bagpipe"], speech=["acomic", "amal", "china", "voice"]
        )
        result = train(
            from_folder(data), recipe_settings("yamnet", val_fraction=0.0, seed=0, augment=AugmentSettings())
        )
        yield result.bundle.save(root / "yamnet.msmodel")


def test_recipe_learns_from_a_few_real_clips_and_classifies_held_out_ones(trained_path, tmp_path, monkeypatch):
    from musicspeech.core.inference import Classifier

    classifier = Classifier.from_path(trained_path)  # the saved file: YAMNet, then the head, in LiteRT
    held_out = [GTZAN_MUSIC / f"{n}.wav" for n in ("classical", "pop", "hendrix", "winds")] + [
        GTZAN_SPEECH / f"{n}.wav" for n in ("allison", "charles", "comedy", "teachers1")
    ]
    called = [r.prediction.label for r in classifier.classify_files(held_out)]
    assert called == ["music"] * 4 + ["speech"] * 4
    # Without YAMNet's weights the model cannot run, and says so in one line.
    monkeypatch.setenv("MUSICSPEECH_YAMNET_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(ModelError) as e:
        Classifier.from_path(trained_path)
    assert "YAMNet's weights" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.slow  # a training run of its own with held-out clips (~15 s); quick: the fixture's model above
def test_the_recipes_evaluation_runs_yamnet_then_the_head_through_the_analyser(tmp_path, monkeypatch):
    """Training's evaluation with the YAMNet recipe: the held-out clips through the app's analyser (YAMNet's
    embeddings, then the head's flatbuffer, then the verdict policy), as the saved file calls them."""
    from musicspeech.core.augment import AugmentSettings
    from musicspeech.core.datasets import from_folder
    from musicspeech.core.inference import Classifier
    from musicspeech.core.recipes import recipe_settings
    from musicspeech.core.training import train

    monkeypatch.setenv("MUSICSPEECH_YAMNET_DIR", str(WEIGHTS_DIR))
    music = ["blues", "jazz", "rock", "bagpipe", "pop", "winds"]
    speech = ["acomic", "amal", "china", "voice", "allison"]
    dataset = from_folder(link_subset(tmp_path / "data", music=music, speech=speech))
    held = {"music/pop.wav", "music/winds.wav", "speech/allison.wav"}
    split = ([c for c in dataset.clips if c.name not in held], [c for c in dataset.clips if c.name in held])
    result = train(dataset, recipe_settings("yamnet", seed=0, augment=AugmentSettings()), split=split)
    ev = result.evaluation
    assert ev.called == ("music", "speech", "silence") and sorted(o.name for o in ev.clips) == sorted(held)
    saved = Classifier.from_path(result.bundle.save(tmp_path / "yamnet.msmodel"))
    assert [o.predicted for o in ev.clips] == [saved.classify_path(o.source).label for o in ev.clips]
    assert sum(map(sum, ev.confusion)) == 3 and ev.clip_accuracy >= 2 / 3


@pytest.mark.slow
def test_live_mode_runs_the_yamnet_model_as_files_do(trained_path):
    """Live audio through a YAMNet model: the same windows as the file's (so the same probabilities), and the
    verdict follows speech, then music."""
    from musicspeech.core.audio import Waveform, load_audio
    from musicspeech.core.inference import Classifier
    from musicspeech.core.live import LiveAnalyzer, LiveListener, LiveSettings

    classifier = Classifier.from_path(trained_path)
    speech = load_audio(GTZAN_SPEECH / "charles.wav", 16000).samples[: 10 * 16000]
    music = load_audio(GTZAN_MUSIC / "pop.wav", 16000).samples[: 10 * 16000]
    audio = np.concatenate([speech, music])

    class Collect(LiveListener):
        def __init__(self):
            self.verdicts, self.segments = [], []

        def verdict(self, verdict):
            self.verdicts.append(verdict)

        def segment(self, segment):
            self.segments.append(segment)

    got = Collect()
    analyzer = LiveAnalyzer(classifier, LiveSettings(window_s=0.975, hop_s=0.48), got)
    for a in range(0, len(audio), 3000):
        analyzer.feed(audio[a : a + 3000])
    analyzer.finish()
    assert [s.label for s in got.segments if s.end_s - s.start_s > 1.0] == ["speech", "music"]
    file_prediction = classifier.classify(Waveform(audio, 16000))
    by_start = dict(
        zip(np.round(file_prediction.window_starts_s, 3), file_prediction.window_probabilities, strict=True)
    )
    matched = [v for v in got.verdicts if round(v.start_s, 3) in by_start]
    assert len(matched) >= len(by_start) - 1
    for v in matched:
        expected = by_start[round(v.start_s, 3)]
        assert [v.probabilities[k] for k in classifier.labels] == pytest.approx(expected, abs=1e-4)


@pytest.mark.slow
def test_train_tab_downloads_yamnet_then_trains_the_recipe(window, qtbot, weights, serve, tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    server = serve(weights)
    monkeypatch.setenv("MUSICSPEECH_YAMNET_DIR", str(folder))
    monkeypatch.setenv("MUSICSPEECH_YAMNET_URL", server.url)
    data = link_subset(
        tmp_path / "data", music=["blues", "jazz", "rock", "pop"], speech=["acomic", "amal", "china", "voice"]
    )
    tab = window.train_tab
    tab.set_source(data)
    tab.recipe.setCurrentText("yamnet")
    assert not tab.window.isEnabled()  # YAMNet's window is fixed (0.975 s)
    formats = []
    tab.progress.valueChanged.connect(lambda _: formats.append(tab.progress.format()))
    tab.start_button.click()
    qtbot.waitUntil(lambda: tab.result is not None, timeout=180_000)
    assert any(f.startswith("downloading YAMNet") for f in formats)  # the download showed its progress first
    assert server.requests == [None] and yamnet.have_weights(folder)
    assert tab.result.bundle.features.kind == "yamnet" and tab.result.evaluation is not None
    assert tab.progress.format() == "done"


@pytest.mark.slow
def test_the_command_line_downloads_yamnet_then_classifies_with_a_yamnet_model(weights, serve, trained_path, tmp_path):
    """`musicspeech download --yamnet` from a mirror, then `classify --model` a YAMNet model, as a user would."""
    from .test_cli import run

    env = {"MUSICSPEECH_YAMNET_DIR": str(tmp_path / "weights")}
    server = serve(weights)
    proc = run("download", "--yamnet", "--url", server.url, env=env, check_code=0)
    assert "YAMNet's weights are ready" in proc.stdout and "Apache" in proc.stdout
    assert yamnet.have_weights(tmp_path / "weights")
    clips = [GTZAN_MUSIC / "winds.wav", GTZAN_SPEECH / "teachers1.wav"]
    proc = run("classify", "--model", trained_path, "--format", "json", *clips, env=env, check_code=0)
    assert [json.loads(line)["label"] for line in proc.stdout.splitlines()] == ["music", "speech"]
    # Offline and no weights: one line that says what to do, and a failure code.
    proc = run("classify", "--model", trained_path, clips[0], env={"MUSICSPEECH_YAMNET_DIR": str(tmp_path / "no")})
    assert proc.returncode != 0 and "YAMNet's weights" in proc.stderr and "Traceback" not in proc.stderr
