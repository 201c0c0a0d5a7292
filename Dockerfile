# The trigger farm image: the official Ray image (same Ray as the cluster's rayVersion,
# Python 3.11) with the trigger package and its pinned ONNX models installed.
#
#   docker build -t trigger:0.1.0 .                                   # CPU
#   docker build --build-arg RAY_VARIANT=-gpu -t trigger:0.1.0-gpu .  # CUDA, for GPU filters
#
# KubeRay starts Ray in it (`ray start ...`); there is no ENTRYPOINT or CMD of ours, and no
# HEALTHCHECK: Kubernetes ignores it, KubeRay adds readiness and liveness probes.

# Keep RAY_VERSION equal to trigger/k8s/config.py RAY_VERSION and the manifests' rayVersion.
ARG RAY_VERSION=2.60.0
# "-cpu" or "-gpu" (CUDA base image; onnxruntime-gpu then brings its CUDA and cuDNN wheels).
ARG RAY_VARIANT=-cpu
FROM rayproject/ray:${RAY_VERSION}-py311${RAY_VARIANT}

ARG RAY_VERSION
ARG RAY_VARIANT

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The base image's user is ray (uid 1000, gid 100) and owns the Python environment.
WORKDIR /home/ray/trigger
COPY --chown=1000:100 pyproject.toml README.md ./
COPY --chown=1000:100 trigger/ trigger/

# Pin Ray to the base image's version so that pip never swaps it. On the GPU variant,
# onnxruntime-gpu's [cuda,cudnn] extras install the CUDA runtime and cuDNN it was built for
# (the base image's CUDA may be another version); only the host's NVIDIA driver is used.
# The last two lines fail the build if the package, Ray or the CLI did not install as intended.
RUN extra="" \
    && if [ "${RAY_VARIANT}" = "-gpu" ]; then extra="onnxruntime-gpu[cuda,cudnn]"; fi \
    && pip install --no-cache-dir . "ray[default]==${RAY_VERSION}" ${extra:+"$extra"} \
    && python -c "import trigger, onnxruntime, ray; assert ray.__version__ == '${RAY_VERSION}', ray.__version__" \
    && trigger --help > /dev/null

# Numeric user: lets the kubelet verify runAsNonRoot without reading /etc/passwd.
USER 1000:100
WORKDIR /home/ray
