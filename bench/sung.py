"""Sung voices: what our model and the peers call the few redistributable recordings of singing found here.

    .venv/bin/python bench/sung.py [--model M] [--no-peers] [--debs DIR] [--pool POOL] [--sung N] [--json PATH]

A probe, not a dev set. The goal says sung music is music, but no redistributable song (voice with
accompaniment) was found in the package registries outside the evaluation families: a scan of 145 Debian packages
(15,228 audio files, YAMNet's singing classes) and of 22 music-analysis packages' source archives found only the
short clips below (docs/MODEL.md, "Known limits"). They are choirs, a choir pad, an anthem intro with a choir,
and solo voices singing a phrase, most without instruments; together about a minute. Nothing here is trained on.
The packages are fetched with `apt-get download` into --debs (reused on a second run) and read where they are;
nothing is installed.

Then sung clips made as the pool's are (scripts/make_sung.py: real speech resynthesised on held notes of a melody,
mostly over music), but from the pool's dev split, whose voices and music no model here trains on: a quarter of
them a cappella. Synthetic, so a check of what the pool's sung clips teach, not of real songs. The quick run sings
GTZAN's held-out fold instead (no pool needed).
"""

from __future__ import annotations

import csv
import sys
import tempfile
from pathlib import Path

import numpy as np
from common import PEERS_PYTHON, ROOT, arguments, table, write_json
from realworld import POOL, ensure_pool

sys.path.insert(0, str(ROOT / "scripts"))

from build_pool import denied, fetch, licence  # noqa: E402
from make_sung import SPOKEN_KINDS, songs, write_wav  # noqa: E402

SEED = 5  # the sung clips' (the pool's own are made with another seed, from the train split)

VOCALS = "usr/share/scratch/Media/Sounds/Vocals/"
PROBE = [  # (package, file inside it): every file a singing voice, by its name and by YAMNet's singing classes
    ("csoundqt-examples", "usr/share/csoundqt/Examples/SourceMaterials/choir.wav"),
    ("csoundqt-examples", "usr/share/csoundqt/Examples/SourceMaterials/AndItsAll.wav"),
    ("lmms-common", "usr/share/lmms/samples/stringsnpads/chorus02.ogg"),
    ("sonic-pi-samples", "usr/share/sonic-pi/samples/ambi_choir.flac"),
    ("triplea", "usr/share/games/triplea/assets/sounds/misc/turn_start/Germans_Anthem_Intro_with_singing.mp3"),
    *[
        ("scratch", VOCALS + name)
        for name in (
            "Sing-me-a-song.mp3",
            "Come-and-play.mp3",
            "Doy-doy-doy.mp3",
            "Got-inspiration.mp3",
            "Hey-yay-hey.mp3",
            "Join-us.mp3",
            "Oooo-badada.mp3",
            "Singer1.wav",
            "Singer2.wav",
            "Ya.wav",
        )
    ],
]


def classify(classifier, files: list[Path], peers: bool) -> dict[str, dict[str, tuple[str | None, float | None]]]:
    """Each system's (label, confidence or None) per file: ours, then the peers when they are set up."""
    verdicts = {"musicspeech": {}}
    for result in classifier.classify_files([str(f) for f in files]):
        p = result.prediction
        verdicts["musicspeech"][str(result.path)] = (p.label, p.confidence) if p else (None, 0.0)
    if peers and PEERS_PYTHON.exists():
        from realworld import PEERS, run_peer

        for name, title in PEERS.items():
            got = run_peer(name, [str(f) for f in files])["files"]
            verdicts[title] = {f["path"]: (f.get("label"), None) for f in got}
    return verdicts


def pool_rows(pool: Path) -> list[dict]:
    """The pool's manifest; for the quick run's stand-in (GTZAN's held-out fold, no manifest) rows made up from
    its folders."""
    manifest = pool / "manifest.csv"
    if manifest.is_file():
        with open(manifest, newline="") as f:
            return list(csv.DictReader(f))
    return [
        {"path": str(p.relative_to(pool)), "split": "dev", "label": p.parent.name, "synthetic": "0", "kind": ""}
        for p in sorted(pool.glob("dev/*/*.wav"))
    ]


def main(argv=None) -> int:
    args = arguments(
        __doc__,
        lambda p: (
            p.add_argument("--model", type=Path),
            p.add_argument("--no-peers", action="store_true"),
            p.add_argument("--debs", type=Path, default=ROOT / "build" / "sung-debs"),
            p.add_argument("--pool", type=Path, default=POOL, help="sing its dev split's speech (make_sung.py)"),
            p.add_argument("--sung", type=int, default=40, help="how many sung clips to make (quick: 4)"),
        ),
    )
    from musicspeech.core.audio import load_audio
    from musicspeech.core.inference import Classifier
    from musicspeech.core.self_test import shipped_model_path

    probe = [e for e in PROBE if e[0] in ("lmms-common", "triplea")] if args.quick else PROBE  # small packages
    files, licences = [], {}
    for package, inside in probe:
        if denied(package):  # an evaluation family: never
            raise SystemExit(f"{package} is kept for evaluation")
        version, root = fetch(package, str(args.debs))
        licences[package] = f"{version}: {licence(root, package)}"
        files.append(Path(root) / inside)

    classifier = Classifier.from_path(args.model or shipped_model_path())
    verdicts = classify(classifier, files, not args.no_peers)
    systems = list(verdicts)
    rows = []
    for f, (package, _) in zip(files, probe, strict=True):
        seconds = len(load_audio(f, 16000).samples) / 16000  # as decoded (an MP3's header can say more)
        cells = []
        for s in systems:
            label, confidence = verdicts[s].get(str(f), (None, None))
            cells.append(f"{label} {confidence:.0%}" if confidence is not None and label else str(label))
        rows.append([f"{package}: {f.name}", f"{seconds:.1f}", *cells])
    music = {s: sum(v[0] == "music" for v in verdicts[s].values()) for s in systems}
    print("## Sung voices (a probe: every file is singing, so music is right)")
    print(table(["file", "s", *systems], rows))
    print()
    print(table(["called music", *systems], [["of " + str(len(files)), *(music[s] for s in systems)]]))
    print()
    print("Licences: " + "; ".join(f"{k} {v}" for k, v in licences.items()))
    print()

    # Sung clips made the way the pool's are (scripts/make_sung.py), from the dev split: voices and music that no
    # model here was trained on.
    with tempfile.TemporaryDirectory() as scratch:
        pool = ensure_pool(args.pool, args.quick, Path(scratch))
        count = 4 if args.quick else args.sung
        made, kinds = [], {}
        rows = pool_rows(pool)
        voices = SPOKEN_KINDS if any(r["kind"] for r in rows) else None  # GTZAN's stand-in: its speech, all of it
        for i, (audio, _v, bed, _info) in enumerate(
            songs(pool, rows, "dev", count, 0.25, np.random.default_rng(SEED), kinds=voices)
        ):
            made.append(Path(scratch) / f"sung_{i:03d}.wav")
            write_wav(made[-1], audio)
            kinds[str(made[-1])] = "over music" if bed else "a cappella"
        sung = classify(classifier, made, not args.no_peers)
    counts = []
    for kind in ("over music", "a cappella"):
        these = [f for f, k in kinds.items() if k == kind]
        counts.append(
            [f"{kind} ({len(these)})", *(sum(sung[s].get(f, (None,))[0] == "music" for f in these) for s in sung)]
        )
    print("## Sung clips made from the dev split's speech (synthetic: music is right)")
    print(table(["called music", *sung], counts))
    write_json(
        args.json,
        {
            "files": [str(f) for f in files],
            "verdicts": {s: {k: v[0] for k, v in verdicts[s].items()} for s in systems},
            "called_music": music,
            "licences": licences,
            "synthetic": {"clips": {k: kinds[k] for k in kinds}, "called_music": {r[0]: r[1:] for r in counts}},
            "synthetic_systems": list(sung),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
