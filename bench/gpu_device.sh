#!/usr/bin/env bash
# The GPU figures of issue 3 on a lent device machine (docs/benchmarks.md, "GPU check on a device").
#
# Runs THERE, in the repository root, after the onnxruntime-gpu wheel has been carried over in
# parts (a call carries 64 MiB at most; the wheel is 256 MB) and gathered in $PARTS:
#
#   bash bench/gpu_device.sh
#
# Installs the wheel into /tmp/site (once per machine), checks that ONNX Runtime sees CUDA, then
# runs bench/gpu_check.py (providers verified, events/s per batch size, host-to-device share) and
# the inference benchmark's per-core and replay figures with the models on the GPU. Everything
# it prints and writes lands in $OUT (the device tool brings $OUT back).
set -euo pipefail
PARTS=${PARTS:-/tmp/ort-parts}
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if [ ! -d /tmp/site/onnxruntime ]; then
    wheel=/tmp/$(cat "$PARTS/name")
    cat "$PARTS"/part-* > "$wheel"
    sha256sum -c <(echo "$(cat "$PARTS/sha256")  $wheel")  # a part lost or doubled stops here
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site "$wheel"
fi
# The repository is not installed there: import it from here, ahead of the image's CPU-only onnxruntime.
export PYTHONPATH=/tmp/site:$PWD
python3 -c "import onnxruntime as o; print('onnxruntime', o.__version__, o.get_available_providers())" \
    | tee "$OUT/providers.txt"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -m bench.gpu_check --repeats 5 --out "$OUT/gpu_check.json" 2>&1 | tee "$OUT/gpu_check.log"
python3 -m bench.inference_bench --events 1000000 --repeats 5 --e2e-events 0 2>&1 | tee "$OUT/inference.log"
cp bench/results/inference.json "$OUT/inference_gpu.json"
