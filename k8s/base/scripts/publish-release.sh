#!/bin/sh
# Publish model release $MODEL_RELEASE once: $MODELS_ROOT/releases/$MODEL_RELEASE/repository
# is a complete Triton model repository and $MODELS_ROOT/releases/$MODEL_RELEASE/READY says
# so. Runs as the init container of every Triton pod; the first pod of a release exports it
# (`sketch2idol export`, plus the TensorRT plans for the tensorrt runtime) into a staging
# directory of its own and renames that into place, atomically; a pod that loses the race
# drops its copy; later pods find the release and start at once. Published releases are
# never modified, so a rollback (`kubectl rollout undo`) finds the old one as it was.
#
#   MODEL_RELEASE   release name, one path component: [A-Za-z0-9._-], not starting with '.'
#   WEIGHTS         weights directory (`sketch2idol export --weights`)
#   EXPORT_RUNTIME  python-ort | onnxruntime | tensorrt
#   EXPORT_ARGS     more `sketch2idol export` options (--precision int8, --device gpu, ...)
#   MODELS_ROOT     the volume's mount point (default /models)
#   TRTEXEC         trtexec for the tensorrt runtime (default: trtexec on PATH)
set -eu

: "${MODEL_RELEASE:?MODEL_RELEASE is not set}"
: "${WEIGHTS:?WEIGHTS is not set}"
EXPORT_RUNTIME="${EXPORT_RUNTIME:-python-ort}"
EXPORT_ARGS="${EXPORT_ARGS:-}"
MODELS_ROOT="${MODELS_ROOT:-/models}"
TRTEXEC="${TRTEXEC:-trtexec}"
STALE_STAGING_MINUTES=240

case "$MODEL_RELEASE" in
  .* | *[!A-Za-z0-9._-]*)
    echo "publish-release: MODEL_RELEASE '$MODEL_RELEASE' must be one path component of" \
         "[A-Za-z0-9._-] not starting with '.'" >&2
    exit 2 ;;
esac

releases="$MODELS_ROOT/releases"
release="$releases/$MODEL_RELEASE"

# The GPU a TensorRT plan was built on: plans only run on the same GPU model.
gpu_name() {
  nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1
}

check_gpu() {
  [ "$EXPORT_RUNTIME" = tensorrt ] || return 0
  built_on=$(cat "$release/GPU" 2>/dev/null || true)
  here=$(gpu_name)
  if [ "$built_on" != "$here" ]; then
    echo "publish-release: the TensorRT plans of release $MODEL_RELEASE were built on" \
         "'$built_on', this pod has '$here': pin the pods to one GPU model (nodeSelector" \
         "nvidia.com/gpu.product) or use one release name per GPU model" >&2
    exit 1
  fi
}

if [ -f "$release/READY" ]; then
  check_gpu
  echo "publish-release: release $MODEL_RELEASE is published"
  exit 0
fi

mkdir -p "$releases" "$MODELS_ROOT/staging"
# Staging directories of pods killed mid-export; far older than any export takes.
find "$MODELS_ROOT/staging" -mindepth 1 -maxdepth 1 -mmin +"$STALE_STAGING_MINUTES" \
  -exec rm -rf {} + 2>/dev/null || true

staging="$MODELS_ROOT/staging/$MODEL_RELEASE.${HOSTNAME:-pod}.$$"
trap 'rm -rf "$staging"' EXIT
mkdir "$staging"

echo "publish-release: exporting release $MODEL_RELEASE ($EXPORT_RUNTIME $EXPORT_ARGS)"
# EXPORT_ARGS is split into words on purpose.
# shellcheck disable=SC2086
sketch2idol export --weights "$WEIGHTS" --out "$staging/repository" \
  --runtime "$EXPORT_RUNTIME" $EXPORT_ARGS
if [ "$EXPORT_RUNTIME" = tensorrt ]; then
  python -m sketch2idol.export.tensorrt --repository "$staging/repository" --trtexec "$TRTEXEC"
  gpu_name > "$staging/GPU"
fi
{
  echo "release=$MODEL_RELEASE"
  echo "weights=$WEIGHTS"
  echo "runtime=$EXPORT_RUNTIME"
  echo "export_args=$EXPORT_ARGS"
  echo "published_by=${HOSTNAME:-pod}"
  echo "published_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} > "$staging/READY"

# rename(2) is atomic and fails when another pod has published the release meanwhile.
if mv -T "$staging" "$release" 2>/dev/null; then
  echo "publish-release: published release $MODEL_RELEASE"
elif [ -f "$release/READY" ]; then
  echo "publish-release: another pod published release $MODEL_RELEASE first; using it"
  check_gpu
else
  echo "publish-release: could not publish $release (a directory without READY is in" \
       "the way: remove it)" >&2
  exit 1
fi
