# syntax=docker/dockerfile:1.7
# The sketch2idol image: the gateway and drawing page (`sketch2idol gateway`, the default
# command), the CPU Triton of the cpu overlay (the `tritonserver` of the nvidia-pytriton
# wheel, python-ort runtime) and `sketch2idol export` with the shipped weights (what the
# Triton pods' init container runs). Build from the repository root:
#
#   docker build -f docker/gateway.Dockerfile -t REGISTRY/sketch2idol:0.1.0 .
#
# The same pinned environment as a developer's .venv (requirements.lock, torch's CPU wheel),
# less the test tools.

FROM python:3.11.10-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements.lock /tmp/requirements.lock
# torch==2.13.0+cpu lives on PyTorch's CPU index; everything else on PyPI.
RUN grep -v -E '^(pytest|ruff|playwright|iniconfig|pluggy|kubernetes-validate)==' \
        /tmp/requirements.lock > /tmp/requirements.txt \
    && /opt/venv/bin/pip install --extra-index-url https://download.pytorch.org/whl/cpu \
        -r /tmp/requirements.txt
COPY pyproject.toml README.md /src/
COPY sketch2idol /src/sketch2idol
RUN /opt/venv/bin/pip install --no-deps /src

FROM python:3.11.10-slim-bookworm
# OpenCV (export's procedural sketches, the drawing guide's included; the gateway's drawing
# placement) needs libGL and GLib.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --gid 10001 sketch2idol \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp \
        --shell /usr/sbin/nologin sketch2idol
COPY --from=build /opt/venv /opt/venv
COPY weights/default /opt/sketch2idol/weights/default
ENV PATH=/opt/tritonserver/bin:/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    MPLCONFIGDIR=/tmp/matplotlib
# Lay the wheel's Triton out like the NGC image, so both overlays run the same command line
# (tritonserver on PATH, --backend-directory=/opt/tritonserver/backends).
COPY docker/pytriton_layout.py /tmp/pytriton_layout.py
RUN python /tmp/pytriton_layout.py && rm /tmp/pytriton_layout.py
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080 8000 8001 8002
# checkov:skip=CKV_DOCKER_2:One image, three roles (gateway, Triton, export job): no single HEALTHCHECK fits, and Kubernetes ignores HEALTHCHECK; the probes are in k8s/base (/healthz, /readyz, /v2/health/*).
ENTRYPOINT ["sketch2idol"]
CMD ["gateway", "--host=0.0.0.0", "--port=8080"]
