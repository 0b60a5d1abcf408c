"""Archives: `classify` on every core, into an output file that survives Ctrl+C, SIGKILL and a torn row, resumed
without a file twice; and on a real two-node Ray cluster on loopback (tests/test_cluster.py). Real audio (links
to the GTZAN clips), the shipped model, the CLI in a subprocess as a user runs it."""

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import GTZAN_MUSIC, GTZAN_SPEECH, REPO


def cli(*args, **kw):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return [sys.executable, "-m", "musicspeech", *map(str, args)], dict(cwd=REPO, env=env, **kw)


def run(*args, timeout=300):
    cmd, kw = cli(*args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, **kw)


def archive_of_links(root: Path, copies: int) -> Path:
    """`copies` folders, each with a link to every GTZAN clip (128 x 30 s): many real files, nothing copied."""
    clips = sorted([*GTZAN_MUSIC.glob("*.wav"), *GTZAN_SPEECH.glob("*.wav")])
    for i in range(copies):
        folder = root / f"box{i}"
        folder.mkdir(parents=True)
        for clip in clips:
            (folder / f"{clip.parent.name}-{clip.name}").symlink_to(clip)
    return root


def rows_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def without_identity(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in ("size", "mtime_ns")}


def wait_for_rows(path: Path, n: int, proc, timeout=120.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists() and path.read_bytes().count(b"\n") >= n:
            return
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.01)
    raise AssertionError(f"{path}: fewer than {n} rows after {timeout} s")


def children_of(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"  # a zombie that nobody reaped yet is gone too


def test_hidden_folders_are_never_searched(tmp_path, gtzan_dir):
    """A dropped or given folder skips `.src/`-like folders (and `._name.wav`): the CLI and the app share this."""
    from musicspeech.core.datasets import expand_paths, from_folder

    for label, src in (("music", GTZAN_MUSIC / "blues.wav"), ("speech", GTZAN_SPEECH / "acomic.wav")):
        (tmp_path / label / ".src" / "cache").mkdir(parents=True)
        (tmp_path / label / "a.wav").symlink_to(src)
        (tmp_path / label / ".src" / "cache" / "b.wav").symlink_to(src)
        (tmp_path / label / "._a.wav").write_bytes(b"\0\5\26\7 AppleDouble")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "c.wav").symlink_to(GTZAN_MUSIC / "jazz.wav")
    assert expand_paths([tmp_path]) == [tmp_path / "music" / "a.wav", tmp_path / "speech" / "a.wav"]
    assert expand_paths([tmp_path / ".hidden"]) == [tmp_path / ".hidden" / "c.wav"]  # named itself: searched
    assert sorted(c.name for c in from_folder(tmp_path).clips) == ["music/a.wav", "speech/a.wav"]
    proc = run("classify", tmp_path, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert sorted(r["path"] for r in map(json.loads, proc.stdout.splitlines())) == [
        str(tmp_path / "music" / "a.wav"),
        str(tmp_path / "speech" / "a.wav"),
    ]


def test_jobs_give_the_same_results_in_the_order_given_and_segments_on_request(tmp_path, gtzan_dir):
    bad = tmp_path / "notes.mp3"
    bad.write_text("this is not audio")
    files = [GTZAN_MUSIC / "blues.wav", bad, GTZAN_SPEECH / "acomic.wav", GTZAN_MUSIC / "jazz.wav"]
    one = run("classify", *files, "--jobs", "1", "--format", "json")
    two = run("classify", *files, "--jobs", "2", "--format", "json")
    assert one.returncode == two.returncode == 1
    assert one.stdout == two.stdout  # the same rows, in the order given, whatever the number of processes
    assert [json.loads(line)["path"] for line in two.stdout.splitlines()] == [str(f) for f in files]
    assert two.stderr == ""  # no summary beside JSON rows, no traceback, no worker's noise

    table = run("classify", *files, "--segments", "--jobs", "2")
    error_line = next(line for line in table.stdout.splitlines() if line.startswith("error"))
    assert error_line.count(str(bad)) == 1  # the path once
    acomic = rows_of_json(one.stdout)[2]
    lines = table.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.endswith(str(GTZAN_SPEECH / "acomic.wav")))
    segment_lines = lines[at + 1 : at + 1 + len(acomic["segments"])]
    assert [line.split()[-1] for line in segment_lines] == [s["label"] for s in acomic["segments"]]

    proc = run("classify", *files, "--segments", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    mine = [r for r in rows if r["path"] == str(GTZAN_SPEECH / "acomic.wav")]
    assert [(float(r["start_s"]), r["label"]) for r in mine] == [(s["start_s"], s["label"]) for s in acomic["segments"]]
    assert [r for r in rows if r["path"] == str(bad)][0]["error"].startswith("cannot read")


def test_short_files_go_to_the_workers_in_groups_and_give_the_rows_of_one_process(tmp_path, gtzan_dir):
    """Workers take consecutive files in groups (at most 8 files and 8 MB together; a file larger, or one whose
    size cannot be read, alone), so that a short file does not pay a task's cost (docs/ARCHIVES.md); a file that
    cannot be read inside a group is its own error row, the others as one process gives them."""
    from musicspeech.core.archive import TASK_BYTES, task_groups

    clips = sorted(GTZAN_MUSIC.glob("*.wav"))[:9] + sorted(GTZAN_SPEECH.glob("*.wav"))[:9]
    bad, missing = tmp_path / "notes.mp3", tmp_path / "missing.wav"
    bad.write_text("this is not audio")
    groups = list(task_groups([*clips[:5], missing, *clips[5:]]))
    assert [f for g in groups for f in g] == [*clips[:5], missing, *clips[5:]]  # every file once, in order
    assert [missing] in groups and len(groups) > 3
    assert all(len(g) <= 8 and sum(f.stat().st_size for f in g) <= TASK_BYTES for g in groups if missing not in g)
    assert list(task_groups(clips[:3], size=clips[0].stat().st_size - 1)) == [[c] for c in clips[:3]]

    files = [*clips[:5], bad, *clips[5:]]  # 19 files, 2 workers: groups of 4
    one = run("classify", *files, "--jobs", "1", "--format", "json")
    two = run("classify", *files, "--jobs", "2", "--format", "json")
    assert one.returncode == two.returncode == 1 and two.stderr == ""
    assert one.stdout == two.stdout
    rows = rows_of_json(two.stdout)
    assert [r["path"] for r in rows] == [str(f) for f in files]
    assert "error" in rows[5] and all("error" not in r for i, r in enumerate(rows) if i != 5)
    assert [r["label"] for r in rows[:5]] == ["music"] * 5


def rows_of_json(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.slow  # 384 files, four interrupted runs (~25 s); quick: the resume test below
def test_interrupt_kill_and_resume_write_every_file_once_with_the_uninterrupted_results(tmp_path, gtzan_dir):
    """Ctrl+C, then SIGKILL (its workers go too), SIGTERM, then a torn row as a power cut leaves it: each resume
    goes on where the file stops, and in the end every file is there once, as an uninterrupted run classifies it."""
    archive = archive_of_links(tmp_path / "archive", copies=3)
    total = 3 * 128
    out = tmp_path / "results.jsonl"

    cmd, kw = cli("classify", archive, "--jobs", "2", "--output", out)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    wait_for_rows(out, 10, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    first = rows_of(out)
    assert 10 <= len(first) < total

    proc = run("classify", archive, "--jobs", "2", "--output", out)  # without --resume: refused, file kept
    assert proc.returncode == 2 and "--resume" in proc.stderr
    assert rows_of(out) == first

    cmd, kw = cli("classify", archive, "--jobs", "2", "--output", out, "--resume")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    wait_for_rows(out, len(first) + 10, proc)
    workers = children_of(proc.pid)
    proc.kill()
    proc.wait(timeout=30)
    end = time.monotonic() + 30
    while time.monotonic() < end and not all(map(gone, workers)):
        time.sleep(0.1)
    assert workers and all(map(gone, workers))  # no worker outlives its run
    second = rows_of(out)
    assert len(first) < len(second) < total
    assert second[: len(first)] == first

    cmd, kw = cli("classify", archive, "--jobs", "1", "--output", out, "--resume")  # SIGTERM, as a service stops
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    wait_for_rows(out, len(second) + 10, proc)
    proc.terminate()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "--resume" in err, err
    third = rows_of(out)
    assert len(second) < len(third) < total and third[: len(second)] == second
    second = third

    torn = json.dumps(without_identity(second[-1]))[:40]
    with open(out, "a") as f:
        f.write(torn)  # a power cut in the middle of a row
    proc = run("classify", archive, "--jobs", "2", "--output", out, "--resume")
    assert proc.returncode == 0, proc.stderr
    assert f"{len(second)} file(s) already in {out}: skipped" in proc.stderr
    final = rows_of(out)  # every line parses: the torn row is gone
    assert final[: len(second)] == second
    paths = [r["path"] for r in final]
    assert len(paths) == len(set(paths)) == total

    whole = run("classify", archive, "--jobs", "1", "--format", "json")
    assert whole.returncode == 0
    expected = {r["path"]: r for r in rows_of_json(whole.stdout)}
    assert {r["path"]: without_identity(r) for r in final} == expected
    some = final[0]
    st = os.stat(some["path"])
    assert (some["size"], some["mtime_ns"]) == (st.st_size, st.st_mtime_ns)

    proc = run("classify", archive, "--output", out, "--resume")  # nothing left to do
    assert proc.returncode == 0 and rows_of(out) == final


def test_resume_classifies_a_changed_file_again_and_a_csv_of_segments_stays_whole(tmp_path, gtzan_dir):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("blues", "jazz"):
        (folder / f"{name}.wav").write_bytes((GTZAN_MUSIC / f"{name}.wav").read_bytes())
    out = tmp_path / "segments.csv"
    proc = run("classify", folder, "--output", out, "--segments", "--jobs", "1")
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    header, *rows = list(csv.reader(io.StringIO(text)))
    assert header[:5] == ["path", "size", "mtime_ns", "segment", "segments"]
    jazz = [r for r in rows if r[0].endswith("jazz.wav")]
    assert [int(r[3]) for r in jazz] == list(range(1, len(jazz) + 1)) and all(int(r[4]) == len(jazz) for r in jazz)

    # a power cut after the first segment row of a last file: that file's rows are cut off, then written again
    last = [line for line in text.splitlines(keepends=True) if line.startswith(rows[-1][0])]
    cut = text[: len(text) - sum(map(len, last))] + (last[0] if len(last) > 1 else last[0][:10])
    out.write_text(cut)
    os.utime(folder / "blues.wav", ns=(1, 1))  # blues changed since: classified again, beside its old rows
    proc = run("classify", folder, "--output", out, "--segments", "--resume")
    assert proc.returncode == 0, proc.stderr
    header2, *rows2 = list(csv.reader(io.StringIO(out.read_text())))
    assert header2 == header
    groups = {}
    for r in rows2:
        groups.setdefault((r[0], r[2]), []).append(r)
    for key, group in groups.items():
        assert [int(r[3]) for r in group] == list(range(1, len(group) + 1)), key  # whole, once
    assert sorted(k for k in groups if k[0].endswith("blues.wav"))[0][1] == "1"  # the new blues
    assert len([k for k in groups if k[0].endswith("jazz.wav")]) == 1

    proc = run("classify", folder, "--output", out, "--resume")  # without --segments: not this file's columns
    assert proc.returncode == 2 and "other columns" in proc.stderr


def damaged_mp3(path: Path) -> Path:
    """Real speech as MP3 with junk in the middle: mpg123 reads on through it, printing notes to fd 2."""
    import numpy as np
    import soundfile as sf

    x, rate = sf.read(GTZAN_SPEECH / "acomic.wav", dtype="float32", frames=22050 * 8)
    sf.write(path.with_suffix(".tmp.mp3"), x, rate, format="MP3")
    data = path.with_suffix(".tmp.mp3").read_bytes()
    path.with_suffix(".tmp.mp3").unlink()
    path.write_bytes(data[: len(data) // 2] + np.random.default_rng(1).bytes(3000) + data[len(data) // 2 :])
    return path


def test_native_decoder_notes_never_reach_the_terminal_and_evaluate_skips_folders_that_are_not_classes(
    tmp_path, gtzan_dir
):
    tree = tmp_path / "data"
    for label, names in (("music", ("blues", "jazz")), ("speech", ("acomic", "allison")), ("applause", ("rock",))):
        (tree / label).mkdir(parents=True)
        src = GTZAN_SPEECH if label == "speech" else GTZAN_MUSIC
        for name in names:
            (tree / label / f"{name}.wav").symlink_to(src / f"{name}.wav")
    damaged_mp3(tree / "speech" / "damaged.mp3")
    for jobs in ("1", "2"):
        proc = run("classify", tree / "speech", "--jobs", jobs)
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == "3 classified, 0 failed\n"  # no "Note: Illegal Audio-MPEG-Header", no [src/libmpg123/...]
        assert "damaged.mp3" in proc.stdout
    proc = run("evaluate", tree, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "skipped the folder applause/ (1 file(s)): not a class of the model (music, noise, speech)\n"
    result = json.loads(proc.stdout)
    assert result["clips"] == 5 and result["skipped"] == {"applause": 1}


def test_a_model_the_workers_cannot_load_is_one_line_not_a_worker_traceback(tmp_path, gtzan_dir):
    """The bundle checks out (its checksums are right) but its network is not a flatbuffer: each worker fails to
    load it, and the command says why in one line, as `--jobs 1` does."""
    import hashlib
    import zipfile

    from musicspeech.core.paths import shipped_model_path

    shipped = zipfile.ZipFile(shipped_model_path())
    junk = b"TFL3" + bytes(range(256)) * 8
    meta = shipped.read("bundle.json").decode()
    meta = meta.replace(hashlib.sha256(shipped.read("model.tflite")).hexdigest(), hashlib.sha256(junk).hexdigest())
    bad = tmp_path / "bad.msmodel"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("bundle.json", meta)
        z.writestr("model.keras", shipped.read("model.keras"))
        z.writestr("model.tflite", junk)
    files = [GTZAN_MUSIC / "blues.wav", GTZAN_MUSIC / "jazz.wav"]
    for jobs in ("1", "2"):
        proc = run("classify", *files, "--model", bad, "--jobs", jobs)
        assert proc.returncode == 2
        assert proc.stderr.startswith("error: bad.msmodel: the network inside cannot be loaded")
        assert proc.stderr.count("\n") == 1, proc.stderr
