//! BLIS-style GEMM (being written).
