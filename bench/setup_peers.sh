#!/usr/bin/env bash
# Installs the peer systems the benchmarks compare against into their own venv, bench/.peers-venv (never the
# project's .venv), from the package registry alone, idempotently: a second run with nothing changed only checks.
#   inaSpeechSegmenter 0.8.0 (its model copied from ../shared/peers/inaSpeechSegmenter into the venv, where
#   bench/peer_adapter.py points KERAS_HOME: nothing is downloaded, nothing written outside the venv),
#   Silero VAD 6.2.3 on torch 2.13.0 (the CPU build), pyAudioAnalysis 0.3.14, WebRTC VAD.
# bench/throughput.py runs each of them through bench/peer_adapter.py in a subprocess of this venv.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=$root/bench/.peers-venv
shared=${MUSICSPEECH_SHARED:-$root/../shared}
ina_model=$shared/peers/inaSpeechSegmenter/keras_speech_music_noise_cnn.hdf5
say() { printf 'setup_peers: %s\n' "$*" >&2; }

stamp_value=$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)
stamp_file=$venv/.setup-stamp
ina_target=$venv/keras/inaSpeechSegmenter/keras_speech_music_noise_cnn.hdf5  # KERAS_HOME=$venv/keras
if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp_value" ] && [ -f "$ina_target" ]; then
  exit 0
fi
[ -f "$ina_model" ] || { say "inaSpeechSegmenter's model is missing at $ina_model"; exit 1; }
python=$(command -v python3.11 || command -v python3)
if ! "$venv/bin/python" -c 'import sys' 2>/dev/null; then
  say "creating $venv with $python"
  rm -rf "$venv"
  "$python" -m venv "$venv"
fi
pip_install() {  # quiet, but for errors (this machine's pip configuration warns about every package)
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@" 2> >(grep -v "is ignored: it is neither" >&2)
}
say "installing the peers into $venv (first time: a few minutes)"
# torch 2.13.0 is the CPU build (a plain `torch` would pull several GB of CUDA packages).
pip_install "torch==2.13.0" "silero-vad==6.2.3" numpy soundfile soxr
# inaSpeechSegmenter declares tensorflow[and-cuda] and onnxruntime-gpu: installed without them, on the CPU builds.
pip_install "tensorflow-cpu~=2.21.0" onnxruntime pandas scikit-image pyannote.core matplotlib Pyro4 pytextgrid
pip_install --no-deps "inaspeechsegmenter==0.8.0"
# pyAudioAnalysis 0.3.14 pins old versions of its dependencies; its shipped models load with today's.
pip_install scipy scikit-learn hmmlearn eyed3 pydub plotly imbalanced-learn tqdm simplejson
pip_install --no-deps "pyaudioanalysis==0.3.14"
pip_install "webrtcvad-wheels==2.0.14.post1"
mkdir -p "$(dirname "$ina_target")"
cp "$ina_model" "$ina_target"
echo "$stamp_value" > "$stamp_file"
say "ready"
