//! Times the parts of a session's per-row work natively:
//! `cargo run --release -p weft-anomaly --example profile`.

use std::time::Instant;

use weft_anomaly::detector::{Algorithm, Detector, ModelSettings};
use weft_anomaly::drift::Adwin;

fn main() {
    let rows: Vec<Vec<f64>> = (0..20_000)
        .map(|i| {
            let t = f64::from(i) / 16.0;
            vec![t.sin(), t.cos(), (t * 3.0).sin()]
        })
        .collect();
    let settings = ModelSettings {
        window_size: 2048,
        warmup: 256,
        contamination: 0.02,
        trees: None,
        seed: 42,
    };
    let only = std::env::args().nth(1);
    for algorithm in Algorithm::ALL
        .into_iter()
        .filter(|a| only.as_deref().is_none_or(|o| o == a.name()))
    {
        let mut detector = Detector::new(algorithm, &settings);
        for row in &rows[..4000] {
            detector.process(row);
        }
        let start = Instant::now();
        for row in &rows[4000..] {
            detector.process(row);
        }
        let per_row = start.elapsed().as_secs_f64() * 1e6 / 16_000.0;
        println!("{:<18} {per_row:.2} µs/row", algorithm.name());
    }
    let mut adwin: Vec<Adwin> = (0..3).map(|_| Adwin::new(0.002, 8192, 100)).collect();
    let start = Instant::now();
    for row in &rows {
        for (a, v) in adwin.iter_mut().zip(row) {
            a.update(*v);
        }
    }
    println!(
        "adwin ×3            {:.2} µs/row",
        start.elapsed().as_secs_f64() * 1e6 / 20_000.0
    );
}
