#!/usr/bin/env bash
# Install the mmseg_temporal stack into the active Python environment.
#
# Idempotent: every step first checks whether what it installs is already
# there, so a second run finishes in seconds. Any failing step stops the
# script with a message that names the step (set -e + an ERR trap).
#
# The stack (see docs/faq.md and ../shared/DESIGN.md section 4):
#   torch 2.13.0 (CPU build, unless a torch is already installed)
#   setuptools >=77.0.3,<81 (torch asks for >=77.0.3; pkg_resources, which mmcv's setup.py
#   and mmengine's mmseg:: config bases need, is gone from 81)
#   mmengine 0.10.7, mmcv 2.1.0 built from source with ops, mmsegmentation 1.2.2
#   opencv-python (the one OpenCV), then this package in editable mode;
#   optional: PyAV (`av`, FFmpeg with libx264: the video demo's H.264), whose
#   failure to install is logged and not fatal (the demo then writes VP9/mp4v).
set -euo pipefail

PY=${PYTHON:-python}
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STEP="start"
trap 'echo "install.sh: FAILED at step: ${STEP}" >&2' ERR

log() { echo "[install] $*"; }
have() {  # have MODULE VERSION -> 0 when MODULE imports with exactly VERSION (or any, if VERSION empty)
  (cd / && "$PY" - "$1" "${2:-}") <<'PYEOF' >/dev/null 2>&1
import importlib.metadata as md, sys
name, want = sys.argv[1], sys.argv[2]
try:
    got = md.version(name)
except md.PackageNotFoundError:
    sys.exit(1)
sys.exit(0 if (not want or got.split('+')[0] == want) else 1)
PYEOF
}
PIP() { "$PY" -m pip install --disable-pip-version-check "$@"; }

# Fast path: everything already installed (one interpreter start).
STEP="check what is installed"
# (run from / so that a checkout in the current folder cannot stand in for
# the installed package)
if (cd / && "$PY" - "$ROOT") <<'PYEOF' >/dev/null 2>&1
import importlib.metadata as md, os, sys
want = {'mmengine': '0.10.7', 'mmcv': '2.1.0', 'mmsegmentation': '1.2.2'}
for name, version in want.items():
    assert md.version(name) == version, name
for name in ('torch', 'mmseg_temporal', 'ninja', 'tqdm', 'onnxruntime', 'onnxscript', 'ruff',
             'av'):
    md.version(name)
import pkg_resources  # noqa: F401  (setuptools < 81)
try:  # one OpenCV: opencv-python, not also the headless build
    md.version('opencv-python-headless')
    sys.exit(1)
except md.PackageNotFoundError:
    pass
import mmcv.ops  # noqa: F401  (compiled ops)
import cv2  # noqa: F401
import mmseg_temporal
here = os.path.dirname(os.path.dirname(os.path.abspath(mmseg_temporal.__file__)))
assert here == os.path.abspath(sys.argv[1]), here
PYEOF
then
  log "everything is installed (torch, mmengine 0.10.7, mmcv 2.1.0 with ops, mmseg 1.2.2, mmseg_temporal from ${ROOT})"
  exit 0
fi

STEP="torch"
if have torch ""; then
  log "torch $("$PY" -c 'import torch; print(torch.__version__)') already installed"
else
  log "installing torch 2.13.0 (CPU build)"
  PIP "torch==2.13.0"
fi

STEP="build tools (setuptools>=77.0.3,<81, wheel, ninja)"
if "$PY" - <<'PYEOF' >/dev/null 2>&1 && have ninja ""
import importlib.metadata as md
import pkg_resources, wheel, ninja  # noqa: F401
major, minor = (int(x) for x in md.version('setuptools').split('.')[:2])
assert (major, minor) >= (77, 0) and major < 81
PYEOF
then
  log "build tools present"
else
  log "installing build tools"
  PIP "setuptools>=77.0.3,<81" wheel ninja
fi

STEP="opencv-python (the one OpenCV: mmengine requires it)"
# mmengine 0.10.7 requires opencv-python; a second, headless OpenCV would
# share its cv2/ folder, so a leftover opencv-python-headless is removed.
if have opencv-python-headless ""; then
  log "removing opencv-python-headless (opencv-python is the one OpenCV)"
  "$PY" -m pip uninstall -y opencv-python-headless
  PIP --force-reinstall --no-deps opencv-python
elif have opencv-python ""; then
  log "opencv-python present"
else
  PIP opencv-python
fi

STEP="mmengine 0.10.7"
if have mmengine 0.10.7; then log "mmengine 0.10.7 present"; else PIP "mmengine==0.10.7"; fi

STEP="mmcv 2.1.0 (built from source with ops; ~11 min the first time, then cached by pip)"
if have mmcv 2.1.0 && "$PY" -c 'import mmcv.ops' >/dev/null 2>&1; then
  log "mmcv 2.1.0 with ops present"
else
  log "building mmcv 2.1.0 with ops (MMCV_WITH_OPS=1, MAX_JOBS=${MAX_JOBS:-2})"
  MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} FORCE_CUDA=${FORCE_CUDA:-0} \
    PIP --no-build-isolation "mmcv==2.1.0"
  "$PY" -c 'import mmcv.ops' || { echo "mmcv installed but mmcv.ops does not import" >&2; exit 1; }
fi

STEP="mmsegmentation 1.2.2"
if have mmsegmentation 1.2.2; then log "mmsegmentation 1.2.2 present"; else PIP "mmsegmentation==1.2.2" ftfy regex; fi

STEP="mmseg_temporal (editable, with test extras)"
if have mmseg_temporal "" && (cd / && "$PY" - "$ROOT") <<'PYEOF' >/dev/null 2>&1
import sys, os, mmseg_temporal
sys.exit(0 if os.path.dirname(os.path.dirname(os.path.abspath(mmseg_temporal.__file__))) == os.path.abspath(sys.argv[1]) else 1)
PYEOF
then
  log "mmseg_temporal (editable) present"
else
  PIP --no-build-isolation -e "${ROOT}[tests]"
fi

STEP="PyAV (optional: H.264 for the video demo)"
if have av ""; then
  log "PyAV $("$PY" -c 'import av; print(av.__version__)' 2>/dev/null) present"
elif PIP "av>=14"; then
  log "PyAV installed (the video demo writes H.264)"
else
  log "PyAV could not be installed: the video demo falls back to VP9/mp4v (optional; continuing)"
fi

STEP="final import check"
cd /
"$PY" -c 'import mmcv, mmengine, mmseg, torch, cv2, mmseg_temporal; print("[install] ok: torch", torch.__version__, "mmcv", mmcv.__version__, "mmengine", mmengine.__version__, "mmseg", mmseg.__version__, "mmseg_temporal", mmseg_temporal.__version__)'
