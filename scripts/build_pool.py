#!/usr/bin/env python3
"""Build the training pool: real, redistributable music, speech and noise clips from Debian packages.

    build_pool.py OUT [--limit N] [--only SOURCE,...] [--debs DIR] [--jobs N] [--deny-check PKG...]

Each package is fetched with `apt-get download` into OUT/debs (or --debs; reused on a second run) and unpacked
with `dpkg-deb -x` next to it (nothing is installed). Audio is decoded with ffmpeg (tracker modules via
libopenmpt, MIDI rendered with fluidsynth and a GM soundfont taken from a downloaded soundfont package).
Writes OUT/{train,dev}/{music,speech,noise}/*.wav (16 kHz mono 16-bit, 4-30 s), OUT/manifest.csv and
OUT/SOURCES.md. Splits are by package. Packages kept for evaluation (read from ../shared/data/EVALUATION-SOURCES.md) are
refused: the source list is checked before anything is downloaded. Deterministic for given package versions.
See docs/POOL.md.
"""

import argparse
import csv
import glob
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import wave
import zipfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np

try:  # faster than one ffmpeg process per short file; ffmpeg remains the fallback for everything
    import soundfile
    import soxr
except ImportError:  # pragma: no cover - the repo's venv has both
    soundfile = soxr = None

RATE = 16000
AUDIO = (".wav", ".ogg", ".oga", ".mp3", ".flac", ".opus", ".wv", ".mod", ".xm", ".it", ".s3m", ".mid", ".midi")
MIN_S, MAX_S = 4.0, 30.0
SF_EXT = (".wav", ".ogg", ".oga", ".flac", ".mp3")  # short files decoded in-process when soundfile is there
PER_FILE = 3  # at most this many clips cut from one long file

# Packages that must never feed the pool: the held-out evaluation sources and their families, and the packages
# of the developers' devset. They are read from the list kept beside the data (never copied here), so that this
# repository names none of them.
EVALUATION_SOURCES = os.environ.get(
    "MUSICSPEECH_EVALUATION_SOURCES",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "EVALUATION-SOURCES.md"),
)


def deny_families(text):
    """Family names (a package name's first '-' or '.' component) from that list: every item of its bullet
    lists and of its PyPI line (parenthesised notes dropped), and the devset's packages ("uses A, B, C and")."""
    names = []
    text = re.sub(r"\n  +(?=\S)", " ", text)  # a bullet's continuation lines joined to it
    for line in text.splitlines():
        line = re.sub(r"\([^)]*\)", "", line)
        if line.startswith("- ") or line.startswith("PyPI:"):
            names += line.split(":", 1)[1].split(",") if line.startswith("PyPI:") else line[2:].split(",")
    devset = re.search(r"uses (.*?) and the", text.replace("\n", " "))
    if devset:
        names += devset.group(1).split(",")
    families = set()
    for name in names:
        m = re.match(r"\s*([a-z0-9][a-z0-9+]*)", name.strip().lower())
        if m:
            families.add(m.group(1))
    return families


def _load_deny():
    try:
        with open(EVALUATION_SOURCES, encoding="utf-8") as f:
            families = deny_families(f.read())
    except OSError as e:
        raise SystemExit(f"build_pool: cannot read the packages to refuse ({EVALUATION_SOURCES}): {e}") from None
    if len(families) < 5:
        raise SystemExit(f"build_pool: no package families found in {EVALUATION_SOURCES}")
    return families


DENY = None  # read on first use


def denied(pkg):
    """The family of the evaluation list (or devset) that pkg belongs to, or None: its first '-' or '.'
    component is one of theirs."""
    global DENY
    if DENY is None:
        DENY = _load_deny()
    family = re.split(r"[-.]", pkg, maxsplit=1)[0]
    return family if family in DENY else None


# ---------------------------------------------------------------------------------------------------------
# The source list. One entry = one slice of one package.
#   mode 'join': short lines decoded, trimmed and joined per group into clips of 8-20 s with 0.15-0.6 s gaps
#   mode 'cut' : long files cut into clips of <= 30 s at spread offsets (<= PER_FILE per file)
#   mode 'loop': short musical loops repeated back to back into one clip of 8-16 s each
#   pat        : regex on the path inside the unpacked package (searched); group: regex whose group(1) names
#                the speaker/language group (joined clips never mix groups); lang: fixed language or
#                'group' (= the group key) or ''
#   cap        : minutes at most from this source. split: 'train' or 'dev' (one value per package)
# ---------------------------------------------------------------------------------------------------------
def S(
    name,
    pkg,
    label,
    kind,
    pat,
    mode,
    cap,
    split="train",
    lang="",
    group=None,
    exclude=None,
    synthetic=False,
    extract=None,
):
    return dict(
        name=name,
        pkg=pkg,
        label=label,
        kind=kind,
        pat=pat,
        mode=mode,
        cap=cap,
        split=split,
        lang=lang,
        group=group,
        exclude=exclude,
        synthetic=synthetic,
        extract=extract,
    )


SOURCES = [
    # ---- speech ----
    S(
        "fotaq",
        "flight-of-the-amazon-queen",
        "speech",
        "voice-acting",
        r"queen_sb/[0-9A-F]{6}[A-Z][0-9]\.mp3$",
        "join",
        16,
        lang="en",
        group=r"queen_sb/[0-9A-F]{6}([A-Z])",
        extract="queen",
    ),
    S(
        "bass",
        "beneath-a-steel-sky",
        "speech",
        "voice-acting",
        r"sky_speech/\d+/\d+\.wav$",
        "join",
        12,
        split="dev",
        lang="en",
        group=r"sky_speech/(\d+)/",
        extract="sky",
    ),
    S(
        "neverball-voice",
        "neverball-common",
        "speech",
        "announcer",
        r"neverball/snd/(gd/.*|(birdie|bogey|double|eagle|par|penalty|one|player\d))\.ogg$",
        "join",
        1,
        lang="en",
        group=r"(gd)",
    ),
    S(
        "openarena-voice",
        "openarena-data",
        "speech",
        "voice-acting",
        r"sound/voices/rott/.*\.ogg$",
        "join",
        3,
        split="dev",
        lang="en",
        group=r"(rott)",
    ),
    S(
        "openarena-tts",
        "openarena-data",
        "speech",
        "tts",
        r"sound/voices/festivoxmale/.*\.ogg$",
        "join",
        2,
        split="dev",
        lang="en",
        group=r"(festivox)",
        synthetic=True,
    ),
    S(
        "0ad-voices",
        "0ad-data",
        "speech",
        "voice-acting",
        r"audio/voice/(greek|latin|napatan|persian)/.*\.ogg$",
        "join",
        8,
        lang="group",
        group=r"audio/voice/([a-z]+)/",
    ),
    S("festvox-ru", "festvox-ru", "speech", "read-speech", r"msu_ru_nsh_clunits/wav/.*\.wav$", "cut", 12, lang="ru"),
    S(
        "tuxpaint-stamps",
        "tuxpaint-stamps-default",
        "speech",
        "spoken-word",
        r"_desc(?:_([a-z]{2}))?\.ogg$",
        "join",
        16,
        lang="group:en",
        group=r"_desc(?:_([a-z]{2}))?\.ogg$",
    ),
    S(
        "ktuberling",
        "ktuberling-data",
        "speech",
        "spoken-word",
        r"ktuberling/sounds/[^/]+/.*\.(ogg|wav|opus)$",
        "join",
        12,
        lang="group",
        group=r"ktuberling/sounds/([^/]+)/",
    ),
    S(
        "klettres",
        "klettres-data",
        "speech",
        "spoken-word",
        r"klettres/[^/]+/(alpha|syllab)/.*\.ogg$",
        "join",
        8,
        split="dev",
        lang="group",
        group=r"klettres/([^/]+)/",
    ),
    S(
        "kajongg",
        "kajongg",
        "speech",
        "voice-acting",
        r"kajongg/voices/.*\.ogg$",
        "join",
        6,
        split="dev",
        lang="group",
        group=r"kajongg/voices/((?:de/)?[a-z]+\d)/",
    ),
    S(
        "megaglest-voices",
        "megaglest-data",
        "speech",
        "voice-acting",
        r"/sounds/[a-z_]+_(ack|select)\d*\.(wav|ogg)$",
        "join",
        8,
        lang="en",
        group=r"/([a-z_]+?)_(?:ack|select)\d*\.(?:wav|ogg)$",
        # animals and monsters growl rather than speak
        exclude=r"/(behemoth|bull|carpet|chicken|cow|daemon|dr|dragon|eagle|evil_dragon|golem|ghost_armor|mummy|pig)_",
    ),
    S(
        "alsa-utils",
        "alsa-utils",
        "speech",
        "announcer",
        r"sounds/alsa/(Front|Rear|Side)_.*\.wav$",
        "join",
        1,
        lang="en",
        group=r"(alsa)",
    ),
    S(
        "espeak-ng",
        "espeak-ng-data",
        "speech",
        "tts",
        r"tts/.*\.wav$",
        "join",
        10,
        lang="group",
        group=r"tts/([a-z-]+)/",
        synthetic=True,
        extract="espeak",
    ),
    # ---- music ----
    S("0ad-music", "0ad-data", "music", "soundtrack", r"audio/music/.*\.ogg$", "cut", 14),
    S("openarena-music", "openarena-088-data", "music", "soundtrack", r"music/.*\.ogg$", "cut", 5, split="dev"),
    S(
        "stk-music",
        "supertuxkart-data",
        "music",
        "soundtrack",
        r"data/(music/[^/]+|tracks/[^/]+/(Battle_Theme_1|Gran_Paradiso[^/]*|beneath_the_rabbit_hole))\.ogg$",
        "cut",
        12,
        exclude=r"_fast\.ogg$|_f\.ogg$",
    ),
    S(
        "sonic-pi-loops",
        "sonic-pi-samples",
        "music",
        "loop",
        r"samples/loop_(amen|amen_full|breakbeat|compus|garzul|industrial|mehackit\d|mika|perc\d|safari|tabla)\.flac$",
        "loop",
        3,
    ),
    S("widelands-music", "widelands-data", "music", "soundtrack", r"widelands/data/music/.*\.ogg$", "cut", 10),
    S("naev-music", "naev-data", "music", "soundtrack", r"naev/dat/snd/music/.*\.ogg$", "cut", 10),
    S("supertux-music", "supertux-data", "music", "soundtrack", r"supertux2/music/.*\.(ogg|mod|xm|it|s3m)$", "cut", 10),
    S("megaglest-music", "megaglest-data", "music", "soundtrack", r"/music/.*\.ogg$", "cut", 6),
    S("warmux-music", "warmux-data", "music", "soundtrack", r"warmux/music/.*\.ogg$", "cut", 6),
    S("xmoto-music", "xmoto-data", "music", "soundtrack", r"\.ogg$", "cut", 6, split="dev"),
    S("freedink-music", "freedink-data", "music", "soundtrack", r"dink/Sound/.*\.(ogg|mid)$", "cut", 6),
    S("pushover-music", "pushover-data", "music", "soundtrack", r"themes/.*\.(ogg|mp3|flac)$", "cut", 5),
    S("neverball-music", "neverball-common", "music", "soundtrack", r"neverball/bgm/.*\.ogg$", "cut", 4),
    S("ri-li-music", "ri-li-data", "music", "soundtrack", r"Ri-li/Sounds/.*\.(mod|xm|it|s3m)$", "cut", 3),
    S("pingus-music", "pingus-data", "music", "tracker", r"music/.*\.(it|s3m|xm|mod)$", "cut", 6, split="dev"),
    S("heroes-music", "heroes-sound-tracks", "music", "tracker", r"\.(xm|mod|it|s3m)$", "cut", 6),
    S("tuxtype-music", "tuxtype-data", "music", "tracker", r"\.(mod|xm|it|s3m)$", "cut", 3),
    S("lugaru-music", "lugaru-data", "music", "soundtrack", r"Sounds/Music.*\.(ogg|wav)$", "cut", 4),
    S("openttd-openmsx", "openttd-openmsx", "music", "midi", r"openmsx/.*\.mid$", "cut", 6, split="dev"),
    # ---- noise ----
    S(
        "megaglest-sfx",
        "megaglest-data",
        "noise",
        "ambience",
        r"commondata/sounds/.*\.(wav|ogg)$",
        "join",
        3,
        group=r"(x)",
        exclude=r"_(ack|select|attack|die)\d*\.|sounds/[a-z_]+_\d",
    ),
    S(
        "widelands-sfx",
        "widelands-data",
        "noise",
        "sfx",
        r"widelands/data/sound/.*\.(ogg|wav)$",
        "join",
        3,
        group=r"(x)",
        exclude=r"military/|message_|lobby_",
    ),
    S(
        "warmux-sfx",
        "warmux-data",
        "noise",
        "sfx",
        r"sound/default/(weapons|misc)/.*\.ogg$",
        "join",
        3,
        group=r"(x)",
        exclude=r"frog_music|victory|sherif|newcomer|countdown|disco|music|homerun",
    ),
    S(
        "tuxpaint-sfx",
        "tuxpaint-stamps-default",
        "noise",
        "sfx",
        r"/[^/_]+\.ogg$",
        "join",
        4,
        group=r"(x)",
        exclude=r"stamps/(symbols|hobbies/music|military|seasonal|town/flags)/",  # spoken numbers, music
    ),
    S(
        "freeorion-sfx",
        "freeorion-data",
        "noise",
        "sfx",
        r"data/sound/.*\.ogg$",
        "join",
        2,
        group=r"(x)",
        exclude=r"artificial_intelligence",
    ),
    S("naev-sfx", "naev-data", "noise", "sfx", r"naev/dat/snd/sounds/.*\.(ogg|wav)$", "join", 2, group=r"(x)"),
    S("endless-sky-ambience", "endless-sky-data", "noise", "ambience", r"sounds/ambient/.*\.(ogg|wav|mp3)$", "cut", 2),
    S("endless-sky-sfx", "endless-sky-data", "noise", "sfx", r"sounds/[^/]+\.(ogg|wav|flac)$", "join", 2, group=r"(x)"),
    S(
        "supertux-sfx",
        "supertux-data",
        "noise",
        "sfx",
        r"supertux2/sounds/.*\.(ogg|wav)$",
        "join",
        2,
        group=r"(x)",
        exclude=r"excellent|welldone|grunts|hurt|yeti|tada|invincible|retro|lifeup|phone",
    ),
    S(
        "lugaru-sfx",
        "lugaru-data",
        "noise",
        "sfx",
        r"Sounds/.*\.(ogg|wav)$",
        "join",
        2,
        group=r"(x)",
        exclude=r"Music|Ambient|Wind",
    ),
    S("lugaru-ambience", "lugaru-data", "noise", "ambience", r"Sounds/(DesertAmbient|Wind)\.ogg$", "cut", 1),
    S("btanks-ambience", "btanks-data", "noise", "ambience", r"sounds/ambient/.*\.ogg$", "cut", 3, split="dev"),
    S(
        "btanks-sfx",
        "btanks-data",
        "noise",
        "sfx",
        r"sounds/[^/]+\.ogg$",
        "join",
        2,
        split="dev",
        group=r"(x)",
        exclude=r"deadman|scream|cow|laugh|zombie",
    ),
    S(
        "freedink-sfx",
        "freedink-data",
        "noise",
        "sfx",
        r"dink/Sound/.*\.wav$",
        "join",
        2,
        group=r"(x)",
        exclude=r"grunt|pain|die|scream|laugh|hello|speak|talk|nono",
    ),
    S(
        "sound-theme-freedesktop",
        "sound-theme-freedesktop",
        "noise",
        "sfx",
        r"\.oga$",
        "join",
        1,
        split="dev",
        group=r"(x)",
        exclude=r"audio-channel-",  # spoken: "front left", ...
    ),
    S(
        "libreoffice-sounds",
        "libreoffice-common",
        "noise",
        "sfx",
        r"gallery/sounds/.*\.wav$",
        "join",
        2,
        group=r"(x)",
        exclude=r"/(drama|kongas|romans|theetone|ok|ups|left|space\d?|sparcle|gong)\.wav$",  # jingles, voices
    ),
    S(
        "neverball-sfx",
        "neverball-common",
        "noise",
        "sfx",
        r"neverball/snd/(ball|bink|bump\w*|coin|grow|jump|menu|shrink|tick|tock|switch)\.ogg$",
        "join",
        1,
        group=r"(x)",
    ),
    S(
        "openarena-sfx",
        "openarena-data",
        "noise",
        "sfx",
        r"sound/(weapons|world|items|movers)/.*\.(wav|ogg)$",
        "join",
        3,
        split="dev",
        group=r"(x)",
        exclude=r"moan|drowning",
    ),
    S("0ad-ambience", "0ad-data", "noise", "ambience", r"audio/ambient/.*\.ogg$", "cut", 5),
    S(
        "0ad-sfx",
        "0ad-data",
        "noise",
        "sfx",
        r"audio/(attack|actor|resource)/.*\.ogg$",
        "join",
        2,
        group=r"(x)",
        exclude=r"/(human|mounted)/death/",  # death cries
    ),
    S(
        "stk-sfx",
        "supertuxkart-data",
        "noise",
        "sfx",
        r"data/sfx/.*\.ogg$",
        "join",
        2,
        group=r"(x)",
        exclude=r"Wilhelm|ugh|wee|flute|fanfare|race_finish|gp_end|track_intro|sara_airport|static-radio|lenautile"
        r"|start_race",
    ),
    S(
        "stk-ambience",
        "supertuxkart-data",
        "noise",
        "ambience",
        r"data/tracks/[^/]+/.*\.ogg$",
        "cut",
        2,
        exclude=r"introcutscene|Battle_Theme|Gran_Paradiso|rabbit_hole",  # speech, music
    ),
    S("oxygen-sounds", "oxygen-sounds", "noise", "sfx", r"\.ogg$", "join", 1, group=r"(x)", exclude=r"Log-(In|Out)"),
]

# group names that are not language codes
LANGS = {
    "greek": "grc",
    "latin": "la",
    "napatan": "meroitic",
    "persian": "peo",
    "male1": "en",
    "male2": "en",
    "female1": "en",
    "female2": "en",
    "de/male1": "de",
    "de/male2": "de",
    "de/female1": "de",
    "de/female2": "de",
}
SOUNDFONT_PKG = "timgm6mb-soundfont"
ESPEAK_VOICES = ["en", "en-us", "de", "fr", "es", "it", "pt", "nl", "pl", "sv", "fi", "tr", "ru", "cs", "hu"]


# ---------------------------------------------------------------------------------------------------------
def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def fetch(pkg, debs):
    """Download (once) and unpack (once) a package; return (version, root)."""
    os.makedirs(debs, exist_ok=True)
    have = glob.glob(os.path.join(debs, glob.escape(pkg) + "_*.deb"))
    if not have:
        for attempt in range(3):
            try:
                sh("apt-get", "download", "-q", pkg, cwd=debs)
                break
            except subprocess.CalledProcessError as e:
                if attempt == 2:
                    raise RuntimeError(f"apt-get download {pkg} failed: {e.stderr.strip()[-300:]}") from e
                time.sleep(3)
        have = glob.glob(os.path.join(debs, glob.escape(pkg) + "_*.deb"))
    deb = sorted(have)[-1]
    version = os.path.basename(deb).split("_")[1].replace("%3a", ":")
    root = os.path.join(debs, "x", os.path.basename(deb)[:-4])
    if not os.path.isdir(root):
        tmp = root + ".part"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        sh("dpkg-deb", "-x", deb, tmp)
        for pat in ("*.pk3", "*.zip"):  # game data archives (.pk3 are zip files): their audio members only
            for z in glob.glob(os.path.join(tmp, "**", pat), recursive=True):
                with zipfile.ZipFile(z) as zf:
                    zf.extractall(z + ".d", [m for m in zf.namelist() if m.lower().endswith(AUDIO)])
        prune(tmp)
        os.rename(tmp, root)
    return version, root


KEEP = AUDIO + ("/copyright", ".sf2", "queen.1c", "sky.dnr", "sky.dsk")


def prune(root):
    """Delete what the pool never reads (graphics, maps, archives already unpacked) from an unpacked package,
    so that the cache holds little more than audio, copyright files, soundfonts and the two speech archives."""
    for dp, _dn, fn in os.walk(root):
        for f in fn:
            p = os.path.join(dp, f)
            if not p.lower().endswith(KEEP) and (os.path.islink(p) or os.path.isfile(p)):
                os.remove(p)


def licence(root, pkg):
    """First License: line(s) of the package's copyright file."""
    p = os.path.join(root, "usr/share/doc", pkg, "copyright")
    if not os.path.isfile(p):
        return "unknown"
    found = []
    with open(p, errors="replace") as f:
        for line in f:
            if line.startswith("License:"):
                v = line.split(":", 1)[1].strip()
                if v and v not in found:
                    found.append(v)
    if not found:
        with open(p, errors="replace") as f:
            txt = f.read()
        for key in ("GPL", "BSD", "MIT", "Creative Commons", "CC-BY", "public domain", "Artistic"):
            if key.lower() in txt.lower():
                found.append(key + " (from copyright text)")
                break
    return "; ".join(found[:4]) or "unknown"


def extract_queen(root):
    """Flight of the Amazon Queen (talkie, compressed): queen.1c holds a QTBL table of named entries; the
    speech lines (*.SB) are MP3 streams. Write them out as .mp3 files under root/queen_sb once."""
    out = os.path.join(root, "queen_sb")
    if os.path.isdir(out):
        return
    src = glob.glob(os.path.join(root, "**", "queen.1c"), recursive=True)[0]
    with open(src, "rb") as f:
        d = f.read()
    if d[:4] != b"QTBL" or d[12] != 1:
        raise RuntimeError("queen.1c: not an MP3-compressed QTBL resource file")
    n = struct.unpack(">H", d[13:15])[0]
    tmp = out + ".part"
    os.makedirs(tmp, exist_ok=True)
    p = 15
    for _ in range(n):
        name = d[p : p + 12].split(b"\0")[0].decode("ascii", "replace")
        off, size = struct.unpack(">II", d[p + 13 : p + 21])
        p += 21
        if name.endswith(".SB"):
            with open(os.path.join(tmp, name[:-3] + ".mp3"), "wb") as g:
                g.write(d[off : off + size])
    os.rename(tmp, out)


def extract_espeak(root, rng_seed=7):
    """Synthetic speech: espeak-ng reading the package's own copyright/licence texts (varied sentences) in
    several voices. Written once under root/tts/<voice>/."""
    out = os.path.join(root, "tts")
    if os.path.isdir(out):
        return
    exe = shutil.which("espeak-ng")
    if not exe:
        raise RuntimeError("espeak-ng is not installed (build_pool.sh installs it)")
    texts = []
    for p in sorted(glob.glob("/usr/share/common-licenses/*"))[:12]:
        if os.path.isfile(p):
            with open(p, errors="replace") as f:
                t = " ".join(f.read().split())
            texts += [s.strip() for s in re.split(r"(?<=[.!?])\s+", t) if 40 < len(s) < 300]
    rng = random.Random(rng_seed)
    tmp = out + ".part"
    for v in ESPEAK_VOICES:
        os.makedirs(os.path.join(tmp, v), exist_ok=True)
        for k in range(8):
            s = rng.choice(texts)
            speed = str(rng.randint(140, 190))
            pitch = str(rng.randint(30, 70))
            subprocess.run(
                [exe, "-v", v, "-s", speed, "-p", pitch, "-w", os.path.join(tmp, v, f"{k:02d}.wav"), s],
                capture_output=True,
                check=False,
            )
    os.rename(tmp, out)


def _mirror(x, n):
    r = 0
    for _ in range(n):
        r = (r << 1) | (x & 1)
        x >>= 1
    return r


def rnc1_unpack(data):
    """Unpack Rob Northen (RNC, 'RNC\\x01') method 1 data: LSB-first bit stream in little-endian 16-bit words,
    three canonical Huffman tables per chunk (literal run lengths, match distances, match lengths); literal
    bytes sit in the byte stream itself."""
    if data[:4] != b"RNC\x01":
        raise ValueError("not RNC method 1")
    out_len = struct.unpack(">I", data[4:8])[0]
    buf = data + b"\0" * 8
    out = bytearray()
    st = dict(p=18)

    def lword(q):
        return buf[q] | buf[q + 1] << 8 | buf[q + 2] << 16 | buf[q + 3] << 24

    st.update(bits=lword(18), count=16)

    def advance(n):
        st["bits"] >>= n
        st["count"] -= n
        if st["count"] < 16:
            st["p"] += 2
            st["bits"] = (st["bits"] | (lword(st["p"]) << st["count"])) & 0xFFFFFFFF
            st["count"] += 16

    def read(n):
        v = st["bits"] & ((1 << n) - 1)
        advance(n)
        return v

    def table():
        num = read(5)
        if not num:
            return None
        lens = [read(4) for _ in range(num)]
        codes, code = {}, 0
        for ln in range(1, max(lens) + 1):
            for j in range(num):
                if lens[j] == ln:
                    codes[(ln, _mirror(code, ln))] = j
                    code += 1
            code <<= 1
        return sorted({ln for ln, _c in codes}), codes

    def huf(t):
        lens, codes = t
        for ln in lens:
            v = codes.get((ln, st["bits"] & ((1 << ln) - 1)))
            if v is not None:
                advance(ln)
                return (1 << (v - 1)) | read(v - 1) if v >= 2 else v
        raise ValueError("bad RNC huffman code")

    advance(2)
    tabs = [None, None, None]
    while len(out) < out_len:
        for i in range(3):
            t = table()
            if t is not None:
                tabs[i] = t
        raw, dist, lng = tabs
        count = read(16)
        while True:
            n = huf(raw)
            if n:
                q = st["p"]
                out += buf[q : q + n]
                q += n
                c = st["count"] - 16
                st["bits"] = ((st["bits"] & ((1 << c) - 1)) | (lword(q) << c)) & 0xFFFFFFFF
                st.update(p=q, count=c + 16)
            count -= 1
            if count <= 0:
                break
            pos = huf(dist) + 1
            n = huf(lng) + 2
            s = len(out) - pos
            if pos >= n:
                out += out[s : s + n]
            else:
                for k in range(n):
                    out.append(out[s + k])
    return bytes(out[:out_len])


def extract_sky(root):
    """Beneath a Steel Sky (CD talkie): sky.dnr indexes sky.dsk; files 50000-59999 are speech lines, each a
    22-byte header + RNC method 1 data holding 8-bit unsigned PCM at 11025 Hz. Written once as WAV files
    under root/sky_speech/<block of 100 lines>/."""
    out = os.path.join(root, "sky_speech")
    if os.path.isdir(out):
        return
    base = glob.glob(os.path.join(root, "**", "sky.dnr"), recursive=True)[0][:-4]
    with open(base + ".dnr", "rb") as f:
        dnr = f.read()
    tmp = out + ".part"
    shutil.rmtree(tmp, ignore_errors=True)
    n = struct.unpack("<I", dnr[:4])[0]
    with open(base + ".dsk", "rb") as dsk:
        for i in range(n):
            e = dnr[4 + 8 * i : 12 + 8 * i]
            nr = struct.unpack("<H", e[:2])[0]
            off, flags = int.from_bytes(e[2:5], "little"), int.from_bytes(e[5:8], "little")
            if not 50000 <= nr < 60000:
                continue
            size, pos = flags & 0x3FFFFF, off & 0x7FFFFF
            if (off >> 23) & 1:
                pos <<= 4
            dsk.seek(pos)
            d = dsk.read(size)
            if len(d) < 26 or d[22:26] != b"RNC\x01":
                continue
            try:
                pcm = rnc1_unpack(d[22:])
            except (ValueError, IndexError):
                continue
            dest = os.path.join(tmp, f"{(nr - 50000) // 100:03d}", f"{nr}.wav")
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with wave.open(dest, "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(1)
                w.setframerate(11025)
                w.writeframes(pcm)
    os.rename(tmp, out)


EXTRACT = {"queen": extract_queen, "espeak": extract_espeak, "sky": extract_sky}


# ---------------------------------------------------------------------------------------------------------
_SOUNDFONT = None


def decode(path, start=None, seconds=None):
    """Decode any supported file to 16 kHz mono float32 in [-1, 1]."""
    if path.lower().endswith((".mid", ".midi")):
        return render_midi(path, start, seconds)
    if soundfile is not None and start is None and seconds is None and path.lower().endswith(SF_EXT):
        try:
            a, sr = soundfile.read(path, dtype="float32", always_2d=True)
            a = a.mean(axis=1)
            if sr != RATE and len(a):
                a = soxr.resample(a, sr, RATE, quality="HQ")
            return np.ascontiguousarray(a, dtype=np.float32)
        except Exception:  # noqa: BLE001 - anything libsndfile cannot read goes to ffmpeg
            pass
    cmd = ["ffmpeg", "-v", "error", "-nostdin"]
    if start:
        cmd += ["-ss", f"{start:.2f}"]
    cmd += ["-i", path]
    if seconds:
        cmd += ["-t", f"{seconds:.2f}"]
    cmd += ["-vn", "-ac", "1", "-ar", str(RATE), "-f", "s16le", "-"]
    p = subprocess.run(cmd, capture_output=True)
    if p.returncode != 0:
        return np.zeros(0, np.float32)
    return np.frombuffer(p.stdout[: len(p.stdout) // 2 * 2], "<i2").astype(np.float32) / 32768.0


def render_midi(path, start=None, seconds=None):
    if _SOUNDFONT is None or not shutil.which("fluidsynth"):
        return np.zeros(0, np.float32)
    with tempfile.TemporaryDirectory() as td:
        wav = os.path.join(td, "m.wav")
        subprocess.run(
            ["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", "44100", "-F", wav, _SOUNDFONT, path],
            capture_output=True,
            timeout=600,
        )
        if not os.path.isfile(wav):
            return np.zeros(0, np.float32)
        return decode(wav, start, seconds)


def frame_db(a, frame=int(0.03 * RATE)):
    n = len(a) // frame
    if n == 0:
        return np.zeros(0)
    f = a[: n * frame].reshape(n, frame)
    return 10 * np.log10(np.mean(f * f, axis=1) + 1e-12)


def active_share(a):
    """Share of 30 ms frames that are not silent: above -50 dBFS and within 35 dB of the clip's loud frames."""
    db = frame_db(a)
    if len(db) == 0:
        return 0.0
    thr = max(-50.0, np.percentile(db, 95) - 35.0)
    return float(np.mean(db > thr))


def rms_db(a):
    return float(10 * np.log10(np.mean(a * a) + 1e-12)) if len(a) else -120.0


def trim(a, pad=0.05):
    """Cut leading/trailing silence (frames 40 dB under the loudest)."""
    db = frame_db(a)
    if len(db) == 0:
        return a
    on = np.nonzero(db > max(-55.0, db.max() - 40.0))[0]
    if len(on) == 0:
        return a[:0]
    f = int(0.03 * RATE)
    s = max(0, on[0] * f - int(pad * RATE))
    e = min(len(a), (on[-1] + 1) * f + int(pad * RATE))
    return a[s:e]


def fade(a, seconds=0.015):
    """Short fade-in/out so joined lines do not start or stop with a click."""
    n = min(int(seconds * RATE), len(a) // 2)
    if n > 0:
        a = a.copy()
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        a[:n] *= ramp
        a[-n:] *= ramp[::-1]
    return a


def gap(seconds, rng):
    """A pause between joined lines: a faint noise floor (about -70 dBFS), not digital silence, so that
    silence itself does not mark a clip as joined."""
    n = int(seconds * RATE)
    return (np.random.default_rng(rng.randrange(1 << 30)).standard_normal(n) * 10 ** (-70 / 20)).astype(np.float32)


def write_wav(path, a):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pcm = (np.clip(a, -1, 1) * 32767).astype("<i2")
    tmp = path + ".part"
    with wave.open(tmp, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------------------
def list_files(root, src):
    pat = re.compile(src["pat"])
    ex = re.compile(src["exclude"]) if src["exclude"] else None
    out = []
    for dp, _dn, fn in os.walk(root):
        for f in fn:
            p = os.path.join(dp, f)
            rel = os.path.relpath(p, root)
            if not f.lower().endswith(AUDIO) or os.path.islink(p):
                continue
            if pat.search(rel) and not (ex and ex.search(rel)):
                out.append(rel)
    return sorted(out)


def join_clips(root, files, src, rng, budget_s):
    """Short lines: decode, trim, join per group into 8-20 s clips with 0.15-0.6 s gaps."""
    grp = re.compile(src["group"]) if src["group"] else None
    groups = {}
    for rel in files:
        m = grp.search(rel) if grp else None
        key = (m.group(1) or "") if m else ""
        groups.setdefault(key, []).append(rel)
    for v in groups.values():
        rng.shuffle(v)
    # round-robin over groups so every voice/language is represented before any one fills the budget
    keys = sorted(groups)
    rng.shuffle(keys)
    state = {k: dict(idx=0, cur=[], used=[], target=rng.uniform(8, 20)) for k in keys}
    clips, total = [], 0.0
    live = list(keys)
    while live and total < budget_s:
        for k in list(live):
            st, lst = state[k], groups[k]
            # fill this group's current clip
            while st["idx"] < len(lst):
                rel = lst[st["idx"]]
                st["idx"] += 1
                a = fade(trim(decode(os.path.join(root, rel))))
                if len(a) < 0.2 * RATE or rms_db(a) < -50:
                    continue
                a = a[: int(MAX_S * RATE) - 1]
                cur_len = sum(len(x) for x in st["cur"])
                if cur_len + len(a) > MAX_S * RATE:
                    break
                if st["cur"]:
                    st["cur"].append(gap(rng.uniform(0.15, 0.6), rng))
                st["cur"].append(a)
                st["used"].append(os.path.basename(rel))
                if sum(len(x) for x in st["cur"]) >= st["target"] * RATE:
                    break
            length = sum(len(x) for x in st["cur"]) / RATE
            done = st["idx"] >= len(lst)
            if length >= st["target"] or (done and length >= MIN_S) or length >= MAX_S - 1:
                a = np.concatenate(st["cur"])[: int(MAX_S * RATE)]
                clips.append(dict(audio=a, source_file=";".join(st["used"])[:400], offset_s=0.0, group=k))
                total += len(a) / RATE
                st.update(cur=[], used=[], target=rng.uniform(8, 20))
            if done:
                live.remove(k)
            if total >= budget_s:
                break
    return clips


def cut_clips(root, files, src, rng, budget_s):
    """Long files: decode once, cut <= PER_FILE clips of 10-30 s at spread offsets; round-robin over files."""
    order = files[:]
    rng.shuffle(order)
    cache = {}
    clips, total = [], 0.0
    for rnd in range(PER_FILE):
        for rel in order:
            if total >= budget_s:
                return clips
            if rel not in cache:
                a = decode(os.path.join(root, rel), seconds=900)
                cache[rel] = a if len(a) >= MIN_S * RATE else None
            a = cache[rel]
            if a is None:
                continue
            dur = len(a) / RATE
            n = max(1, min(PER_FILE, int(dur // 30) + (1 if dur % 30 > 10 else 0)))
            if rnd >= n:
                continue
            length = min(dur, rng.uniform(10, MAX_S))
            # spread: clip rnd of n starts in the rnd-th slice of the file (skipping the first/last 3 s)
            lo, hi = min(3.0, dur - length), max(0.0, dur - length - 3.0)
            span = max(0.0, hi - lo)
            start = lo + span * (rnd + rng.random()) / n if span > 0 else 0.0
            s = int(start * RATE)
            c = a[s : s + int(length * RATE)]
            if len(c) < MIN_S * RATE or rms_db(c) < -45:
                continue
            clips.append(dict(audio=c, source_file=os.path.basename(rel), offset_s=round(start, 2), group=""))
            total += len(c) / RATE
        if rnd == 0 and total == 0:
            break
    return clips


def loop_clips(root, files, src, rng, budget_s):
    """Short musical loops (drum breaks, grooves): each repeated back to back into one clip of 8-16 s."""
    clips, total = [], 0.0
    order = files[:]
    rng.shuffle(order)
    for rel in order:
        if total >= budget_s:
            break
        a = decode(os.path.join(root, rel))
        if len(a) < 0.5 * RATE or rms_db(a) < -45:
            continue
        n = int(rng.uniform(8, 16) * RATE)
        c = np.tile(a, n // len(a) + 1)[:n]
        clips.append(dict(audio=fade(c, 0.005), source_file=os.path.basename(rel), offset_s=0.0, group=""))
        total += len(c) / RATE
    return clips


MODES = {"join": join_clips, "cut": cut_clips, "loop": loop_clips}


def build_source(src, args):
    t0 = time.time()
    version, root = fetch(src["pkg"], args.debs)
    if src["extract"]:
        EXTRACT[src["extract"]](root)
    lic = licence(root, src["pkg"])
    files = list_files(root, src)
    rng = random.Random(f"{args.seed}:{src['name']}")
    budget = src["cap"] * 60.0
    if args.limit:
        files = files[: max(args.limit * 4, 8)] if src["mode"] == "join" else files[: args.limit]
        budget = min(budget, args.limit * 20.0)
    clips = MODES[src["mode"]](root, files, src, rng, budget)
    rows, dropped = [], 0
    for i, c in enumerate(clips):
        a = c["audio"]
        if len(a) < MIN_S * RATE:
            dropped += 1
            continue
        share = active_share(a)
        if src["label"] == "speech" and share < 0.5:
            dropped += 1
            continue
        peak = float(np.max(np.abs(a))) if len(a) else 0.0
        if peak > 1.0:
            a = a / peak
        rel = f"{src['split']}/{src['label']}/{src['pkg']}__{src['name']}_{i:03d}.wav"
        write_wav(os.path.join(args.out, rel), a)
        lang = src["lang"]
        if lang.startswith("group"):  # 'group' or 'group:DEFAULT'
            lang = LANGS.get(c["group"], c["group"]) or lang.partition(":")[2]
        rows.append(
            dict(
                path=rel,
                label=src["label"],
                split=src["split"],
                package=src["pkg"],
                version=version,
                licence=lic,
                source_file=c["source_file"],
                offset_s=c["offset_s"],
                duration_s=round(len(a) / RATE, 2),
                kind=src["kind"],
                language=lang,
                synthetic=int(src["synthetic"]),
                source=src["name"],
                active_share=round(share, 3),
            )
        )
    secs = sum(r["duration_s"] for r in rows)
    print(
        f"{src['label']:6s} {src['name']:26s} {src['split']:5s} {len(rows):4d} clips {secs / 60:6.1f} min "
        f"from {len(files)} files ({dropped} dropped) {time.time() - t0:5.1f}s",
        flush=True,
    )
    return rows, dict(src=src, version=version, licence=lic, files=len(files))


COLUMNS = [
    "path",
    "label",
    "split",
    "package",
    "version",
    "licence",
    "source_file",
    "offset_s",
    "duration_s",
    "kind",
    "language",
    "synthetic",
    "source",
    "active_share",
]


def write_sources_md(out, rows, infos, elapsed):
    by = {}
    for r in rows:
        by.setdefault(r["package"], []).append(r)
    lines = [
        "# Pool sources",
        "",
        f"Built {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} in {elapsed / 60:.1f} min "
        f"by scripts/build_pool.py. Minutes per label and split:",
        "",
    ]
    lines += ["| label | train min | dev min | train clips | dev clips | packages |", "|---|---|---|---|---|---|"]
    for lab in ("speech", "music", "noise"):
        t = [r for r in rows if r["label"] == lab and r["split"] == "train"]
        d = [r for r in rows if r["label"] == lab and r["split"] == "dev"]
        pk = len({r["package"] for r in rows if r["label"] == lab})
        lines.append(
            f"| {lab} | {sum(r['duration_s'] for r in t) / 60:.1f} | {sum(r['duration_s'] for r in d) / 60:.1f} "
            f"| {len(t)} | {len(d)} | {pk} |"
        )
    syn = sum(r["duration_s"] for r in rows if r["label"] == "speech" and r["synthetic"])
    sp = sum(r["duration_s"] for r in rows if r["label"] == "speech") or 1
    lines += [
        "",
        f"Synthetic (TTS) share of speech seconds: {100 * syn / sp:.1f} %.",
        "",
        "| package | version | licence | split | source: kind, label, clips, minutes (languages) |",
        "|---|---|---|---|---|",
    ]
    for pkg in sorted(by):
        rs = by[pkg]
        parts = []
        for name in sorted({r["source"] for r in rs}):
            s = [r for r in rs if r["source"] == name]
            langs = ",".join(sorted({r["language"] for r in s if r["language"]}))
            parts.append(
                f"{name}: {s[0]['kind']}, {s[0]['label']}, {len(s)}, "
                f"{sum(r['duration_s'] for r in s) / 60:.1f}" + (f" ({langs})" if langs else "")
            )
        lines.append(f"| {pkg} | {rs[0]['version']} | {rs[0]['licence']} | {rs[0]['split']} | {'<br>'.join(parts)} |")
    with open(os.path.join(out, "SOURCES.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def check_sources(sources):
    """Refuse a source list that touches a denied package, or a package split across train and dev."""
    bad = [(s["pkg"], denied(s["pkg"])) for s in sources if denied(s["pkg"])]
    if bad:
        sys.exit(
            "refusing to build: evaluation/devset packages in the source list: "
            + ", ".join(f"{p} (deny {d})" for p, d in bad)
        )
    splits = {}
    for s in sources:
        splits.setdefault(s["pkg"], set()).add(s["split"])
    mixed = [p for p, v in splits.items() if len(v) > 1]
    if mixed:
        sys.exit("refusing to build: packages in both splits: " + ", ".join(mixed))


def main(argv=None):
    global _SOUNDFONT
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--limit", type=int, default=0, help="small build: at most N files / N*20 s per source")
    ap.add_argument("--only", default="", help="comma-separated source names or package names")
    ap.add_argument("--debs", default="", help="download cache (default OUT/debs)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--extra",
        action="append",
        default=[],
        help="add a source: NAME:PKG:LABEL:KIND:REGEX[:mode[:split]] (testing the deny list)",
    )
    args = ap.parse_args(argv)
    args.out = os.path.abspath(args.out)
    args.debs = os.path.abspath(args.debs or os.path.join(args.out, "debs"))
    sources = list(SOURCES)
    if args.only:
        want = {w.strip() for w in args.only.split(",") if w.strip()}
        sources = [s for s in sources if s["name"] in want or s["pkg"] in want]
        unknown = want - {s["name"] for s in sources} - {s["pkg"] for s in sources}
        if unknown:
            sys.exit("unknown source(s): " + ", ".join(sorted(unknown)))
    for e in args.extra:  # added after --only: an extra source is always part of the build
        f = e.split(":")
        if len(f) < 5:
            sys.exit(f"--extra needs NAME:PKG:LABEL:KIND:REGEX, got {e!r}")
        sources.append(
            S(f[0], f[1], f[2], f[3], f[4], f[5] if len(f) > 5 else "cut", 5, split=f[6] if len(f) > 6 else "train")
        )
    check_sources(sources)
    for tool in ("ffmpeg", "dpkg-deb", "apt-get"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is needed (scripts/build_pool.sh installs it)")
    t0 = time.time()
    if any(re.search(r"mid", s["pat"]) for s in sources):
        try:
            _v, sfroot = fetch(SOUNDFONT_PKG, args.debs)
            sf = glob.glob(os.path.join(sfroot, "**", "*.sf2"), recursive=True)
            _SOUNDFONT = sf[0] if sf else None
        except Exception as e:  # MIDI sources are then skipped
            print(f"no soundfont: {e}", file=sys.stderr)
    for lab in ("music", "speech", "noise"):
        for sp in ("train", "dev"):
            os.makedirs(os.path.join(args.out, sp, lab), exist_ok=True)
    # packages first fetched serially (apt-get locks), then sources decoded in parallel
    rows, infos, failed = [], [], []
    for pkg in dict.fromkeys(s["pkg"] for s in sources):
        try:
            fetch(pkg, args.debs)
        except Exception as e:
            failed.append(f"{pkg}: {e}")
            print(f"FAILED fetch {pkg}: {e}", file=sys.stderr, flush=True)
    okpk = {s["pkg"] for s in sources} - {f.split(":")[0] for f in failed}
    todo = [s for s in sources if s["pkg"] in okpk]
    with ThreadPoolExecutor(max(1, args.jobs)) as ex:
        for s, fut in [(s, ex.submit(build_source, s, args)) for s in todo]:
            try:
                r, info = fut.result()
                rows += r
                infos.append(info)
            except Exception as e:
                failed.append(f"{s['name']}: {e}")
                print(f"FAILED {s['name']}: {e}", file=sys.stderr, flush=True)
    rows.sort(key=lambda r: r["path"])
    tmp = os.path.join(args.out, "manifest.csv.part")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, COLUMNS)
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, os.path.join(args.out, "manifest.csv"))
    write_sources_md(args.out, rows, infos, time.time() - t0)
    tot = {lab: sum(r["duration_s"] for r in rows if r["label"] == lab) / 60 for lab in ("speech", "music", "noise")}
    print(
        f"{len(rows)} clips in {args.out}: "
        + ", ".join(f"{k} {v:.1f} min" for k, v in tot.items())
        + f"; {(time.time() - t0) / 60:.1f} min",
        flush=True,
    )
    if failed:
        print("failures:\n  " + "\n  ".join(failed), file=sys.stderr)
    return 1 if failed and not rows else 0


if __name__ == "__main__":
    sys.exit(main())
