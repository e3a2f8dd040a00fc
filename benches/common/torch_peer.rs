// Runs a PyTorch peer script as a subprocess and reads its timing line
// (`<tag> median_ms=… best_ms=… …`). Shared by the benchmarks that compare with PyTorch CPU eager.

#![allow(dead_code)] // each benchmark that includes this file uses part of it

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

/// A peer script kept running in `--serve` mode: it has warmed up, and times one step per request,
/// so that the benchmark can alternate its own steps with the peer's.
pub struct TorchServer {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl TorchServer {
    /// Starts `script --serve` with `args` and waits for its `ready` line.
    pub fn start(script: &str, args: &[(&str, String)]) -> Result<TorchServer, String> {
        use std::io::BufRead;
        use std::process::Stdio;
        let python = std::env::var("TORCH_PYTHON").unwrap_or_else(|_| "python3".into());
        let mut cmd = Command::new(&python);
        cmd.arg(script).arg("--serve").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        for (flag, v) in args {
            cmd.arg(flag).arg(v);
        }
        let mut child = cmd.spawn().map_err(|e| format!("cannot run {python:?} ({e})"))?;
        let (stdin, stdout) = (child.stdin.take().unwrap(), child.stdout.take().unwrap());
        let mut server = TorchServer { child, stdin, stdout: std::io::BufReader::new(stdout) };
        let mut line = String::new();
        server.stdout.read_line(&mut line).map_err(|e| e.to_string())?;
        if line.trim() != "ready" {
            let mut err = String::new();
            if let Some(mut e) = server.child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            return Err(format!(
                "{python} {script} did not start ({})",
                err.trim().lines().last().unwrap_or("no output")
            ));
        }
        Ok(server)
    }

    /// Times one more step of the peer, in ms.
    pub fn step_ms(&mut self) -> Result<f64, String> {
        use std::io::{BufRead, Write};
        writeln!(self.stdin, "step").and_then(|_| self.stdin.flush()).map_err(|e| e.to_string())?;
        let mut line = String::new();
        self.stdout.read_line(&mut line).map_err(|e| e.to_string())?;
        line.trim().strip_prefix("step_ms=").and_then(|v| v.parse().ok()).ok_or(format!("unexpected reply {line:?}"))
    }
}

impl Drop for TorchServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
