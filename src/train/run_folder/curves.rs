//! The run's curves, drawn from its log.

use super::RunDir;
use crate::io::figures::save_line_plot;
use crate::Result;

impl RunDir {
    /// `loss.svg` (each stage's logged losses by step) and `val_iou.svg` (the counterfactual
    /// stage's validation IoU by seconds), from the run's log.
    pub fn plot_curves(&self) -> Result<()> {
        let log = self.read_log();
        let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
        let mut push = |name: &str, x: f64, y: f64| match series.iter_mut().find(|s| s.0 == name) {
            Some(s) => s.1.push((x, y)),
            None => series.push((name.to_string(), vec![(x, y)])),
        };
        for l in &log {
            let (Some(stage), Some(step)) = (l["stage"].as_str(), l["step"].as_f64()) else {
                continue;
            };
            if l.get("event").is_some() {
                continue;
            }
            if stage == "classifier" {
                if let Some(v) = l["loss"].as_f64() {
                    push("classifier BCE", step, v);
                }
            } else {
                for k in ["d_loss", "g_adv", "g_kl", "g_rec_loss"] {
                    if let Some(v) = l[k].as_f64() {
                        push(k, step, v);
                    }
                }
            }
        }
        save_line_plot(
            &self.path.join("loss.svg"),
            "training losses",
            "step (per stage)",
            &series,
        )?;
        let val: Vec<(f64, f64)> = log
            .iter()
            .filter(|l| l["event"] == "validation" && l["stage"] == "counterfactual")
            .filter_map(|l| Some((l["t"].as_f64()?, l["val_iou"].as_f64()?)))
            .collect();
        save_line_plot(
            &self.path.join("val_iou.svg"),
            "validation IoU",
            "seconds of the counterfactual stage",
            &[("IoU".to_string(), val)],
        )
    }
}
