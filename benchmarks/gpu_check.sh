#!/usr/bin/env bash
# The GPU check (issue: speed and scale). Run it from the repository root whenever a CUDA machine is at
# hand, with the project installed (README's install line); it should finish in under 5 minutes:
#   bash benchmarks/gpu_check.sh
# 1. SASRec and sasrec-lm on ml-100k with mixed precision on CUDA, beside the CPU figures.
# 2. The window's training flow (pytest-qt, offscreen) on cuda, so mixed-precision training inside
#    the worker thread is exercised.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$(command -v python3)}
[ -x .venv/bin/python ] && PY=.venv/bin/python
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA GPU visible to torch'; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
time "$PY" benchmarks/gpu_check.py "$@"
QT_QPA_PLATFORM=offscreen time "$PY" -m pytest -q -p no:cacheprovider tests/gui/test_gpu_training.py
