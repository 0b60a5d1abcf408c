"""GTZAN through tensorflow-datasets, for real, against local HTTP servers (this machine has no internet)."""

import hashlib
import http.server
import tarfile
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from musicspeech.core import tfds_source
from musicspeech.core.errors import Cancelled, DownloadError
from musicspeech.core.tfds_source import ArchiveChecksum, download_gtzan, is_prepared, load_gtzan

from .conftest import GTZAN_MUSIC, GTZAN_SPEECH

CLIPS = [(GTZAN_MUSIC, "blues"), (GTZAN_MUSIC, "jazz"), (GTZAN_SPEECH, "acomic"), (GTZAN_SPEECH, "allison")]
SECONDS = 3


@pytest.fixture(scope="module")
def archive(tmp_path_factory, gtzan_dir):
    """A small music_speech.tar.gz in the original layout: 2 + 2 real clips cut to 3 s."""
    root = tmp_path_factory.mktemp("archive")
    for folder, name in CLIPS:
        x, rate = sf.read(folder / f"{name}.wav", dtype="int16", frames=SECONDS * 22050)
        out = root / "music_speech" / folder.name / f"{name}.wav"
        out.parent.mkdir(parents=True, exist_ok=True)
        sf.write(out, x, rate, subtype="PCM_16")
    path = root / "music_speech.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(root / "music_speech", arcname="music_speech")
    return path


def checksum_of(path) -> ArchiveChecksum:
    return ArchiveChecksum(path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest())


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # clients that hang up early are expected here
        pass


class Server:
    """A local HTTP server on 127.0.0.1 serving `body` as the archive, in one of a few behaviours:
    "ok", "drop" (a few bytes, then the connection is gone), "slow" (trickles), "stall" (a few bytes,
    then silence), "silent" (never answers), "html" (a web page), or an HTTP status code such as "404"."""

    def __init__(self, body: bytes, mode: str = "ok"):
        self.body, self.mode, self.requests = body, mode, 0
        self.stopping = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                outer.requests += 1
                if outer.mode == "silent":
                    outer.stopping.wait(60)
                    return
                if outer.mode.isdigit():
                    self.send_error(int(outer.mode))
                    return
                body = outer.body
                self.send_response(200)
                self.send_header("Content-Type", "text/html" if outer.mode == "html" else "application/gzip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if outer.mode in ("drop", "stall"):
                    self.wfile.write(body[:1000])
                    self.wfile.flush()
                    if outer.mode == "stall":
                        outer.stopping.wait(60)
                    self.close_connection = True
                elif outer.mode == "slow":
                    for i in range(0, len(body), 2000):
                        if outer.stopping.wait(0.2):
                            break
                        self.wfile.write(body[i : i + 2000])
                        self.wfile.flush()
                else:
                    self.wfile.write(body)

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/music_speech.tar.gz"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def assert_plain(message: str):
    assert "\n" not in message and "Traceback" not in message
    assert "--data" in message and "Import archive or folder" in message


def test_download_prepare_and_load_then_offline(archive, tmp_path):
    size = archive.stat().st_size
    server = Server(archive.read_bytes())
    seen = []
    try:
        ds = load_gtzan(
            tmp_path,
            url=server.url,
            progress=lambda done, total: seen.append((done, total)),
            checksum=checksum_of(archive),
        )
    finally:
        server.close()
    assert ds.source == "tensorflow-datasets gtzan_music_speech"
    assert ds.labels == ("music", "speech") and ds.counts() == {"music": 2, "speech": 2}
    assert [c.name for c in ds.clips] == [
        "music/blues.wav",
        "music/jazz.wav",
        "speech/acomic.wav",
        "speech/allison.wav",
    ]
    for clip, (folder, name) in zip(ds.clips, sorted(CLIPS, key=lambda c: (c[0].name, c[1])), strict=True):
        reference, _ = sf.read(folder / f"{name}.wav", dtype="int16", frames=SECONDS * 22050)
        assert clip.samples.dtype == np.int16 and clip.rate_hz == 22050
        np.testing.assert_array_equal(clip.samples, reference)
        wave = clip.waveform(22050)  # scaled by 16-bit full scale, as soundfile reads it
        np.testing.assert_allclose(wave.samples, reference / 32768.0, atol=1e-6)
    dones = [d for d, _ in seen]
    assert seen and dones == sorted(dones) and seen[-1] == (size, size)
    assert all(total == size for _, total in seen)
    # What stays: the prepared data set and tensorflow-datasets' copy of the archive; no extracted files.
    left = files_under(tmp_path)
    assert is_prepared(tmp_path)
    kept = ("gtzan_music_speech/1.0.0/", "downloads/gtzan_music_speech/")
    assert all(f.startswith(kept) for f in left), left
    assert len([f for f in left if f.startswith("downloads/")]) == 2  # the archive and its .INFO
    # The server is gone: neither call needs the network any more.
    assert download_gtzan(tmp_path, url=server.url, connect_timeout_s=1, checksum=checksum_of(archive)) == tmp_path
    again = load_gtzan(tmp_path, download=False)
    assert [c.name for c in again.clips] == [c.name for c in ds.clips]


def test_unreachable_hosts_fail_fast_and_point_to_the_import(tmp_path):
    closed = Server(b"")
    closed_url = closed.url
    closed.close()  # nothing listens on that port any more
    missing, html = Server(b"", mode="404"), Server(b"<html>Welcome</html>", mode="html")
    cases = [
        (closed_url, "connection was refused"),
        ("http://gtzan-music-speech.invalid/sound/music_speech.tar.gz", "host name could not be looked up"),
        (missing.url, "HTTP 404"),
        (html.url, "web page"),
    ]
    try:
        for url, reason in cases:
            start = time.monotonic()
            with pytest.raises(DownloadError) as info:
                download_gtzan(tmp_path / "data", url=url, connect_timeout_s=5)
            assert time.monotonic() - start < 30  # tensorflow-datasets alone retries for about 200 s
            message = str(info.value)
            assert reason in message and url in message and "unreachable for years" in message, message
            assert_plain(message)
    finally:
        missing.close()
        html.close()
    assert not (tmp_path / "data").exists()
    with pytest.raises(DownloadError, match="not downloaded yet") as info:
        load_gtzan(tmp_path / "data", download=False)
    assert_plain(str(info.value))


def test_a_server_that_never_answers_times_out_or_can_be_cancelled(tmp_path):
    server = Server(b"", mode="silent")
    try:
        start = time.monotonic()
        with pytest.raises(DownloadError, match="no answer within 1 s"):
            download_gtzan(tmp_path, url=server.url, connect_timeout_s=1)
        assert time.monotonic() - start < 10
        start = time.monotonic()
        with pytest.raises(Cancelled):
            download_gtzan(tmp_path, url=server.url, cancel=lambda: time.monotonic() - start > 0.3)
        assert time.monotonic() - start < 3
    finally:
        server.close()
    assert files_under(tmp_path) == []


@pytest.mark.slow  # prepares the data set again (~8 s); quick: the download test
def test_a_dropped_connection_leaves_nothing_that_breaks_the_next_try(archive, tmp_path):
    body = archive.read_bytes()
    server = Server(body, mode="drop")
    try:
        with pytest.raises(DownloadError, match="connection dropped") as info:
            download_gtzan(tmp_path, url=server.url, checksum=checksum_of(archive))
        assert_plain(str(info.value))
    finally:
        server.close()
    assert not is_prepared(tmp_path) and files_under(tmp_path) == []
    # What a run killed outright (power cut) would leave: tensorflow-datasets' temporary folders.
    stale = [
        "downloads/gtzan_music_speech/x_music_speech.tar.gz.tmp.0123456789abcdef/music_speech.tar.gz",
        "downloads/gtzan_music_speech/orphan.tar.gz.INFO",
        "downloads/extracted/incomplete.0123456789abcdef_TAR_GZ.x/music_speech/music_wav/a.wav",
        "gtzan_music_speech/incomplete.ABC123_1.0.0/gtzan_music_speech-train.tfrecord-00000-of-00001",
    ]
    for name in stale:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"partial")
    server = Server(body)
    try:
        assert load_gtzan(tmp_path, url=server.url, checksum=checksum_of(archive)).counts() == {"music": 2, "speech": 2}
    finally:
        server.close()
    assert not set(stale) & set(files_under(tmp_path))


@pytest.mark.slow  # prepares the data set again (~8 s); quick: the download test
def test_a_file_that_is_not_the_archive_is_not_kept(archive, tmp_path):
    """Without a checksum to check (a mirror of an archive of one's own), a file that is no archive is still
    found out when it is extracted."""
    server = Server(b"<html>this is not a tar.gz</html>" * 100)  # served as application/gzip
    try:
        with pytest.raises(DownloadError, match="not a readable music_speech.tar.gz") as info:
            download_gtzan(tmp_path, url=server.url, checksum=None)
        assert_plain(str(info.value))
        assert files_under(tmp_path) == []  # tensorflow-datasets would otherwise reuse it for ever
        server.body = archive.read_bytes()  # the same URL now serves the real archive
        assert load_gtzan(tmp_path, url=server.url, checksum=None).counts() == {"music": 2, "speech": 2}
    finally:
        server.close()


def test_cancel_stops_a_download_quickly_and_cleans_up(archive, tmp_path):
    server = Server(archive.read_bytes(), mode="slow")
    seen, asked = [], []

    def cancel():
        if max(seen, default=0) > 10_000:
            asked.append(asked[0] if asked else time.monotonic())
            return True
        return False

    try:
        with pytest.raises(Cancelled):
            download_gtzan(
                tmp_path,
                url=server.url,
                progress=lambda d, _: seen.append(d),
                cancel=cancel,
                checksum=checksum_of(archive),
            )
        stopped_in = time.monotonic() - asked[0]
    finally:
        server.close()
    assert stopped_in < 5, stopped_in
    assert not is_prepared(tmp_path) and files_under(tmp_path) == []


def test_a_stalled_download_gives_up(archive, tmp_path, monkeypatch):
    monkeypatch.setattr(tfds_source, "STALL_TIMEOUT_S", 2.0)
    server = Server(archive.read_bytes(), mode="stall")
    try:
        with pytest.raises(DownloadError, match="stopped sending data for 2 s") as info:
            download_gtzan(tmp_path, url=server.url, checksum=checksum_of(archive))
        assert_plain(str(info.value))
    finally:
        server.close()
    assert files_under(tmp_path) == []


@pytest.mark.slow  # prepares the data set again (~8 s)
def test_a_file_that_is_not_the_original_archive_is_refused_deleted_and_the_next_try_works(archive, tmp_path):
    body = archive.read_bytes()
    server = Server(body)
    try:
        # By default only the original archive will do: its size is known before anything is downloaded.
        start = time.monotonic()
        with pytest.raises(DownloadError, match="not the GTZAN archive") as info:
            download_gtzan(tmp_path, url=server.url)
        assert f"{tfds_source.GTZAN_ARCHIVE.size:,}" in str(info.value) and time.monotonic() - start < 10
        assert_plain(str(info.value))
        assert server.requests == 1 and files_under(tmp_path) == []  # the probe's request only
        # The right size, another SHA-256 (one byte changed on the way): found before extraction, deleted.
        server.body = body[:5000] + bytes([body[5000] ^ 0xFF]) + body[5001:]
        with pytest.raises(DownloadError, match="not the GTZAN archive") as info:
            download_gtzan(tmp_path, url=server.url, checksum=checksum_of(archive))
        assert "trying again downloads it afresh" in str(info.value)
        assert_plain(str(info.value))
        assert not is_prepared(tmp_path) and files_under(tmp_path) == []
        # Retry: the server now sends the archive as it should be.
        server.body = body
        assert load_gtzan(tmp_path, url=server.url, checksum=checksum_of(archive)).counts() == {"music": 2, "speech": 2}
    finally:
        server.close()
