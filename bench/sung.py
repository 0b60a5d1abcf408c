"""Sung voices: what our model and the peers call the few redistributable recordings of singing found here.

    .venv/bin/python bench/sung.py [--model M] [--no-peers] [--debs DIR] [--json PATH]

A probe, not a dev set. The goal says sung music is music, but no redistributable song (voice with
accompaniment) was found in the package registries outside the evaluation families: a scan of 145 Debian packages
(15,228 audio files, YAMNet's singing classes) and of 22 music-analysis packages' source archives found only the
short clips below (docs/MODEL.md, "Known limits"). They are choirs, a choir pad, an anthem intro with a choir,
and solo voices singing a phrase, most without instruments; together about a minute. Nothing here is trained on.
The packages are fetched with `apt-get download` into --debs (reused on a second run) and read where they are;
nothing is installed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from common import PEERS_PYTHON, ROOT, arguments, table, write_json

sys.path.insert(0, str(ROOT / "scripts"))

from build_pool import denied, fetch, licence  # noqa: E402

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


def main(argv=None) -> int:
    args = arguments(
        __doc__,
        lambda p: (
            p.add_argument("--model", type=Path),
            p.add_argument("--no-peers", action="store_true"),
            p.add_argument("--debs", type=Path, default=ROOT / "build" / "sung-debs"),
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
    verdicts = {"musicspeech": {}}
    for result in classifier.classify_files([str(f) for f in files]):
        p = result.prediction
        verdicts["musicspeech"][str(result.path)] = (p.label, p.confidence) if p else (None, 0.0)
    if not args.no_peers and PEERS_PYTHON.exists():
        from realworld import PEERS, run_peer

        for name, title in PEERS.items():
            got = run_peer(name, [str(f) for f in files])["files"]
            verdicts[title] = {f["path"]: (f.get("label"), None) for f in got}

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
    write_json(
        args.json,
        {
            "files": [str(f) for f in files],
            "verdicts": {s: {k: v[0] for k, v in verdicts[s].items()} for s in systems},
            "called_music": music,
            "licences": licences,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
