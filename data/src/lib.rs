//! `data`: the image-shard format, the `prep` writer, the memory-mapped reader, augmentations and
//! the parallel loader. Built by the data issue; empty until then.
