"""PyTorch CPU eager peer of benches/cae_step.rs: one CAE training step (forward, backward, AdamW)
with the model of cae/tests/fixtures/make_cae_fixture.py (written from the spec), in float32.

Prints one line: `torch_cae_step median_ms=… best_ms=… iters=… threads=… torch=…`.

With `--serve`, it warms up, prints `ready`, then times one step for each `step` line read from
stdin and answers `step_ms=…`, so that the benchmark can alternate our step and this one (the speed
of a shared machine drifts within a minute; pairs taken seconds apart compare fairly).
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

try:
    import torch
except ImportError:
    sys.exit("torch is not installed in this Python")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "cae/tests/fixtures"))
from make_cae_fixture import forward  # noqa: E402


def param_shapes(d, depth, heads, reg_depth, dec_depth, chans, patch, vocab):
    shapes = {
        "encoder.patch_embed.proj.weight": (d, chans, patch, patch),
        "encoder.patch_embed.proj.bias": (d,),
        "encoder.cls_token": (1, 1, d),
        "mask_token": (1, 1, d),
    }

    def ln(name):
        shapes[f"{name}.weight"] = (d,)
        shapes[f"{name}.bias"] = (d,)

    def lin(name, i, o, bias=True):
        shapes[f"{name}.weight"] = (o, i)
        if bias:
            shapes[f"{name}.bias"] = (o,)

    def mlp(name):
        lin(f"{name}.fc1", d, 4 * d)
        lin(f"{name}.fc2", 4 * d, d)

    def block(name):
        ln(f"{name}.norm1")
        lin(f"{name}.attn.qkv", d, 3 * d, bias=False)
        shapes[f"{name}.attn.q_bias"] = (d,)
        shapes[f"{name}.attn.v_bias"] = (d,)
        lin(f"{name}.attn.proj", d, d)
        ln(f"{name}.norm2")
        mlp(f"{name}.mlp")
        shapes[f"{name}.gamma_1"] = (d,)
        shapes[f"{name}.gamma_2"] = (d,)

    for i in range(depth):
        block(f"encoder.blocks.{i}")
    ln("encoder.norm")
    for j in range(reg_depth):
        name = f"regresser.regressor_blocks.{j}"
        for n in ["norm1_q", "norm1_k", "norm1_v", "norm2_cross"]:
            ln(f"{name}.{n}")
        for n in ["q", "k", "v"]:
            lin(f"{name}.cross_attn.{n}", d, d, bias=False)
        shapes[f"{name}.cross_attn.q_bias"] = (d,)
        shapes[f"{name}.cross_attn.v_bias"] = (d,)
        lin(f"{name}.cross_attn.proj", d, d)
        mlp(f"{name}.mlp_cross")
        shapes[f"{name}.gamma_1_cross"] = (d,)
        shapes[f"{name}.gamma_2_cross"] = (d,)
    ln("regresser.norm")
    for k in range(dec_depth):
        block(f"decoder.decoder_blocks.{k}")
    ln("decoder.norm")
    lin("decoder.head", d, vocab)
    return shapes


def main():
    a = argparse.ArgumentParser()
    for flag in ["dim", "depth", "heads", "batch", "masked", "vocab", "threads", "warmup", "iters"]:
        a.add_argument(f"--{flag}", type=int, required=True)
    a.add_argument("--serve", action="store_true")
    args = a.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    image, patch, chans, n = 224, 16, 3, 196
    shapes = param_shapes(args.dim, args.depth, args.heads, 4, 4, chans, patch, args.vocab)
    params = {k: (torch.randn(s) * 0.02).requires_grad_(True) for k, s in shapes.items()}
    decay = [p for p in params.values() if p.dim() >= 2]
    rest = [p for p in params.values() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": rest, "weight_decay": 0.0}], lr=1.5e-3)
    meta = {"heads": args.heads, "patch_size": patch, "depth": args.depth, "regressor_depth": 4,
            "decoder_depth": 4, "pixel_target": 0}
    images = torch.rand(args.batch, chans, image, image)
    mask = torch.zeros(args.batch, n, dtype=torch.uint8)
    for b in range(args.batch):
        mask[b, torch.randperm(n)[: args.masked]] = 1
    tokens = torch.randint(0, args.vocab, (args.batch, n))

    def step():
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = forward(params, images, mask, tokens, meta)[0]
        loss.backward()
        opt.step()
        return (time.perf_counter() - start) * 1e3

    for _ in range(args.warmup):
        step()
    if args.serve:
        print("ready", flush=True)
        for line in sys.stdin:
            if line.strip() == "step":
                print(f"step_ms={step():.3f}", flush=True)
        return
    times = [step() for _ in range(args.iters)]
    print(f"torch_cae_step median_ms={statistics.median(times):.3f} best_ms={min(times):.3f} "
          f"iters={args.iters} threads={args.threads} torch={torch.__version__}")


if __name__ == "__main__":
    main()
