#!/usr/bin/env bash
# The GPU check of issue 13, for a session lent an NVIDIA GPU (GPU time is scarce: this takes
# minutes, each stage under its own time limit, about 7 minutes at most in all (425 s of limits)):
#   1. CuPy for CUDA 12: used if importable, else installed (pip install cupy-cuda12x, or from
#      the wheels in $CUPY_WHEELS when the machine has no network);
#   2. `chainrule info --devices`;
#   3. tests/device against real CuPy (CHAINRULE_REAL_CUDA=1: the tests that run on the strict
#      stand-in in CI, here on the GPU), most important first: training, layers and I/O, then
#      every op forward and backward, then the float64 gradchecks;
#   4. scripts/gpu_bench.py: MLP, CNN and LSTM training steps, chainrule beside torch CUDA
#      (where a CUDA build of torch is installed; otherwise chainrule alone).
# Everything goes to $OUT (default ./gpu_check_out); summary.txt says what ran and how it ended.
# Run from anywhere: bash scripts/gpu_check.sh
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu_check_out}
mkdir -p "$OUT"
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"
stage() {  # stage NAME SECONDS COMMAND...: run with a time limit, log, record the exit status
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS
    timeout --kill-after=10 "$limit" "$@" > "$OUT/$name.txt" 2>&1
    local rc=$?
    echo "$name: exit $rc after $((SECONDS - t0)) s (limit $limit s)" | tee -a "$SUMMARY"
    tail -n 3 "$OUT/$name.txt" | sed 's/^/    /' >> "$SUMMARY"
    return $rc
}

{ nvidia-smi || echo "no nvidia-smi"; } > "$OUT/nvidia_smi.txt" 2>&1
python - > "$OUT/versions.txt" 2>&1 <<'PY'
import platform, numpy
print("python", platform.python_version(), "numpy", numpy.__version__)
try:
    import torch
    print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.is_available())
except Exception as e:
    print("torch:", e)
PY

if ! python -c "import cupy" 2>/dev/null; then
    if [ -n "${CUPY_WHEELS:-}" ]; then
        stage install_cupy 100 pip install --no-index --find-links "$CUPY_WHEELS" cupy-cuda12x
    else
        stage install_cupy 100 pip install "cupy-cuda12x>=13"
    fi
fi
stage devices 20 python -m chainrule info --devices
if ! python -c "import chainrule; assert chainrule.cuda.is_available()" 2>/dev/null; then
    echo "no usable GPU (see devices.txt): stopping before the tests" | tee -a "$SUMMARY"
    exit 1
fi
export CHAINRULE_REAL_CUDA=1
PYTEST="python -m pytest -q -p no:cacheprovider -rfE"
stage tests_training 70 $PYTEST tests/device/test_strict_training.py \
    tests/device/test_strict_io.py tests/device/test_strict_cli.py
stage tests_nn 55 $PYTEST tests/device/test_strict_nn.py
stage tests_ops 70 $PYTEST tests/device/test_strict_ops.py -k "not gradcheck"
stage tests_gradcheck 40 $PYTEST tests/device/test_strict_ops.py -k gradcheck
unset CHAINRULE_REAL_CUDA
stage bench 70 python scripts/gpu_bench.py --json "$OUT/bench.json"
echo "results in $OUT/" | tee -a "$SUMMARY"
