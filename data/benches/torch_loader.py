"""Peer of benches/loader.rs: a PyTorch DataLoader with torchvision transforms over the same photos,
on one core (num_workers=0, one intra-op thread), in images/s.

    /usr/bin/python3 data/benches/torch_loader.py [FOLDER]

FOLDER defaults to scratch's Media/Backgrounds under target/test-data/scratch (see
data/tests/real_data.rs). Needs torch, torchvision and Pillow (Debian: python3-torchvision).
Files that are not JPEG/PNG are left out, as `prep` leaves them out.
"""
import os
import sys
import time

import torch
from torchvision import datasets, transforms

ROOT = os.path.join(os.path.dirname(__file__), "../../target/test-data/scratch/usr/share/scratch/Media/Backgrounds")
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
BICUBIC = transforms.InterpolationMode.BICUBIC


def rate(transform, folder, epochs=5):
    ds = datasets.ImageFolder(folder, transform=transform, is_valid_file=lambda p: p.lower().endswith((".jpg", ".png")))
    dl = torch.utils.data.DataLoader(ds, batch_size=64, shuffle=True, num_workers=0)
    for _ in dl:  # warm-up: page cache, allocator
        pass
    start = time.perf_counter()
    n = 0
    for _ in range(epochs):
        for x, _y in dl:
            n += x.shape[0]
    return n / (time.perf_counter() - start)


def main():
    torch.set_num_threads(1)
    folder = sys.argv[1] if len(sys.argv) > 1 else ROOT
    norm = [transforms.ToTensor(), transforms.Normalize(MEAN, STD)]
    train = transforms.Compose([transforms.RandomResizedCrop(224, interpolation=BICUBIC), transforms.RandomHorizontalFlip()] + norm)
    evalt = transforms.Compose([transforms.Resize(256, interpolation=BICUBIC), transforms.CenterCrop(224)] + norm)
    print(f"torch {torch.__version__}, 1 thread, {folder}")
    print(f"torchvision RandomResizedCrop(224, bicubic) + flip + normalise: {rate(train, folder):.0f} images/s")
    print(f"torchvision Resize(256) + CenterCrop(224) + normalise:          {rate(evalt, folder):.0f} images/s")


if __name__ == "__main__":
    main()
