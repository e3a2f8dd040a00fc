"""Convert OpenAI's released DALL-E dVAE encoder (encoder.pkl) to safetensors for `cae`.

The pickle holds a whole PyTorch module, so unpickling it needs OpenAI's `dall_e` package
(pip install DALL-E) beside torch and safetensors:

    python3 -m venv /tmp/dalle && /tmp/dalle/bin/pip install torch safetensors DALL-E
    /tmp/dalle/bin/python scripts/convert_dalle_encoder.py encoder.pkl dalle_encoder.safetensors

The output keeps the module's own parameter names (blocks.input.w, blocks.group_1.block_1.res_path.conv_1.w,
..., blocks.output.conv.w), which is what cae::dvae::DvaeEncoder::load expects for DvaeConfig::dalle();
loading checks every name and shape and lists any difference.

Not run in this repository's CI: the released weights cannot be downloaded there. The architecture is
tested against a PyTorch version with random weights (cae/tests/dvae_parity.rs).
"""
import sys

import torch
from safetensors.torch import save_file


def main():
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} encoder.pkl out.safetensors")
    source, target = sys.argv[1], sys.argv[2]
    try:
        import dall_e  # noqa: F401  (the pickle refers to its classes)
    except ImportError:
        sys.exit("the pickle needs OpenAI's dall_e package: pip install DALL-E")
    with open(source, "rb") as f:
        model = torch.load(f, map_location="cpu", weights_only=False)
    state = {k: v.float().contiguous() for k, v in model.state_dict().items()}
    if "blocks.input.w" not in state:
        sys.exit(f"{source}: no blocks.input.w; is this the dVAE *encoder*? keys: {sorted(state)[:5]}...")
    save_file(state, target, metadata={"source": "openai dall_e encoder.pkl"})
    print(f"wrote {target}: {len(state)} tensors")


if __name__ == "__main__":
    main()
