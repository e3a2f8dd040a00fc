"""PyTorch CPU eager peer for benches/block.rs: forward + backward of one CAE encoder block in f32.

The block and its random parameters come from autograd/tests/fixtures/make_block_fixture.py, the
script that writes the PyTorch parity fixture, so the peer timed is the block our parity test checks.
The loss is sum(out * R), as in benches/block.rs. Prints one parseable line at the end:
    torch_block median_ms=<ms> best_ms=<ms> iters=<n> threads=<t> torch=<version>

Run by the bench as `$TORCH_PYTHON benches/torch_block.py --batch 64 --tokens 197 --width 384 --heads 12`.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

try:
    import torch
except ImportError as e:
    print(f"torch_block unavailable: {e}")
    sys.exit(3)

sys.dont_write_bytecode = True  # no __pycache__ left in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "autograd/tests/fixtures"))
from make_block_fixture import block, random_params  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    for name in ["batch", "tokens", "width", "heads"]:
        ap.add_argument(f"--{name}", type=int, required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--iters", type=int, default=10)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    params = {k: v.float().requires_grad_() for k, v in random_params(args.width, gen).items()}
    shape = (args.batch, args.tokens, args.width)
    x = torch.randn(shape, generator=gen).requires_grad_()  # [B, N, D]
    r = torch.randn(shape, generator=gen)  # [B, N, D]

    def step():
        for t in [x, *params.values()]:
            t.grad = None
        (block(x, params, args.heads) * r).sum().backward()

    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.iters):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    median_ms, best_ms = 1e3 * statistics.median(times), 1e3 * min(times)
    print(f"torch_block median_ms={median_ms:.3f} best_ms={best_ms:.3f} iters={args.iters} threads={torch.get_num_threads()} torch={torch.__version__}")


if __name__ == "__main__":
    main()
