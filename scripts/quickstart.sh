#!/usr/bin/env bash
# The main job, start to finish, on a fresh machine with the Rust toolchain:
#   Fashion-MNIST (Debian's dataset-fashion-mnist) → raw shards → pre-train configs/quickstart.toml
#   → linear probe and k-NN of the encoder beside a random-init encoder → pictures.
# Rerunning it keeps the shards and the finished run (a stopped run is resumed).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

fmnist=${CAE_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
if [ ! -f "$fmnist/train-images-idx3-ubyte.gz" ]; then
    echo "== installing dataset-fashion-mnist (apt)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null
fi

echo "== building (release)"
cargo build --release --quiet -p data --bin prep -p cae --bin cae

shards=runs/data/fashion-mnist
run=runs/quickstart
echo "== shards: $shards"
target/release/prep idx --images "$fmnist/train-images-idx3-ubyte.gz" --labels "$fmnist/train-labels-idx1-ubyte.gz" \
    --val-images "$fmnist/t10k-images-idx3-ubyte.gz" --val-labels "$fmnist/t10k-labels-idx1-ubyte.gz" \
    --out "$shards" --encoding raw --side 28 --quiet

echo "== pre-training: $run"
resume=()
if [ -d "$run/checkpoints" ] && [ -n "$(ls -A "$run/checkpoints")" ]; then resume=(--resume); fi
target/release/cae pretrain --config configs/quickstart.toml "${resume[@]}"

# Mean-pooled patch tokens: in CAE no loss reaches the cls token (`--pooling cls` probes it anyway).
echo "== probing the pre-trained encoder beside a random-init one (seed 1)"
target/release/cae probe --checkpoint "$run" --random-seed 1 --pooling mean --train-limit 10000 --val-limit 5000

echo "== pictures"
target/release/cae viz --checkpoint "$run" --count 8
echo "loss curve: $run/loss.png"
