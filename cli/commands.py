"""The headless command line: classify, download, train, evaluate, live, --self-test. Same core as the app; no Qt.

TensorFlow is imported only by the commands that need it, so `--help` and errors in arguments are instant.
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from musicspeech.core import __version__
from musicspeech.core.errors import Cancelled, ModelError, MusicSpeechError, save_problem

COMMANDS = ("classify", "download", "train", "evaluate", "live")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.self_test:
        args.run = cmd_self_test
    elif not getattr(args, "command", None):
        parser.print_help()
        return 0
    _quiet_tensorflow()
    _print_any_name()
    try:
        return args.run(args)
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as other command-line tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's flush at exit would fail again
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Cancelled as e:
        print(f"cancelled: {e}", file=sys.stderr)
        return 130
    except MusicSpeechError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a file the commands read or write directly; saving itself raises SaveError
        where = f"{e.filename}: " if e.filename else ""
        print(f"error: {where}{save_problem(e)}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="musicspeech",
        description="Tell music from speech in audio files (and, without a command, open the app).",
    )
    parser.add_argument("--version", action="version", version=f"musicspeech {__version__}")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="classify the shipped samples with the shipped model, print the verdicts, exit 0 if all are right",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("classify", help="classify audio files and folders (recursive)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--model", type=Path, help="a .msmodel file (default: the shipped model)")
    p.add_argument(
        "--format",
        choices=("table", "json", "csv"),
        default="table",
        help="table for people (default); json: one object per line; csv",
    )
    p.add_argument("--segments", action="store_true", help="table and CSV: the segments of each file too")
    p.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="worker processes, each loading the model once (default: one per core; 1: in this process)",
    )
    p.add_argument(
        "--output",
        type=Path,
        metavar="FILE",
        help="write the results to FILE (.jsonl or .csv) as they come, whole rows only; nothing on stdout",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="go on with --output FILE: skip the files it holds (same path, size and modification time)",
    )
    p.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="run on a Ray cluster (HOST:PORT of its head, or 'auto'); needs musicspeech[cluster]; "
        "the files must be at the same path on every node",
    )
    p.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    p.set_defaults(run=cmd_classify)

    p = sub.add_parser("download", help="download GTZAN music/speech through tensorflow-datasets")
    p.add_argument("--data-dir", type=Path, help="tensorflow-datasets folder (default: the user's data folder)")
    p.add_argument("--url", help="a mirror of music_speech.tar.gz (default: the data set's original address)")
    p.add_argument(
        "--no-checksum",
        action="store_true",
        help="take any archive in the original layout (default: only the original music_speech.tar.gz, "
        "checked by its size and SHA-256)",
    )
    p.add_argument(
        "--yamnet",
        action="store_true",
        help="download YAMNet's weights (4 MB, for the yamnet recipe) instead of GTZAN; --url gives a mirror",
    )
    p.set_defaults(run=cmd_download)

    p = sub.add_parser("train", help="train a model and save it")
    p.add_argument(
        "--data",
        default="tfds",
        help="'tfds' (GTZAN through tensorflow-datasets, the default), the GTZAN archive "
        "music_speech.tar.gz, or a folder with one subfolder of audio per class",
    )
    p.add_argument("--out", type=Path, help="where to save the model (default: the user's models folder)")
    p.add_argument(
        "--recipe",
        choices=("shipped", "baseline", "yamnet"),
        default="shipped",
        help="shipped: log-mel, small CNN, augmentation (default); baseline: the seed's STFT recipe; "
        "yamnet: a small head on YAMNet's embeddings (its weights are downloaded first if needed)",
    )
    p.add_argument("--epochs", type=int, help="default: the recipe's")
    p.add_argument("--batch-size", type=int, help="default: the recipe's (64)")
    p.add_argument("--learning-rate", type=float, help="default: the recipe's (0.001)")
    p.add_argument("--window-s", type=float, help="model window length in seconds (default: 1)")
    p.add_argument("--val-fraction", type=float, help="held out for validation (default 0.25; 0: train on all)")
    p.add_argument("--patience", type=int, help="early stopping patience in epochs (0: off)")
    p.add_argument("--seed", type=int, help="default: 0")
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("evaluate", help="accuracy and confusion matrix on labelled audio")
    p.add_argument("data", help="a class-per-folder tree, the GTZAN archive or folder, or 'tfds'")
    p.add_argument("--model", type=Path, help="a .msmodel file (default: the shipped model)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(run=cmd_evaluate)

    p = sub.add_parser("live", help="classify the microphone continuously: one line per verdict change")
    p.add_argument("--device", help="input device: a name or number from --list-devices (default: the system's)")
    p.add_argument("--list-devices", action="store_true", help="list the input devices and exit")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds (default: at Ctrl+C)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="json: one object per line")
    p.add_argument("--window", type=float, default=1.0, metavar="S", help="audio per verdict (default 1 s)")
    p.add_argument("--hop", type=float, default=0.1, metavar="S", help="a verdict every S seconds (default 0.1)")
    p.add_argument("--log", type=Path, metavar="CSV", help="also append every segment to this CSV file")
    p.add_argument("--model", type=Path, help="a .msmodel file (default: the shipped model)")
    p.set_defaults(run=cmd_live)
    return parser


# classify ------------------------------------------------------------------------------------------------


def cmd_classify(args: argparse.Namespace) -> int:
    from musicspeech.core.archive import FileKey, ResultFile, output_format
    from musicspeech.core.bundle import read_bundle
    from musicspeech.core.datasets import expand_paths
    from musicspeech.core.inference import FileResult

    if args.resume and not args.output:
        raise MusicSpeechError("--resume goes on with an --output file: name it")
    if args.jobs is not None and args.jobs < 1:
        raise MusicSpeechError("--jobs: give 1 or more worker processes")
    entries: list[Path | FileResult] = []  # the files to classify; a folder given with no audio files in it: its line
    seen: set[Path] = set()
    for arg in args.paths:
        for entry in expand_paths([arg]) or [
            FileResult(Path(arg), error=f"cannot read {arg}: no audio files in this folder")
        ]:
            if isinstance(entry, Path):
                if entry in seen:  # given twice (a folder and a file in it): classified and written once
                    continue
                seen.add(entry)
            entries.append(entry)
    paths = [e for e in entries if isinstance(e, Path)]
    model = resolve_model(args.model) if paths else None
    labels = read_bundle(model).labels if model else ("music", "speech")
    fmt = output_format(args.output, args.format if args.format != "table" else None) if args.output else None
    output = ResultFile(args.output, fmt, labels, args.segments, args.resume) if args.output else None
    try:
        keys = {p: FileKey.of(p) for p in paths}
        todo = [p for p in paths if not (output and output.holds(keys[p]))]
        held = len(paths) - len(todo)
        if held:
            print(f"{held} file(s) already in {args.output}: skipped", file=sys.stderr)
        jobs = min(args.jobs or _cores(), max(1, len(todo)))
        sink = _Sink(args, labels, output, entries)
        progress = _ClassifyProgress(
            len(todo), sum(keys[p].size or 0 for p in todo), quiet=args.quiet, stream=_real_stderr()
        )
        for entry in entries:
            if isinstance(entry, FileResult):
                sink.put(entry, FileKey(str(entry.path), None, None))
        lost: list[str] = []
        _stop_on_signals()
        try:
            for result in _results(args, model, todo, jobs, lost):
                sink.put(result, keys[result.path])
                progress.update(result, keys[result.path])
        finally:
            progress.close()
        for line in lost:
            print(
                f"error: {line}: lost with its worker after every retry (not written; --resume tries again)",
                file=sys.stderr,
            )
    except KeyboardInterrupt:
        if output:
            print(f"interrupted: {args.output} holds every file finished; --resume goes on", file=sys.stderr)
            return 130
        raise
    finally:
        if output:
            output.close()
    if (args.format == "table" and len(entries) > 1) or output:  # JSON and CSV on stdout: nothing but the rows
        where = f" (in {args.output})" if output else ""
        print(f"{sink.written - sink.failed} classified, {sink.failed} failed{where}", file=sys.stderr)
    return 1 if sink.failed or lost else 0


def _results(args, model: Path | None, paths: list[Path], jobs: int, lost: list[str]):
    """The results of `paths`, as they come: on the cluster, in `jobs` worker processes, or in this process."""
    from musicspeech.core.archive import DECODER_NOISE, cluster_results, local_results
    from musicspeech.core.quiet import filtered_stderr

    if not paths:
        return
    if args.cluster:
        yield from cluster_results(args.cluster, model, paths, lost=lost)
    elif jobs > 1:
        yield from local_results(model, paths, jobs)
    else:
        with filtered_stderr(DECODER_NOISE):  # decoding happens in this process: mpg123's notices are dropped
            yield from local_results(model, paths, 1)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


_STDERR: TextIO | None = None


def _real_stderr() -> TextIO:
    """stderr as it is now, for progress lines: they still show while fd 2 is captured to drop native notices."""
    global _STDERR
    if _STDERR is None:
        try:
            _STDERR = os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1)
        except (AttributeError, OSError, ValueError):
            _STDERR = sys.stderr
    return _STDERR


class _Sink:
    """Where results go: the --output file as they come (each file once), or stdout in the order given."""

    def __init__(self, args, labels: Sequence[str], output, entries) -> None:
        self.args, self.labels, self.output = args, tuple(labels), output
        self.written = self.failed = 0
        self.order = {e if isinstance(e, Path) else id(e): i for i, e in enumerate(entries)}
        self.waiting: dict[int, object] = {}
        self.next = 0
        self.out = sys.stdout
        self.csv = None
        if output is None:
            if args.format == "table":
                print(_table_header(), file=self.out)
            elif args.format == "csv":
                from musicspeech.core.archive import csv_columns

                self.csv = csv.writer(self.out)
                self.csv.writerow(csv_columns(self.labels, args.segments, identity=False))

    def put(self, result, key) -> None:
        self.failed += result.error is not None
        self.written += 1
        if self.output is not None:
            self.output.write(result, key)
            return
        index = self.order.get(id(result), self.order.get(result.path))
        self.waiting[index] = result
        while self.next in self.waiting:
            self._print(self.waiting.pop(self.next))
            self.next += 1

    def _print(self, result) -> None:
        from musicspeech.core.archive import csv_rows

        if self.args.format == "json":
            print(json.dumps(result.to_dict(), ensure_ascii=False), file=self.out, flush=True)
        elif self.csv is not None:
            self.csv.writerows(csv_rows(result, self.labels, self.args.segments))
            self.out.flush()
        else:
            print(_table_row(result), file=self.out, flush=True)
            if self.args.segments and result.prediction is not None:
                for s in result.prediction.segments:
                    span = f"{_duration(s.start_s)} - {_duration(s.end_s)}"
                    print(f"{'':<8} {'':>5} {'':>9}    {span:<21} {s.label}", file=self.out)
                self.out.flush()


class _ClassifyProgress:
    """One line on stderr (a terminal only, and not with --quiet): files, hours of audio, rate and time left
    (from the bytes still to read: the durations are known only once the files are decoded)."""

    def __init__(self, files: int, size: int, quiet: bool, stream: TextIO) -> None:
        self.files, self.size, self.stream = files, size, stream
        self.active = not quiet and files > 0 and stream.isatty()
        self.started = time.monotonic()
        self.done = self.bytes = 0
        self.audio_s = 0.0
        self._last = 0.0
        self._shown = False

    def update(self, result, key) -> None:
        self.done += 1
        self.bytes += key.size or 0
        if result.prediction is not None:
            self.audio_s += result.prediction.duration_s
        now = time.monotonic()
        if not self.active or (now - self._last < 0.2 and self.done != self.files):
            return
        self._last = now
        elapsed = now - self.started
        rate = f"{self.audio_s / elapsed:,.0f}x real time" if elapsed > 0 else ""
        left = ""
        if 0 < self.bytes < self.size and elapsed > 2:
            left = f", {_duration(elapsed * (self.size - self.bytes) / self.bytes).split('.')[0]} left"
        line = f"classified {self.done}/{self.files} files, {self.audio_s / 3600:.2f} h of audio, {rate}{left}"
        self.stream.write("\r" + line[:119].ljust(119))
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown:
            self.stream.write("\r" + " " * 119 + "\r")
            self.stream.flush()


def _table_header() -> str:
    return f"{'verdict':<8} {'conf':>5} {'duration':>9}  file"


def _table_row(result) -> str:
    if result.prediction is None:
        error = result.error or ""
        named = error if str(result.path) in error else f"{result.path}: {error}"  # the path once
        return f"{'error':<8} {'':>5} {'':>9}  {named}"
    p = result.prediction
    return f"{p.label:<8} {p.confidence:>5.0%} {_duration(p.duration_s):>9}  {result.path}"


def _duration(seconds: float) -> str:
    m, s = divmod(seconds, 60)
    h, m = divmod(int(m), 60)
    return f"{h}:{m:02d}:{s:04.1f}" if h else f"{m}:{s:04.1f}"


def resolve_model(arg: Path | None) -> Path:
    from musicspeech.core.paths import shipped_model_path

    if arg is not None:
        return arg
    shipped = shipped_model_path()
    if shipped.is_file():
        return shipped
    raise ModelError(
        f"no model given and the shipped model is missing ({shipped}); train one with "
        "`musicspeech train --data PATH --out model.msmodel` and pass `--model model.msmodel`"
    )


def cmd_self_test(args: argparse.Namespace) -> int:
    from musicspeech.core.self_test import run_self_test

    return run_self_test()


# download ------------------------------------------------------------------------------------------------


def cmd_download(args: argparse.Namespace) -> int:
    from musicspeech.core import tfds_source

    if args.yamnet:
        return _download_yamnet(args.url)
    bar = ProgressBar("downloading GTZAN", unit="MB", scale=1 / 1e6)
    data_dir = tfds_source.download_gtzan(
        args.data_dir,
        url=args.url or tfds_source.GTZAN_URL,
        progress=bar.update,
        checksum=None if args.no_checksum else tfds_source.GTZAN_ARCHIVE,
    )
    bar.close()
    print(f"GTZAN music/speech is ready in {data_dir}")
    return 0


def _download_yamnet(url: str | None = None) -> int:
    from musicspeech.core import yamnet

    bar = ProgressBar("downloading YAMNet", unit="MB", scale=1 / 1e6)
    try:
        path = yamnet.download_weights(url=url, progress=bar.update)
    finally:
        bar.close()
    print(f"YAMNet's weights are ready: {path} ({yamnet.LICENCE_NOTE})")
    return 0


# train ---------------------------------------------------------------------------------------------------


def cmd_train(args: argparse.Namespace) -> int:
    from musicspeech.core.atomic import check_writable
    from musicspeech.core.feature_cache import FeatureCache
    from musicspeech.core.paths import user_data_dir
    from musicspeech.core.recipes import recipe_settings
    from musicspeech.core.training import train

    settings = recipe_settings(
        args.recipe,
        window_s=args.window_s,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        val_fraction=args.val_fraction,
        seed=args.seed,
        patience=args.patience,
    )
    out = args.out or user_data_dir() / "models" / f"model-{_dt.datetime.now():%Y%m%d-%H%M%S}.msmodel"
    check_writable(out)  # a read-only folder is said now, not after the training
    if settings.features.kind == "yamnet":
        from musicspeech.core import yamnet

        if not yamnet.have_weights():
            _download_yamnet()
    dataset = load_dataset(args.data)
    print(
        f"data: {dataset.source}: " + ", ".join(f"{n} {label}" for label, n in dataset.counts().items()),
        file=sys.stderr,
    )
    listener = _ConsoleTrainingListener()
    result = train(dataset, settings, listener, cache=FeatureCache())
    listener.close()
    ev = result.evaluation
    if ev is None and result.cancelled:
        print(f"cancelled: no evaluation of the held-out clips ({result.epochs_run} epochs, {result.seconds:.0f} s)")
    elif ev is None:
        print(f"trained on every clip, no validation ({result.epochs_run} epochs, {result.seconds:.0f} s)")
    else:  # the app's verdicts on the held-out clips, as `musicspeech evaluate` gives them for the saved model
        print(
            f"validation: clip accuracy {ev.clip_accuracy:.1%}, window accuracy {ev.window_accuracy:.1%} "
            f"({len(ev.clips)} clips, {result.epochs_run} epochs, {result.seconds:.0f} s)"
        )
        _print_confusion(ev.labels, ev.called, ev.confusion)
        _print_wrong(ev)
    result.bundle.save(out)
    print(f"saved {out}")
    return 0


def load_dataset(source: str):
    from musicspeech.core import datasets

    if source == "tfds":
        from musicspeech.core import tfds_source

        bar = ProgressBar("downloading GTZAN", unit="MB", scale=1 / 1e6)
        try:
            return tfds_source.load_gtzan(progress=bar.update)
        finally:
            bar.close()
    return datasets.open_source(source)


class _ConsoleTrainingListener:
    """Progress of a training run on stderr: a bar on a terminal, a line per epoch otherwise."""

    def __init__(self) -> None:
        self.bar = ProgressBar("training")
        self.tty = sys.stderr.isatty()

    def data(self, summary) -> None:
        for line in summary.lines():
            print(f"data: {line}", file=sys.stderr)

    def stage(self, name: str, done: int, total: int) -> None:
        if self.tty:
            self.bar.label = name
            self.bar.update(done, total)

    def batch(self, epoch: int, batch: int, batches: int, logs: dict[str, float]) -> None:
        if self.tty:
            self.bar.label = f"epoch {epoch + 1}"
            self.bar.update(
                batch + 1, batches, extra=f"loss {logs.get('loss', 0):.3f} acc {logs.get('accuracy', 0):.3f}"
            )

    def epoch(self, epoch: int, epochs: int, logs: dict[str, float]) -> None:
        self.bar.clear()
        print(
            f"epoch {epoch + 1}/{epochs}: loss {logs.get('loss', 0):.4f} accuracy {logs.get('accuracy', 0):.3f} "
            f"val_loss {logs.get('val_loss', 0):.4f} val_accuracy {logs.get('val_accuracy', 0):.3f} "
            f"val_clip_accuracy {logs.get('val_clip_accuracy', 0):.3f}",
            file=sys.stderr,
            flush=True,
        )

    def close(self) -> None:
        self.bar.close()


# evaluate ------------------------------------------------------------------------------------------------


def cmd_evaluate(args: argparse.Namespace) -> int:
    from collections import Counter

    from musicspeech.core.archive import DECODER_NOISE
    from musicspeech.core.inference import Classifier
    from musicspeech.core.quiet import filtered_stderr
    from musicspeech.core.training import evaluate_predictions

    classifier = Classifier.from_path(resolve_model(args.model))
    dataset = load_dataset(args.data)
    others = Counter(c.label for c in dataset.clips if c.label not in classifier.labels)
    for label, n in sorted(others.items()):  # a folder that is not a class of this model: said, and left out
        print(
            f"skipped the folder {label}/ ({n} file(s)): not a class of the model ({', '.join(classifier.labels)})",
            file=sys.stderr,
        )
    clips = [c for c in dataset.clips if c.label in classifier.labels]
    if not clips:
        raise MusicSpeechError(
            f"{args.data}: no folder named after a class of the model ({', '.join(classifier.labels)})"
        )
    outcomes, errors = [], []
    bar = ProgressBar("evaluating", unit="clips", stream=_real_stderr())
    with filtered_stderr(DECODER_NOISE):  # mpg123's notices about damaged MP3s: the error lines say what matters
        for clip, prediction, error in classifier.classify_clips(clips, progress=bar.update):
            if prediction is not None:
                outcomes.append((clip, prediction))
            else:
                errors.append(error)
    bar.close()
    ev = evaluate_predictions(classifier.labels, outcomes)  # each clip called what the app calls it
    if args.format == "json":
        print(json.dumps({**ev.to_dict(), "errors": errors, "skipped": dict(sorted(others.items()))}))
    else:
        print(f"clip accuracy {ev.clip_accuracy:.1%} ({len(ev.clips)} clips), window accuracy {ev.window_accuracy:.1%}")
        _print_confusion(ev.labels, ev.called, ev.confusion)
        _print_wrong(ev)
        for e in errors:
            print(f"error: {e}")
    return 1 if errors else 0


def _print_wrong(ev) -> None:
    """The clips it got wrong, as a table: what each was, what it was called, how sure, which file."""
    if not ev.wrong:
        return
    print(f"wrong ({len(ev.wrong)} of {len(ev.clips)} clips):")
    print(f"  {'true':<8} {'called':<8} {'conf':>5}  clip")
    for c in ev.wrong:
        print(f"  {c.true_label:<8} {c.predicted:<8} {c.confidence:>5.0%}  {c.name}")


def _print_confusion(labels: Sequence[str], called: Sequence[str], confusion: list[list[int]]) -> None:
    """Rows: the true labels; columns: what the clips were called (with silence, the app's verdicts)."""
    width = max(8, *(len(x) for x in (*labels, *called)))
    corner = "true \\ called"
    print(f"{corner:<{width + 6}}" + "".join(f"{x:>{width}}" for x in called))
    for label, row in zip(labels, confusion, strict=True):
        print(f"{label:<{width + 6}}" + "".join(f"{n:>{width}}" for n in row))


# live ----------------------------------------------------------------------------------------------------


def cmd_live(args: argparse.Namespace) -> int:
    from musicspeech.core.devices import input_devices

    if args.list_devices:
        for d in input_devices():
            print(f"{d.index:>3} {'*' if d.is_default else ' '} {d.label}")
        return 0
    from musicspeech.core.inference import Classifier
    from musicspeech.core.live import LiveSession, LiveSettings

    device = args.device
    if device is not None and device.isdigit():  # a number from --list-devices
        device = next((d.name for d in input_devices() if d.index == int(device)), device)
    try:
        settings = LiveSettings(window_s=args.window, hop_s=args.hop)
        classifier = Classifier.from_path(resolve_model(args.model))
        settings.check(classifier.spec.window_s)
    except ValueError as e:
        raise MusicSpeechError(str(e)) from None
    session = LiveSession(classifier, settings, device, _console_live_listener(args.format))
    if args.log:
        session.log_segments(args.log)  # before the device opens: a log that cannot be written stops here
    session.start()
    mic = session.mic
    print(
        f"listening to {mic.device.name} ({mic.rate_hz} Hz); a verdict every {settings.hop_s:g} s on the last "
        f"{settings.window_s:g} s, a change shows within about {settings.delay_s:g} s"
        + ("" if args.duration else "; Ctrl+C stops"),
        file=sys.stderr,
        flush=True,
    )
    end = time.monotonic() + args.duration if args.duration else float("inf")
    _stop_on_signals()
    try:
        while time.monotonic() < end:
            time.sleep(min(0.1, max(0.0, end - time.monotonic())))
    except KeyboardInterrupt:
        pass  # the usual way to end a live session: the last segment is still printed
    finally:
        session.stop()
    return 1 if session.log_error else 0  # the log stopped early (said when it happened)


def _stop_on_signals() -> None:
    """Ctrl+C, and the SIGTERM a service manager sends, end a live session the same way: the last segment is
    printed and the log closed. (A command started in the background by a shell inherits SIGINT ignored.)"""
    import signal

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, stop)
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, stop)


def _console_live_listener(fmt: str):
    """One line per segment on stdout (text or JSON); device problems on stderr."""
    from musicspeech.core.live import SILENCE, LiveListener

    class Console(LiveListener):
        def segment(self, segment) -> None:
            if fmt == "json":
                print(json.dumps(segment.to_dict()), flush=True)
                return
            probs = (
                "  ".join(f"{k} {v:.0%}" for k, v in segment.probabilities.items()) if segment.label != SILENCE else ""
            )
            span = f"{_duration(segment.start_s):>9} - {_duration(segment.end_s):>9}"
            print(f"{span}  {segment.label:<8} {probs}", flush=True)

        def problem(self, message: str) -> None:
            print(f"warning: {message}", file=sys.stderr, flush=True)

        def recovered(self, message: str) -> None:
            print(message, file=sys.stderr, flush=True)

    return Console()


# helpers -------------------------------------------------------------------------------------------------


class ProgressBar:
    """A one-line progress bar on stderr when it is a terminal; silent otherwise."""

    def __init__(self, label: str, unit: str = "", scale: float = 1.0, stream: TextIO | None = None):
        self.label, self.unit, self.scale = label, unit, scale
        self.stream = stream or sys.stderr
        self.active = self.stream.isatty()
        self.started = time.monotonic()
        self._last = 0.0
        self._shown = False

    def update(self, done: float, total: float | None, extra: str = "") -> None:
        now = time.monotonic()
        if not self.active or (now - self._last < 0.1 and done != total):
            return
        self._last = now
        done_s = f"{done * self.scale:.1f}" if self.scale != 1 else str(done)
        if total:
            frac = min(1.0, done / total)
            elapsed = now - self.started
            eta = f" {elapsed / frac - elapsed:4.0f} s left" if 0 < frac < 1 and elapsed > 1 else ""
            total_s = f"{total * self.scale:.1f}" if self.scale != 1 else str(total)
            bar = "#" * int(frac * 24)
            line = f"{self.label}: [{bar:<24}] {done_s}/{total_s} {self.unit}{eta} {extra}"
        else:
            line = f"{self.label}: {done_s} {self.unit} {extra}"
        self.stream.write("\r" + line[:120].ljust(120))
        self.stream.flush()
        self._shown = True

    def clear(self) -> None:
        if self._shown:
            self.stream.write("\r" + " " * 120 + "\r")
            self.stream.flush()
            self._shown = False

    def close(self) -> None:
        self.clear()


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _print_any_name() -> None:
    """File names that are not valid in the output's encoding (a Latin-1 name on a UTF-8 system reaches Python
    as lone surrogates) are printed with backslash escapes (`\\udce9`, a valid JSON escape) rather than failing."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="backslashreplace")


if __name__ == "__main__":
    sys.exit(main())
