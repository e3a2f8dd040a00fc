// Runs a PyTorch peer script as a subprocess and reads its timing line
// (`<tag> median_ms=… best_ms=… …`). Shared by the benchmarks that compare with PyTorch CPU eager.

use std::process::Command;

/// Median and best ms of the peer's timed iterations and its whole report line, or why there are none.
pub fn torch_times_ms(script: &str, tag: &str, args: &[(&str, String)]) -> Result<(f64, f64, String), String> {
    let python = std::env::var("TORCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut cmd = Command::new(&python);
    cmd.arg(script);
    for (flag, v) in args {
        cmd.arg(flag).arg(v);
    }
    let out = cmd.output().map_err(|e| format!("cannot run {python:?} ({e})"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find(|l| l.starts_with(&format!("{tag} ")));
    let field = |key: &str| -> Option<f64> {
        line?.split(' ').find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
    };
    match (line, field("median_ms"), field("best_ms")) {
        (Some(l), Some(median), Some(best)) => Ok((median, best, l.to_string())),
        _ => {
            let why = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
            Err(format!("{python} {script} gave no timing ({})", why.trim().lines().last().unwrap_or("no output")))
        }
    }
}

/// How to get a peer when torch is missing.
pub const INSTALL_HINT: &str = "set TORCH_PYTHON to a Python with torch, e.g. `python3 -m venv /tmp/torchenv && \
                                /tmp/torchenv/bin/pip install torch safetensors numpy`";
