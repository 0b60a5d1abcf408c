"""Results as files: CSV per file and per segment, JSON, and Audacity label tracks. Shared by the CLI and the app."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from musicspeech.core.inference import FileResult, Prediction
from musicspeech.core.verdict import verdict_labels


def csv_header(labels: Sequence[str]) -> list[str]:
    shares = [f"share_{label}" for label in verdict_labels(labels)]
    return ["path", "label", "confidence", *[f"p_{label}" for label in labels], *shares, "duration_s", "error"]


def csv_row(result: FileResult, labels: Sequence[str]) -> list[str]:
    p = result.prediction
    if p is None:
        return [str(result.path), "", "", *[""] * (len(labels) + len(verdict_labels(labels))), "", result.error or ""]
    shares = p.shares
    return [
        str(result.path),
        p.label,
        f"{p.confidence:.4f}",
        *[f"{x:.4f}" for x in p.probabilities],
        *[f"{shares.get(label, 0.0):.4f}" for label in verdict_labels(labels)],
        f"{p.duration_s:.3f}",
        "",
    ]


def files_csv(results: Sequence[FileResult], labels: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(csv_header(labels))
    writer.writerows(csv_row(r, labels) for r in results)
    return out.getvalue()


def segments_csv(results: Sequence[FileResult], labels: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["path", "start_s", "end_s", "label", *[f"p_{label}" for label in labels]])
    for r in results:
        for s in r.prediction.segments if r.prediction else ():
            writer.writerow(
                [
                    str(r.path),
                    f"{s.start_s:.3f}",
                    f"{s.end_s:.3f}",
                    s.label,
                    *[f"{s.probabilities[label]:.4f}" for label in labels],
                ]
            )
    return out.getvalue()


def files_json(results: Sequence[FileResult]) -> str:
    return json.dumps([r.to_dict() for r in results], indent=2, ensure_ascii=False)


def audacity_labels(prediction: Prediction) -> str:
    """An Audacity label track (File > Import > Labels): start, end and label of each segment, tab-separated."""
    return "".join(f"{s.start_s:.3f}\t{s.end_s:.3f}\t{s.label} ({s.confidence:.0%})\n" for s in prediction.segments)


def audacity_label_paths(audio_paths: Sequence[Path], chosen: Path) -> list[Path]:
    """Where each audio file's Audacity label track goes, for the name chosen in the save dialog: one file gets
    exactly that name (as .txt); several get `<chosen stem>-<audio stem>.txt` beside it, with as many of the
    audio file's parent folders as it takes to tell same-named files apart (`labels-a-beep.txt`,
    `labels-b-beep.txt`), and a number if nothing else does. No two results ever get the same file."""
    chosen = chosen.with_suffix(".txt")  # "results.csv" kept from another choice of format: results.txt
    if len(audio_paths) == 1:
        return [chosen]
    base = chosen.name[: -len(".txt")]

    def name(path: Path, depth: int) -> str:
        folders = path.parent.parts[1:] if path.anchor else path.parent.parts  # without "/" or "C:\\"
        return "-".join([base, *folders[len(folders) - depth :], path.stem] if depth else [base, path.stem])

    depth = [0] * len(audio_paths)
    while True:  # give the files that share a name one more parent folder, until no two share one
        names = [name(p, d).casefold() for p, d in zip(audio_paths, depth, strict=True)]
        counts = Counter(names)
        grown = False
        for i, p in enumerate(audio_paths):
            if counts[names[i]] > 1 and depth[i] < len(p.parent.parts) - (1 if p.anchor else 0):
                depth[i] += 1
                grown = True
        if not grown:
            break
    out, taken = [], set()
    for p, d in zip(audio_paths, depth, strict=True):
        stem, n = name(p, d), 1
        candidate = stem
        while candidate.casefold() in taken:  # the same file twice, or names that differ in case only
            n += 1
            candidate = f"{stem} ({n})"
        taken.add(candidate.casefold())
        out.append(chosen.with_name(f"{candidate}.txt"))
    return out
