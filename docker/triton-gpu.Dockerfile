# syntax=docker/dockerfile:1.7
# Triton for the gpu overlay: NVIDIA's tritonserver 24.10 (Triton 2.51, the same server as
# the nvidia-pytriton wheel the project pins) with its native onnxruntime and TensorRT
# backends, plus sketch2idol for
#   - the Python-backend model manifold_projection (FAISS on the GPU: faiss-gpu, CUDA 12.6
#     like the container), run by the stub for Python 3.11 that the nvidia-pytriton wheel ships;
#   - the Triton pods' init container: `sketch2idol export --runtime tensorrt` and
#     `python -m sketch2idol.export.tensorrt` (trtexec builds the plans on the pod's GPU).
# Build from the repository root (needs no GPU):
#
#   docker build -f docker/triton-gpu.Dockerfile -t REGISTRY/triton-gpu:0.1.0 .

# trtexec only: the TensorRT container of the same release has the same TensorRT (10.5).
FROM nvcr.io/nvidia/tensorrt:24.10-py3 AS tensorrt

FROM nvcr.io/nvidia/tritonserver:24.10-py3
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_PYTHON_INSTALL_DIR=/opt/python UV_PYTHON_PREFERENCE=only-managed
# OpenCV (procedural sketches for the export's parity and calibration sets) needs libGL, GLib.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=tensorrt /usr/src/tensorrt/bin/trtexec /usr/local/bin/trtexec

# The container's python3 is 3.10; sketch2idol needs 3.11. A standalone CPython 3.11 (uv),
# its libpython where the Python-backend stub looks for it, and a virtualenv.
RUN python3 -m pip install uv==0.13.8 \
    && uv python install 3.11.10 \
    && uv venv --seed --python 3.11.10 /opt/venv \
    && dirname "$(find /opt/python -name 'libpython3.11.so.1.0' | head -n 1)" \
        > /etc/ld.so.conf.d/python3.11.conf \
    && ldconfig

# The project's pinned environment (torch's CPU wheel: the export's PyTorch reference runs on
# the CPU), faiss-gpu in place of faiss-cpu, less the test tools.
COPY requirements.lock /tmp/requirements.lock
RUN grep -v -E '^(pytest|ruff|playwright|iniconfig|pluggy|kubernetes-validate|faiss-cpu)==' \
        /tmp/requirements.lock > /tmp/requirements.txt \
    && /opt/venv/bin/pip install --extra-index-url https://download.pytorch.org/whl/cpu \
        -r /tmp/requirements.txt faiss-gpu==1.15.1
COPY pyproject.toml README.md /src/
COPY sketch2idol /src/sketch2idol
RUN /opt/venv/bin/pip install --no-deps /src && rm -rf /src /tmp/requirements.*
COPY weights/default /opt/sketch2idol/weights/default

# The Python backend runs its models in the stub's Python: use the wheel's 3.11 stub (built
# for Triton 2.51's Python backend, like this image's libtriton_python.so). A symlink, so
# the stub still finds the wheel's libraries through its relative RPATH; the stub imports
# from the first python3 on PATH, the virtualenv's.
RUN stub="$(/opt/venv/bin/python -c 'from sketch2idol.launch.tritonserver import locate_triton; print(locate_triton().stub)')" \
    && ln -sf "$stub" /opt/tritonserver/backends/python/triton_python_backend_stub

RUN groupadd --gid 10001 sketch2idol \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp \
        --shell /usr/sbin/nologin sketch2idol
ENV PATH=/opt/venv/bin:/opt/tritonserver/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    MPLCONFIGDIR=/tmp/matplotlib
USER 10001:10001
WORKDIR /tmp
EXPOSE 8000 8001 8002
# checkov:skip=CKV_DOCKER_2:Kubernetes ignores HEALTHCHECK; the probes (/v2/health/live, /v2/health/ready) are in k8s/base/triton-deployment.yaml, and the image also runs the export init container, which serves nothing.
ENTRYPOINT []
CMD ["tritonserver", "--model-repository=/models"]
