"""From window probabilities and levels to verdicts: the clip's label, and segments of music, speech or silence.

The network says, for each window of audio, how likely each of its labels is. The verdict policy adds what the
network cannot see or should not decide alone:

- **Silence.** A window whose level (mean power) is under `silence_dbfs` is silence, whatever the network says
  (to it, digital silence and hiss look like speech). A model trained with a `noise` class (background noise,
  sound effects: neither music nor speech) has those windows called silence too: "silence" is the verdict for
  audio with no music and no speech in it.
- **Segments without fragments.** The labels of consecutive windows are smoothed as the most likely path of a
  hidden Markov model (Viterbi), as inaSpeechSegmenter does: each window's emission is its probabilities, and
  every change of label costs `switch_cost` (a log-probability), so a segment must be clearly better over
  several windows to exist. A programme gives its true segments, not a flicker.
- **A minimum segment length** (`min_segment_s`, off at 0). Files: after the Viterbi path, a segment shorter
  than it (any label, silence too; the first and last count their real length, from 0 and to the end) is given
  to the neighbour whose label explains its windows better (the sum of their emission log-probabilities),
  shortest first, until none is left or one segment is the whole signal. Live: a change of label is made only
  once the new label has been decided for `min_segment_s` of verdicts in a row, and the segment boundary then
  goes back to where that run began.
- **The clip's label**: the label that most of the clip's sounding windows lean to (the mean of their music and
  speech probabilities); silence only when `silent_share` of the clip or more is silence.

One policy class serves files and live audio; a preset says how it decides. The file preset (`FILE_POLICY`)
sees the whole signal and smooths with Viterbi. The live preset (`LIVE_POLICY`) decides causally, a verdict every
`hop_s` from the last `window_s` of audio: the same silence gate and noise rule, a change of label only when the
new label leads by `switch_margin` (`decide`), a window with `edge_s` of silence at either end keeps the
verdict before it, and a change to silence is made only once silence has been decided for `silence_hold_s` in a
row (then from where that run began), so that a breath, a click or a short noise inside speech is no change. A
model may carry its own presets (`presets`); the defaults are these.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np

SILENCE = "silence"
NOISE = "noise"  # a model label whose windows are reported as silence (neither music nor speech)


@dataclass(frozen=True)
class VerdictPolicy:
    silence_dbfs: float = -55.0  # a window quieter than this (mean power, dB re full scale) is silence
    switch_cost: float = 8.0  # log-probability cost of a change of label between windows (Viterbi smoothing)
    probability_floor: float = 1e-3  # window probabilities are clipped to this before their log is taken
    noise_cost: float = 3.0  # a model's noise class must beat music and speech by e^cost to make silence
    silent_share: float = 0.9  # a clip this much silent (or more) is called silence
    # How verdicts are made: over the whole signal (Viterbi), or causally, a verdict every hop from the past only.
    causal: bool = False
    hop_s: float | None = None  # between verdicts (causal); None: the model's window hop
    window_s: float | None = None  # audio a causal verdict looks at (the mean of the model windows in it)
    switch_margin: float = 0.5  # causal: a change of label needs this lead (music against speech, 0..1)
    edge_s: float = 0.05  # causal: this much silence at either end of the window keeps the verdict before it
    # No segment shorter than this (seconds; 0: off). Files: short segments join a neighbour after Viterbi;
    # causal: a change of label waits until the new label has held this long (hysteresis).
    min_segment_s: float = 0.0
    # causal: a change to silence (quiet, or the noise class) is made only once silence has been decided this long
    # in a row, and then goes back to where that run began (a VAD's hangover): a pause or a burst of noise inside
    # speech or music keeps the label before it. Changes between music and speech are not delayed by it.
    silence_hold_s: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: VerdictPolicy | None = None) -> VerdictPolicy:
        """A preset as a model records it; settings it does not name keep `base`'s (a preset recorded before a
        setting existed, like `min_segment_s`, gets the default's; names it does not know are left out: a newer
        model's extra settings)."""
        known = {f.name for f in fields(cls)}
        return replace(base or cls(), **{k: v for k, v in data.items() if k in known})


FILE_POLICY = VerdictPolicy()
LIVE_POLICY = VerdictPolicy(causal=True, hop_s=0.1, window_s=1.0, silence_hold_s=0.3)


def presets(meta: dict[str, Any] | None) -> tuple[VerdictPolicy, VerdictPolicy]:
    """(file preset, live preset) from a model bundle's settings (`"verdict": {"file": {...}, "live": {...}}`);
    the defaults where it has none."""
    verdict = (meta or {}).get("verdict") or {}
    return (
        VerdictPolicy.from_dict(verdict.get("file") or {}, FILE_POLICY),
        VerdictPolicy.from_dict(verdict.get("live") or {}, LIVE_POLICY),
    )


def recorded_presets() -> dict[str, dict]:
    """The presets as a bundle records them (`"verdict"` in bundle.json; `presets` reads them back)."""
    return {"file": FILE_POLICY.to_dict(), "live": LIVE_POLICY.to_dict()}


def verdict_labels(model_labels: Sequence[str]) -> tuple[str, ...]:
    """The labels a verdict can have: the model's, with `noise` folded into silence, and silence."""
    return tuple(label for label in model_labels if label != NOISE) + (SILENCE,)


def window_states(
    window_probs: np.ndarray,
    levels_dbfs: np.ndarray,
    model_labels: Sequence[str],
    policy: VerdictPolicy = FILE_POLICY,
    edges_s: np.ndarray | None = None,
) -> tuple[np.ndarray, tuple[str, ...]]:
    """The smoothed verdict of each window, as indices into `verdict_labels(model_labels)` (which is returned).

    `edges_s` (`window_edges`: where each window's share of the time starts, and the signal's end) is needed
    for the policy's `min_segment_s`."""
    states = verdict_labels(model_labels)
    n = len(window_probs)
    if n == 0:
        return np.zeros(0, dtype=np.int64), states
    emission = emission_logs(window_probs, levels_dbfs, model_labels, policy)
    path = viterbi(emission, policy.switch_cost)
    if policy.min_segment_s > 0:
        if edges_s is None:
            raise ValueError("min_segment_s needs the windows' edges in time (window_edges)")
        path = merge_short_runs(path, emission, edges_s, policy.min_segment_s)
    return path, states


def window_edges(starts_s: np.ndarray, window_s: float, duration_s: float) -> np.ndarray:
    """(n + 1,) the time each window speaks for: from half way to its neighbours' centres (the first from 0) to
    the next edge; the last edge is the end of the signal."""
    centres = np.asarray(starts_s, dtype=np.float64) + window_s / 2
    middles = (centres[1:] + centres[:-1]) / 2
    return np.minimum(np.concatenate([[0.0], middles, [duration_s]]), duration_s)


def merge_short_runs(path: np.ndarray, emission: np.ndarray, edges_s: np.ndarray, min_s: float) -> np.ndarray:
    """`path` with no run of one state shorter than `min_s` seconds (run lengths from `edges_s`), unless one run is
    the whole signal: the shortest run under `min_s` is given to the neighbour whose state explains its windows
    better (the larger sum of `emission` over them), merged with what then touches it, until none is left.
    O(n log n): a heap of runs, a linked list of neighbours, and cumulative sums of the emissions."""
    path = np.asarray(path, dtype=np.int64)
    n = len(path)
    if n == 0 or min_s <= 0:
        return path
    cum = np.vstack([np.zeros((1, emission.shape[1])), np.cumsum(emission, axis=0)])
    change = np.flatnonzero(np.diff(path)) + 1
    starts = np.concatenate([[0], change]).tolist()
    ends = np.concatenate([change, [n]]).tolist()
    state = path[starts].tolist()
    m = len(starts)
    prev = list(range(-1, m - 1))
    nxt = [*range(1, m), -1]
    alive = [True] * m

    def length(r: int) -> float:
        return float(edges_s[ends[r]] - edges_s[starts[r]])

    heap = [(length(r), r) for r in range(m) if length(r) < min_s]
    heapq.heapify(heap)
    runs = m
    while heap and runs > 1:
        size, r = heapq.heappop(heap)
        if not alive[r] or size != length(r) or size >= min_s:
            continue  # merged away, or grown since it was pushed
        a, b = starts[r], ends[r]
        p, q = prev[r], nxt[r]
        fits = {x: float(cum[b, state[x]] - cum[a, state[x]]) for x in (p, q) if x >= 0}
        into = max(fits, key=lambda x: (fits[x], x == p))  # ties go to the earlier neighbour
        state[r] = state[into]
        # r now has its neighbour's state: merge it with every neighbour of that state (both sides may have it)
        for x in (p, q):
            if x >= 0 and state[x] == state[r]:
                starts[r], ends[r] = min(starts[r], starts[x]), max(ends[r], ends[x])
                alive[x] = False
                runs -= 1
                if x == p:
                    prev[r] = prev[x]
                    if prev[r] >= 0:
                        nxt[prev[r]] = r
                else:
                    nxt[r] = nxt[x]
                    if nxt[r] >= 0:
                        prev[nxt[r]] = r
        if length(r) < min_s:
            heapq.heappush(heap, (length(r), r))
    out = np.empty(n, dtype=np.int64)
    for r in range(m):
        if alive[r]:
            out[starts[r] : ends[r]] = state[r]
    return out


def emission_logs(
    window_probs: np.ndarray, levels_dbfs: np.ndarray, model_labels: Sequence[str], policy: VerdictPolicy
) -> np.ndarray:
    """(n, n_states) log-probability of each window under each verdict state."""
    states = verdict_labels(model_labels)
    probs = np.clip(np.asarray(window_probs, dtype=np.float64), policy.probability_floor, 1.0)
    out = np.full((len(probs), len(states)), np.log(policy.probability_floor))
    for j, label in enumerate(states[:-1]):
        out[:, j] = np.log(probs[:, list(model_labels).index(label)])
    if NOISE in model_labels:
        out[:, -1] = np.log(probs[:, list(model_labels).index(NOISE)]) - policy.noise_cost
    silent = np.asarray(levels_dbfs) < policy.silence_dbfs
    out[silent] = np.log(policy.probability_floor)
    out[silent, -1] = 0.0
    return out


def viterbi(emission: np.ndarray, switch_cost: float) -> np.ndarray:
    """The most likely state sequence when staying costs nothing and every change costs `switch_cost`."""
    n, k = emission.shape
    back = np.zeros((n, k), dtype=np.int64)
    score = emission[0].copy()
    for t in range(1, n):
        best_prev = int(np.argmax(score))
        switch = score[best_prev] - switch_cost
        stay_better = score >= switch
        back[t] = np.where(stay_better, np.arange(k), best_prev)
        score = np.where(stay_better, score, switch) + emission[t]
    path = np.empty(n, dtype=np.int64)
    path[-1] = int(np.argmax(score))
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def clip_verdict(
    window_probs: np.ndarray,
    levels_dbfs: np.ndarray,
    path: np.ndarray,
    model_labels: Sequence[str],
    policy: VerdictPolicy = FILE_POLICY,
) -> tuple[str, float, np.ndarray]:
    """(label, confidence, probabilities over the model's labels) for a whole clip.

    The probabilities are the mean over the windows that sound (not silence); over every window if none does.
    Confidence: the label's share of those probabilities, or for silence the clip's silent share."""
    states = verdict_labels(model_labels)
    probs = np.asarray(window_probs, dtype=np.float64)
    if len(probs) == 0:
        return SILENCE, 1.0, np.zeros(len(model_labels))
    silent = path == len(states) - 1
    share = float(silent.mean())
    sounding = probs[~silent] if (~silent).any() else probs
    mean = sounding.mean(axis=0)
    if share >= policy.silent_share:
        return SILENCE, share, mean
    candidates = [i for i, label in enumerate(model_labels) if label != NOISE]
    best = max(candidates, key=lambda i: mean[i])
    total = float(sum(mean[i] for i in candidates)) or 1.0
    return model_labels[best], float(mean[best]) / total, mean


def decide(
    probs: np.ndarray,
    level_dbfs: float,
    silent_edge_s: float,
    held: str | None,
    model_labels: Sequence[str],
    policy: VerdictPolicy,
) -> str:
    """A causal verdict on one window (its mean probabilities, level and silent edge), given the verdict `held`
    before it: the silence gate and noise rule of the file verdict, and a change only on a clear lead."""
    labels = list(model_labels)
    if level_dbfs < policy.silence_dbfs:
        return SILENCE
    if silent_edge_s >= policy.edge_s and held is not None:
        return held  # sound starting or ending inside the window: the model would call it speech
    sounds = [i for i, label in enumerate(labels) if label != NOISE]
    best = max(sounds, key=lambda i: probs[i])
    held_i = labels.index(held) if held in labels else None
    if NOISE in labels:  # neither music nor speech: silence, when the noise class wins as clearly as in files
        noise = float(probs[labels.index(NOISE)])
        clear = np.log(max(noise, 1e-9)) - policy.noise_cost > np.log(max(float(probs[best]), 1e-9))
        if clear and (held_i is None or noise - probs[held_i] >= policy.switch_margin):
            return SILENCE
    share = probs[sounds] / max(float(probs[sounds].sum()), 1e-9)  # music against speech, noise left out
    lead = share[sounds.index(best)] - share[sounds.index(held_i)] if held_i is not None else 1.0
    if held_i is not None and held_i != best and lead < policy.switch_margin:
        return held  # not clearly better yet: no flicker on uncertain audio
    return labels[best]
