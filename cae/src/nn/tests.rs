//! Layer tests: official parameter names, shapes, identities the spec implies, and gradients
//! through whole blocks against finite differences.

use autograd::gradcheck::{check_gradients, DEFAULT_EPS};
use autograd::{ParamStore, Var};
use tensor::{DType, Tensor};

use super::{Block, CrossBlock};

fn to_f64(store: &ParamStore) {
    store.iter().for_each(|(_, p)| p.set_value(p.value().to_dtype(DType::F64)));
}

#[test]
fn block_parameters_carry_the_official_names() {
    let mut store = ParamStore::new();
    Block::new(&mut store, "encoder.blocks.0", 8, 2, 0.1, 0.0, 0);
    let names: Vec<&str> = store.iter().map(|(n, _)| n).collect();
    let want = [
        "norm1.weight",
        "norm1.bias",
        "attn.qkv.weight",
        "attn.q_bias",
        "attn.v_bias",
        "attn.proj.weight",
        "attn.proj.bias",
        "gamma_1",
        "norm2.weight",
        "norm2.bias",
        "mlp.fc1.weight",
        "mlp.fc1.bias",
        "mlp.fc2.weight",
        "mlp.fc2.bias",
        "gamma_2",
    ];
    assert_eq!(names, want.iter().map(|n| format!("encoder.blocks.0.{n}")).collect::<Vec<_>>());
    assert_eq!(store.get("encoder.blocks.0.attn.qkv.weight").unwrap().shape().dims(), &[24, 8]);
    assert_eq!(store.get("encoder.blocks.0.mlp.fc1.weight").unwrap().shape().dims(), &[32, 8]);
    let mut cross = ParamStore::new();
    CrossBlock::new(&mut cross, "regresser.regressor_blocks.0", 8, 2, 0.1, 0.0, 0);
    for n in [
        "norm1_q.weight",
        "norm1_k.bias",
        "norm1_v.weight",
        "cross_attn.q.weight",
        "cross_attn.k.weight",
        "cross_attn.v.weight",
        "cross_attn.q_bias",
        "cross_attn.v_bias",
        "cross_attn.proj.bias",
        "gamma_1_cross",
        "norm2_cross.weight",
        "mlp_cross.fc2.weight",
        "gamma_2_cross",
    ] {
        assert!(cross.get(&format!("regresser.regressor_blocks.0.{n}")).is_some(), "missing {n}");
    }
}

#[test]
fn zero_layer_scale_makes_a_block_the_identity() {
    let mut store = ParamStore::new();
    let block = Block::new(&mut store, "b", 8, 2, 0.0, 0.0, 1);
    let x = Var::constant(Tensor::randn([2, 5, 8], 0.0, 1.0, DType::F32, 2));
    assert_eq!(block.forward(&x, None).value().to_vec::<f32>(), x.value().to_vec::<f32>());
}

#[test]
fn gradients_through_blocks_match_finite_differences() {
    let mut store = ParamStore::new();
    let block = Block::new(&mut store, "b", 8, 2, 0.5, 0.0, 3);
    let cross = CrossBlock::new(&mut store, "c", 8, 2, 0.5, 0.0, 4);
    to_f64(&store);
    let x = Tensor::randn([2, 4, 8], 0.0, 1.0, DType::F64, 5);
    let kv = Tensor::randn([2, 3, 8], 0.0, 1.0, DType::F64, 6);
    let pos = Tensor::randn([1, 4, 8], 0.0, 1.0, DType::F64, 7);
    let pos_kv = Tensor::randn([1, 3, 8], 0.0, 1.0, DType::F64, 8);
    let run = |v: &[Var]| {
        let h = block.forward(&v[0], None);
        cross.forward(&h, &Var::constant(pos.clone()), &v[1], &Var::constant(pos_kv.clone()), None)
    };
    check_gradients(&[x, kv], run, DEFAULT_EPS, 1e-6).unwrap();
}

#[test]
fn drop_path_is_seeded_and_off_in_evaluation() {
    let mut store = ParamStore::new();
    let block = Block::new(&mut store, "b", 8, 2, 0.1, 0.5, 1);
    let x = Var::constant(Tensor::randn([16, 3, 8], 0.0, 1.0, DType::F32, 2));
    let a = block.forward(&x, Some(9)).value().to_vec::<f32>();
    assert_eq!(a, block.forward(&x, Some(9)).value().to_vec::<f32>());
    assert_ne!(a, block.forward(&x, Some(10)).value().to_vec::<f32>());
    let eval = block.forward(&x, None).value().to_vec::<f32>();
    assert_eq!(eval, block.forward(&x, None).value().to_vec::<f32>());
    assert_ne!(a, eval);
}
