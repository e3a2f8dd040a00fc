//! `kernels`: the GPU side — PTX sources, a CUDA driver context through cudarc, launch wrappers and
//! the PTX interpreter. Built by the GPU-backend and interpreter issues; empty until then.
