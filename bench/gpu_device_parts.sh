#!/usr/bin/env bash
# HERE, before the GPU check on a lent device machine (docs/benchmarks.md, "GPU check on a device"):
# fetch onnxruntime-gpu for the device's Python (3.12; its image has the CPU-only onnxruntime) and
# split the wheel into folders .ort1 .. .ortN of 56 MiB, each carried by one call of the device
# tool (64 MiB at most per call, the repository included).
#
#   bash bench/gpu_device_parts.sh [VERSION]     # default: the onnxruntime-gpu installed here
set -euo pipefail
VERSION=${1:-$(python3 -c "from importlib.metadata import version; print(version('onnxruntime-gpu'))")}
exclude=$(git rev-parse --git-path info/exclude)
grep -qxF '/.ort*/' "$exclude" 2>/dev/null || echo '/.ort*/' >> "$exclude"  # never committed
rm -rf .ort-wheel .ort[0-9]*
mkdir .ort-wheel
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    -d .ort-wheel "onnxruntime-gpu==$VERSION"
wheel=$(ls .ort-wheel/*.whl)
split -b 56M -d "$wheel" .ort-wheel/part-
n=0
for part in .ort-wheel/part-*; do
    n=$((n + 1))
    mkdir ".ort$n"
    mv "$part" ".ort$n/"
done
basename "$wheel" > .ort1/name
sha256sum "$wheel" | cut -d' ' -f1 > .ort1/sha256
rm -rf .ort-wheel
echo "$(basename "$wheel"): $n parts, .ort1 .. .ort$n"
