"""Training settings as plain data, and the named recipes: the seed's baseline and the shipped model's.

`scripts/make_model.py`, `bench/accuracy.py`, the app's Train tab and the tests read them from here, so the
shipped model, its model card and its checks always describe the same settings. Nothing here imports
TensorFlow: the app builds settings on the GUI thread.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from musicspeech.core.augment import AugmentSettings
from musicspeech.core.features import FeatureSpec


@dataclass(frozen=True)
class ModelConfig:
    """The CNN's shape. Defaults are the seed's: Resizing 32x32, Conv2D 32 and 64, Dense 128."""

    resize: tuple[int, int] | None = (32, 32)
    input_pool: tuple[int, int] = (1, 1)  # average-pool (time, frequency) first: cheaper convolutions
    conv_filters: tuple[int, ...] = (32, 64)
    dense_units: int = 128
    dropout_conv: float = 0.25
    dropout_dense: float = 0.5
    pool_each: bool = False  # max-pool after every convolution (else once, after the last, as the seed)
    global_pool: bool = False  # average over time and frequency before the dense layer (else flatten)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if values.get("resize") is not None:
            values["resize"] = tuple(values["resize"])
        if "input_pool" in values:
            values["input_pool"] = tuple(values["input_pool"])
        if "conv_filters" in values:
            values["conv_filters"] = tuple(values["conv_filters"])
        return cls(**values)


@dataclass(frozen=True)
class TrainSettings:
    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 1e-3
    val_fraction: float = 0.25  # 0: train on every clip, with no evaluation (for the final model)
    seed: int = 0
    patience: int = 5  # stop after this many epochs without a better validation loss; 0 = never
    train_hop_s: float | None = None  # hop between training windows; None = the features' hop
    balance_classes: bool = False  # weigh each class's windows by the inverse of its share of the windows
    keep_last: bool = False  # keep the last epoch's weights (a fixed schedule) instead of the lowest validation loss
    features: FeatureSpec = field(default_factory=FeatureSpec)
    model: ModelConfig = field(default_factory=ModelConfig)
    augment: AugmentSettings = field(default_factory=AugmentSettings)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["features"] = self.features.to_dict()
        out["model"] = self.model.to_dict()
        out["augment"] = self.augment.to_dict()
        return out


BASELINE = TrainSettings(
    # The TensorFlow "simple audio" recipe: |STFT| (255/128), resized to 32x32, the tutorial CNN.
    features=FeatureSpec(kind="stft", frame_length=255, frame_step=128, fft_length=256),
    model=ModelConfig(),
    epochs=15,
    patience=5,
)

SHIPPED = TrainSettings(
    # Log-mel windows of 1 s with their mean removed (gain does not matter), a small CNN (105k weights) that
    # halves the time resolution first (20 ms) and pools over time and frequency; recording-chain augmentation
    # (noise, bands, rooms, codecs) and mixtures (speech over music beds stays speech; noise under anything),
    # so that neither clean nor noisy audio decides the class; classes weighed equally.
    features=FeatureSpec(kind="logmel", window_norm=True),
    model=ModelConfig(
        resize=None, input_pool=(2, 1), conv_filters=(32, 64, 128), dense_units=96, pool_each=True, global_pool=True
    ),
    augment=AugmentSettings(copies=2, bed_probability=0.5, ambience_probability=0.3, codec_probability=0.35),
    train_hop_s=1.0,
    epochs=12,
    patience=0,
    keep_last=True,  # a fixed schedule: on the pool the validation loss is too noisy to pick an epoch by
    balance_classes=True,
)

YAMNET = TrainSettings(
    # Transfer learning: YAMNet (pretrained on AudioSet, frozen; its weights are downloaded once, `core.yamnet`)
    # turns each 0.975 s window, every 0.48 s (its own hop), into 1,024 numbers; only a small head (one dense
    # layer of 128, dropout, softmax) is trained on them, so a few dozen clips of one's own can be enough. Two
    # augmented copies of each clip, half the speech copies over a music bed: on our dev sets, from 32 GTZAN clips,
    # hard clips 97.0 % against 95.3 % without (clean 98.5 % against 99.2 %; docs/YAMNET.md).
    features=FeatureSpec(kind="yamnet", frame_length=120, frame_step=120, fft_length=120, window_s=0.975, hop_s=0.48),
    model=ModelConfig(resize=None, dense_units=128, dropout_dense=0.3),
    augment=AugmentSettings(copies=2, bed_probability=0.5),
    train_hop_s=0.48,
    epochs=40,
    batch_size=32,
    patience=8,
    balance_classes=True,
)

# The shipped model is distilled (docs/DISTILLATION.md): `scripts/make_model.py` first trains SHIPPED_TEACHER (the
# YAMNet head with the shipped recipe's augmentation) on the same data, then SHIPPED, whose loss takes the teacher's
# probabilities at this weight beside the true labels (`core.training.Teacher`). The teacher is not shipped: it
# needs YAMNet and runs at about half the speed; the student is the same small network at the same speed.
SHIPPED_TEACHER = replace(YAMNET, augment=SHIPPED.augment)
SHIPPED_TEACHER_WEIGHT = 0.8

RECIPES = {"baseline": BASELINE, "shipped": SHIPPED, "yamnet": YAMNET}


def recipe_settings(name: str, window_s: float | None = None, **overrides: Any) -> TrainSettings:
    """A named recipe with some settings changed (None means: keep the recipe's); the window length changes
    the features (not YAMNet's: its window is fixed, 0.975 s)."""
    base = RECIPES[name]
    changes = {k: v for k, v in overrides.items() if v is not None}
    if window_s is not None and base.features.kind != "yamnet":
        changes["features"] = replace(base.features, window_s=window_s)
    return replace(base, **changes)
