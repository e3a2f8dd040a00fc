//! The `cae` program as a user runs it: a real Ctrl-C (SIGINT) mid-run, resumption, probing,
//! pictures, and refusals with clear messages.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use cae::train::state::{list_checkpoints, read_state};

#[path = "common/tiny_data.rs"]
mod tiny_data;
use tiny_data::{config_text, prep_into, prepare};

fn cae(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cae")).args(args).output().expect("the cae binary runs")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn sigint_checkpoints_then_resume_probe_and_viz_work() {
    let dir = tempfile::tempdir().unwrap();
    let data = prepare(dir.path());
    let run = dir.path().join("run");
    let config = dir.path().join("run.toml");
    // A long run (many epochs) so that the signal arrives mid-training.
    std::fs::write(&config, config_text(&data, &run)).unwrap();
    let cfg = config.to_str().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_cae"))
        .args([
            "pretrain",
            "--config",
            cfg,
            "--quiet",
            "--set",
            "train.epochs=400",
            "--set",
            "train.checkpoint_every=1000",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = run.join("log.jsonl");
    let started = Instant::now();
    while std::fs::read_to_string(&log).map_or(0, |t| t.lines().count()) < 2 {
        assert!(started.elapsed() < Duration::from_secs(60), "training did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(text(&out).contains("--resume"), "{}", text(&out));
    let saved = list_checkpoints(&run).unwrap();
    assert_eq!(saved.len(), 1, "the interrupt wrote a checkpoint");
    let step = read_state(&saved[0]).unwrap().step;
    assert!((2..1600).contains(&step), "{step}");

    // Resume the same schedule, stopping two steps later (max_steps leaves the schedule as it is).
    let stop_at = (step + 2).to_string();
    let out = cae(&[
        "pretrain",
        "--config",
        cfg,
        "--quiet",
        "--resume",
        "--set",
        "train.epochs=400",
        "--set",
        &format!("train.max_steps={stop_at}"),
        "--set",
        "train.checkpoint_every=1000",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&format!("resuming from {}", saved[0].display())), "{}", text(&out));
    let last = list_checkpoints(&run).unwrap().pop().unwrap();
    assert_eq!(read_state(&last).unwrap().step, step + 2);

    let run_s = run.to_str().unwrap();
    let out = cae(&["probe", "--checkpoint", run_s, "--val-split", "train", "--random-seed", "1", "--quiet"]);
    assert!(out.status.success(), "{}", text(&out));
    let report = text(&out);
    assert!(report.contains("pre-trained") && report.contains("random init"), "{report}");
    assert!(last.join("probe.json").is_file());

    let out = cae(&["viz", "--checkpoint", run_s, "--split", "train", "--count", "3"]);
    assert!(out.status.success(), "{}", text(&out));
    for name in ["reconstruction.png", "alignment.png", "attention.png"] {
        assert!(last.join("pictures").join(name).is_file(), "{name}");
    }
}

#[test]
fn bad_input_fails_with_a_message_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("run.toml");
    std::fs::write(&config, config_text(&dir.path().join("no-data"), &dir.path().join("run"))).unwrap();
    let cfg = config.to_str().unwrap();

    let out = cae(&["pretrain", "--config", cfg, "--set", "optim.learning_rate=1"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("learning_rate"), "{}", text(&out));

    let out = cae(&["pretrain", "--config", cfg, "--quiet"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("no-data"), "{}", text(&out));

    let out = cae(&["probe", "--checkpoint", dir.path().to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out).contains("checkpoint"), "{}", text(&out));

    let out = cae(&["info", "--config", cfg]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("4×4 = 16 patches, 8 masked"), "{}", text(&out));
}

#[test]
fn a_gpu_run_without_cuda_is_refused_not_sent_to_the_interpreter() {
    let dir = tempfile::tempdir().unwrap();
    let data = prepare(dir.path());
    let config = dir.path().join("run.toml");
    std::fs::write(&config, config_text(&data, &dir.path().join("run"))).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cae"))
        .args(["pretrain", "--config", config.to_str().unwrap(), "--quiet", "--set", "train.device=\"gpu\""])
        .args(["--set", "train.max_steps=1"])
        .env_remove("CAE_GPU")
        .output()
        .unwrap();
    if text(&out).contains("runs on PTX interpreter") {
        assert!(!out.status.success(), "ran on the interpreter without being asked to: {}", text(&out));
        assert!(text(&out).contains("CAE_GPU=interp"), "the message says how to proceed: {}", text(&out));
    } else {
        eprintln!("a CUDA GPU is present: the run went to it ({})", text(&out));
    }
}

#[test]
fn probing_unlabelled_images_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = prepare(dir.path());
    let run = dir.path().join("run");
    let config = dir.path().join("run.toml");
    std::fs::write(&config, config_text(&data, &run)).unwrap();
    let out = cae(&["pretrain", "--config", config.to_str().unwrap(), "--quiet", "--set", "train.max_steps=1"]);
    assert!(out.status.success(), "{}", text(&out));

    // A plain folder of photos, prepared without labels.
    let photos = dir.path().join("photos");
    std::fs::create_dir(&photos).unwrap();
    for i in 0..3u8 {
        image::RgbImage::from_pixel(20, 20, image::Rgb([40 * i, 90, 200]))
            .save(photos.join(format!("{i}.png")))
            .unwrap();
    }
    let plain = dir.path().join("plain");
    prep_into(data::prep::Source::Plain { root: photos }, &plain);
    let out = cae(&["probe", "--checkpoint", run.to_str().unwrap(), "--data", plain.to_str().unwrap(), "--quiet"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("no labels"), "{}", text(&out));
}
