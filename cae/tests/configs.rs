//! Every config shipped in configs/ parses and describes a valid model, so none can rot unnoticed.

use std::path::Path;

use cae::train::RunConfig;
use cae::Target;

#[test]
fn shipped_configs_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let cfg = RunConfig::load(&path, &[]).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
            let model = cfg.model_config().unwrap();
            seen.push((path.file_stem().unwrap().to_string_lossy().into_owned(), model));
        }
    }
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    let names: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["cae_base_1600ep", "cae_base_300ep", "cae_base_800ep", "cae_small_300ep", "quickstart"]);
    for (name, model) in &seen {
        let expected = if name == "quickstart" { Target::Pixels } else { Target::Tokens { vocab: 8192 } };
        assert_eq!(model.target, expected, "{name}");
    }
}
