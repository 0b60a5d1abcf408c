"""Record the verdict presets in a model bundle saved before bundles carried them (the shipped model among them).

    .venv/bin/python scripts/record_presets.py                    # resources/models/musicspeech.msmodel
    .venv/bin/python scripts/record_presets.py old.msmodel ...    # other bundles
    .venv/bin/python scripts/record_presets.py --replace          # the presets as they are now, over the recorded

`write_bundle` (core/bundle.py) records `"verdict": {"file": ..., "live": ...}` in every bundle it saves; a
bundle saved before that gets the defaults of `core/verdict.py` when it is read. This rewrites only its
`bundle.json`, adding the presets of `core/verdict.py` as they are now (`FILE_POLICY`, `LIVE_POLICY`), so the
model says which presets it is used with whatever later defaults become. `model.keras` and `model.tflite` are
copied byte for byte (their checksums in `bundle.json` stay valid), with their zip entries' names, dates and
compression; the file is replaced atomically (core/atomic.py). A bundle that already records presets is left
as it is, unless `--replace` is given: then the presets it records are replaced by today's (how a preset tuned
for the shipped model, like the live preset's `silence_hold_s`, reaches its file without retraining it). A
script rather than a one-off edit, so the change to the shipped file can be reviewed and repeated on a user's
own older models.
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from pathlib import Path

from musicspeech.core.atomic import atomic_path
from musicspeech.core.bundle import read_bundle
from musicspeech.core.errors import MusicSpeechError
from musicspeech.core.paths import shipped_model_path
from musicspeech.core.verdict import recorded_presets


def record_presets(path: Path, replace: bool = False) -> bool:
    """Add the presets to `path`'s bundle.json (with `replace`, also over presets it records that differ from
    today's); False when it was left as it was."""
    bundle = read_bundle(path)  # checked: format, checksums; refused in one line otherwise
    presets = recorded_presets()
    if "verdict" in bundle.meta:
        if not replace or bundle.meta["verdict"] == presets:
            return False
        meta = {**bundle.meta, "verdict": presets}  # in the place it had
    else:
        meta = {}
        for key, value in bundle.meta.items():  # where write_bundle puts them: after the model config
            meta[key] = value
            if key == "model_config":
                meta["verdict"] = presets
        meta.setdefault("verdict", presets)
    with zipfile.ZipFile(path) as source, atomic_path(path) as tmp_path, zipfile.ZipFile(tmp_path, "w") as out:
        for info in source.infolist():
            data = json.dumps(meta, indent=2).encode() if info.filename == "bundle.json" else source.read(info)
            out.writestr(info, data, compress_type=info.compress_type)
    after = read_bundle(path)
    if (after.keras, after.tflite) != (bundle.keras, bundle.tflite):
        raise RuntimeError(f"{path}: the networks changed while rewriting bundle.json")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path, help="bundles to update (default: the shipped model)")
    parser.add_argument("--replace", action="store_true", help="also replace presets a bundle records")
    args = parser.parse_args(argv)
    status = 0
    for path in args.models or [shipped_model_path()]:
        try:
            done = record_presets(path, args.replace)
        except MusicSpeechError as e:
            print(f"error: {e}", file=sys.stderr)
            status = 1
            continue
        left = "already records these presets" if args.replace else "already records its presets"
        print(f"{path}: {'presets recorded' if done else left + '; left as it is'}")
    return status


if __name__ == "__main__":
    sys.exit(main())
