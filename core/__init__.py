"""The music/speech core: audio, features, data sets, model, training, inference. No Qt in here."""

__version__ = "0.1.0"
