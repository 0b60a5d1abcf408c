"""GTZAN through tensorflow-datasets, for real, against local HTTP servers (this machine has no internet)."""

import http.server
import tarfile
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from core.errors import Cancelled, DownloadError
from core.tfds_source import download_gtzan, is_prepared, load_gtzan

from .conftest import GTZAN_MUSIC, GTZAN_SPEECH

CLIPS = [(GTZAN_MUSIC, "blues"), (GTZAN_MUSIC, "jazz"), (GTZAN_SPEECH, "acomic"), (GTZAN_SPEECH, "allison")]


@pytest.fixture(scope="module")
def archive(tmp_path_factory, gtzan_dir):
    """A small music_speech.tar.gz in the original layout: 2 + 2 real clips cut to 3 s."""
    root = tmp_path_factory.mktemp("archive")
    for folder, name in CLIPS:
        x, rate = sf.read(folder / f"{name}.wav", dtype="int16", frames=3 * 22050)
        out = root / "music_speech" / folder.name / f"{name}.wav"
        out.parent.mkdir(parents=True, exist_ok=True)
        sf.write(out, x, rate, subtype="PCM_16")
    path = root / "music_speech.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(root / "music_speech", arcname="music_speech")
    return path


class Server:
    """A local HTTP server on 127.0.0.1 that serves `body` as the archive, in one of a few behaviours."""

    def __init__(self, body: bytes, mode: str = "ok"):
        self.body, self.mode, self.requests = body, mode, 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_HEAD(self):
                outer.requests += 1
                self._headers()

            def do_GET(self):
                outer.requests += 1
                self._headers()
                if outer.mode == "drop":  # a few bytes, then the connection is gone
                    self.wfile.write(outer.body[:1000])
                    self.wfile.flush()
                    self.connection.close()
                elif outer.mode == "slow":  # trickles for a long time
                    for i in range(0, len(outer.body), 2000):
                        self.wfile.write(outer.body[i : i + 2000])
                        self.wfile.flush()
                        time.sleep(0.2)
                else:
                    self.wfile.write(outer.body)

            def _headers(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/gzip")
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/music_speech.tar.gz"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def leftovers(data_dir):
    return sorted(
        str(p.relative_to(data_dir))
        for p in data_dir.rglob("*")
        if "incomplete" in p.name or ".tmp." in p.name or "extracted" in p.parts
    )


def test_download_prepare_and_load_then_offline(archive, tmp_path):
    server = Server(archive.read_bytes())
    seen = []
    try:
        ds = load_gtzan(tmp_path, url=server.url, progress=lambda done, total: seen.append((done, total)))
    finally:
        server.close()
    assert ds.labels == ("music", "speech") and ds.counts() == {"music": 2, "speech": 2}
    assert [c.name for c in ds.clips] == [
        "music/blues.wav",
        "music/jazz.wav",
        "speech/acomic.wav",
        "speech/allison.wav",
    ]
    for clip, (folder, name) in zip(ds.clips, sorted(CLIPS, key=lambda c: (c[0].name, c[1])), strict=True):
        reference, _ = sf.read(folder / f"{name}.wav", dtype="int16", frames=3 * 22050)
        np.testing.assert_array_equal(clip.samples, reference)
        assert clip.rate_hz == 22050
        assert clip.waveform(16000).duration_s == pytest.approx(3.0, abs=0.01)
    assert seen and seen[-1] == (archive.stat().st_size, archive.stat().st_size)
    assert is_prepared(tmp_path) and leftovers(tmp_path) == []
    again = load_gtzan(tmp_path, download=False)  # the server is gone: no network needed any more
    assert [c.name for c in again.clips] == [c.name for c in ds.clips]


def test_unreachable_host_fails_fast_and_points_to_the_import(tmp_path):
    server = Server(b"")
    url = server.url
    server.close()  # nothing listens on that port any more
    start = time.monotonic()
    with pytest.raises(DownloadError) as info:
        download_gtzan(tmp_path, url=url, connect_timeout_s=5)
    assert time.monotonic() - start < 30  # tensorflow-datasets alone retries for minutes
    message = str(info.value)
    assert "refused" in message and "unreachable for years" in message and "--data" in message
    assert "\n" not in message
    with pytest.raises(DownloadError, match="not downloaded yet"):
        load_gtzan(tmp_path, download=False)


def test_a_dropped_connection_leaves_nothing_that_breaks_the_next_try(archive, tmp_path):
    body = archive.read_bytes()
    server = Server(body, mode="drop")
    try:
        with pytest.raises(DownloadError, match="connection dropped") as info:
            download_gtzan(tmp_path, url=server.url)
        assert "--data" in str(info.value)
    finally:
        server.close()
    assert not is_prepared(tmp_path) and leftovers(tmp_path) == []
    server = Server(body)
    try:
        assert load_gtzan(tmp_path, url=server.url).counts() == {"music": 2, "speech": 2}
    finally:
        server.close()


def test_cancel_stops_a_download_quickly_and_cleans_up(archive, tmp_path):
    server = Server(archive.read_bytes(), mode="slow")
    seen = []
    try:
        start = time.monotonic()
        with pytest.raises(Cancelled):
            download_gtzan(
                tmp_path,
                url=server.url,
                progress=lambda d, t: seen.append(d),
                cancel=lambda: max(seen, default=0) > 10_000,
            )
        assert time.monotonic() - start < 60
    finally:
        server.close()
    assert not is_prepared(tmp_path) and leftovers(tmp_path) == []
