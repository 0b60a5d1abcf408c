"""Named training recipes: the seed's baseline and the one the shipped model is trained with.

`scripts/make_model.py`, `bench/accuracy.py` and the tests read them from here, so the shipped model, its
model card and its checks always describe the same settings.
"""

from core.augment import AugmentSettings
from core.features import FeatureSpec
from core.model import ModelConfig
from core.training import TrainSettings

BASELINE = TrainSettings(
    # The TensorFlow "simple audio" recipe: |STFT| (255/128), resized to 32x32, the tutorial CNN.
    features=FeatureSpec(kind="stft", frame_length=255, frame_step=128, fft_length=256),
    model=ModelConfig(),
    epochs=15,
    patience=5,
)

SHIPPED = TrainSettings(
    # Log-mel windows of 1 s with their mean removed (gain does not matter), a small CNN (28k weights) that
    # halves the time resolution first (20 ms) and pools over time and frequency, and recording-chain
    # augmentation against GTZAN's clean, uniformly loud sources.
    features=FeatureSpec(kind="logmel", window_norm=True),
    model=ModelConfig(
        resize=None, input_pool=(2, 1), conv_filters=(16, 32, 64), dense_units=64, pool_each=True, global_pool=True
    ),
    augment=AugmentSettings(copies=2),
    epochs=30,
    patience=6,
)

RECIPES = {"baseline": BASELINE, "shipped": SHIPPED}
