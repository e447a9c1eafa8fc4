//! Progress on the terminal: an `indicatif` bar per stage with the latest loss terms, steps/s
//! and the time left (by step count or by budget). Hidden when stderr is not a terminal; notes
//! are printed either way.

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    bar: ProgressBar,
    budget_s: f64,
}

impl Progress {
    pub fn new(stage: &str, max_steps: u64, budget_s: f64, start: u64) -> Progress {
        let bar = if max_steps > 0 {
            ProgressBar::new(max_steps)
        } else {
            ProgressBar::new_spinner()
        };
        let tmpl = if max_steps > 0 {
            format!(
                "{stage:>14} [{{bar:30}}] {{pos}}/{{len}} steps {{per_sec}} ETA {{eta}} {{msg}}"
            )
        } else {
            format!("{stage:>14} {{spinner}} {{pos}} steps {{per_sec}} {{msg}}")
        };
        bar.set_style(
            ProgressStyle::with_template(&tmpl).unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_position(start);
        Progress { bar, budget_s }
    }
    pub fn step(&self, step: u64, seconds: f64, msg: &str) {
        self.bar.set_position(step);
        if self.budget_s > 0.0 {
            self.bar.set_message(format!(
                "{msg} | budget left {:.0} s",
                (self.budget_s - seconds).max(0.0)
            ));
        } else {
            self.bar.set_message(msg.to_string());
        }
    }
    pub fn note(&self, msg: &str) {
        self.bar.suspend(|| println!("{msg}"));
    }
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// A bar counting slices for `segment` and `evaluate` (`done`/`total` set by the caller; the
/// total may arrive later). Hidden when stderr is not a terminal.
pub fn slice_bar(label: &str) -> ProgressBar {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} slices ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(label.to_string());
    bar
}
