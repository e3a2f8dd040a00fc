//! `loss.png`: the loss per step (light), its moving average (dark) and the learning rate (orange,
//! scaled to the panel), with the axis ranges written in a tiny built-in pixel font.

use std::path::Path;

use anyhow::Context;
use image::{Rgb, RgbImage};

use super::log::LogEntry;

const WIDTH: u32 = 800;
const HEIGHT: u32 = 400;
/// Margin left of and below the panel, where the labels go.
const MARGIN: u32 = 40;
const BACKGROUND: Rgb<u8> = Rgb([255, 255, 255]);
const GRID: Rgb<u8> = Rgb([225, 225, 225]);
const TEXT: Rgb<u8> = Rgb([60, 60, 60]);
const RAW: Rgb<u8> = Rgb([170, 195, 235]);
const SMOOTH: Rgb<u8> = Rgb([20, 70, 170]);
const LR: Rgb<u8> = Rgb([235, 140, 30]);
/// Steps averaged by the moving average (fewer at the start).
const SMOOTHING: usize = 25;

/// Draws the curve of `entries` to `path` (PNG, written whole then renamed).
pub fn plot_loss(entries: &[LogEntry], path: &Path) -> anyhow::Result<()> {
    let mut img = RgbImage::from_pixel(WIDTH, HEIGHT, BACKGROUND);
    let (x0, y0, w, h) = (MARGIN, 10, WIDTH - MARGIN - 10, HEIGHT - MARGIN - 10);
    for i in 0..=4 {
        hline(&mut img, x0, x0 + w, y0 + i * h / 4, GRID);
    }
    if let (Some(first), Some(last)) = (entries.first(), entries.last()) {
        let losses: Vec<f64> = entries.iter().map(|e| e.loss).filter(|l| l.is_finite()).collect();
        let top = losses.iter().cloned().fold(f64::MIN, f64::max);
        let bottom = losses.iter().cloned().fold(f64::MAX, f64::min).min(0.0);
        let lr_top = entries.iter().map(|e| e.lr).fold(0.0, f64::max).max(1e-30);
        let steps = (last.step - first.step).max(1) as f64;
        let px = |step: u64| x0 + ((step - first.step) as f64 / steps * (w - 1) as f64) as u32;
        let py = |v: f64, max: f64, min: f64| {
            let t = ((v - min) / (max - min).max(1e-30)).clamp(0.0, 1.0);
            y0 + h - 1 - (t * (h - 1) as f64) as u32
        };
        let smooth = moving_average(&entries.iter().map(|e| e.loss).collect::<Vec<_>>());
        let series: [(Vec<f64>, Rgb<u8>, f64, f64); 3] = [
            (entries.iter().map(|e| e.loss).collect(), RAW, top, bottom),
            (entries.iter().map(|e| e.lr).collect(), LR, lr_top, 0.0),
            (smooth, SMOOTH, top, bottom),
        ];
        for (values, colour, max, min) in series {
            let mut prev: Option<(u32, u32)> = None;
            for (e, v) in entries.iter().zip(values) {
                if !v.is_finite() {
                    prev = None;
                    continue;
                }
                let p = (px(e.step), py(v, max, min));
                if let Some(q) = prev {
                    line(&mut img, q, p, colour);
                }
                prev = Some(p);
            }
        }
        text(&mut img, 2, y0, &short(top), TEXT);
        text(&mut img, 2, y0 + h - 6, &short(bottom), TEXT);
        text(&mut img, x0, y0 + h + 8, &first.step.to_string(), TEXT);
        let label = last.step.to_string();
        text(&mut img, x0 + w - 4 * label.len() as u32, y0 + h + 8, &label, TEXT);
    }
    let tmp = path.with_extension("png.tmp");
    img.save_with_format(&tmp, image::ImageFormat::Png).with_context(|| format!("{}: cannot write", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("{}: cannot rename", path.display()))?;
    Ok(())
}

fn moving_average(values: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(values.len());
    let mut sum = 0.0;
    for i in 0..values.len() {
        sum += values[i];
        if i >= SMOOTHING {
            sum -= values[i - SMOOTHING];
        }
        out.push(sum / (i + 1).min(SMOOTHING) as f64);
    }
    out
}

/// A number in at most 7 characters: 0.1234, 12.35, 1.2e-5.
fn short(v: f64) -> String {
    if v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e5) {
        format!("{v:.1e}")
    } else {
        let s = format!("{v:.4}");
        s[..s.len().min(7)].to_string()
    }
}

fn hline(img: &mut RgbImage, x_from: u32, x_to: u32, y: u32, colour: Rgb<u8>) {
    for x in x_from..x_to.min(img.width()) {
        img.put_pixel(x, y, colour);
    }
}

/// A straight segment, one pixel wide (DDA: step along the longer axis).
fn line(img: &mut RgbImage, (xa, ya): (u32, u32), (xb, yb): (u32, u32), colour: Rgb<u8>) {
    let (dx, dy) = (xb as f64 - xa as f64, yb as f64 - ya as f64);
    let n = dx.abs().max(dy.abs()).max(1.0) as u32;
    for i in 0..=n {
        let t = i as f64 / n as f64;
        let (x, y) = ((xa as f64 + t * dx).round() as u32, (ya as f64 + t * dy).round() as u32);
        if x < img.width() && y < img.height() {
            img.put_pixel(x, y, colour);
        }
    }
}

/// Glyphs 3 pixels wide and 5 high, one row per 3 bits (most significant bit = left column).
fn glyph(c: char) -> [u8; 5] {
    match c {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 7, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 1, 1],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        '.' => [0, 0, 0, 0, 2],
        '-' => [0, 0, 7, 0, 0],
        'e' => [0, 7, 7, 4, 7],
        _ => [0; 5],
    }
}

fn text(img: &mut RgbImage, x: u32, y: u32, s: &str, colour: Rgb<u8>) {
    for (i, c) in s.chars().enumerate() {
        for (row, bits) in glyph(c).iter().enumerate() {
            for col in 0..3 {
                let (px, py) = (x + 4 * i as u32 + col, y + row as u32);
                if bits >> (2 - col) & 1 == 1 && px < img.width() && py < img.height() {
                    img.put_pixel(px, py, colour);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_falling_curve_with_the_loss_in_the_top_left_and_bottom_right() {
        let entries: Vec<LogEntry> = (0..100)
            .map(|i| LogEntry {
                step: i,
                epoch: 0,
                lr: 1e-3,
                loss: 2.0 - i as f64 / 100.0,
                main: 0.0,
                align: 0.0,
                grad_norm: 1.0,
                images_per_s: 1.0,
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("loss.png");
        plot_loss(&entries, &path).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (WIDTH, HEIGHT));
        let is_curve = |x: u32, y: u32| img.get_pixel(x, y) == &RAW || img.get_pixel(x, y) == &SMOOTH;
        let column_hits = |x: u32| (0..HEIGHT).filter(|&y| is_curve(x, y)).collect::<Vec<_>>();
        let (left, right) = (column_hits(MARGIN + 1), column_hits(WIDTH - 12));
        assert!(!left.is_empty() && !right.is_empty());
        assert!(left[0] < right[0], "the curve falls from left to right");
        assert!(!path.with_extension("png.tmp").exists());
    }

    #[test]
    fn short_numbers_fit_seven_characters() {
        for v in [0.0, 1.0, 0.123456, 123.456, 1.5e-5, 2.5e7, -0.5] {
            assert!(short(v).len() <= 7, "{v} → {}", short(v));
        }
        assert_eq!(short(0.5), "0.5000");
    }
}
