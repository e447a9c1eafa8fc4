//! Embedding lookup (src/ops/embedding).

use super::*;

pub fn cases() -> Vec<Case> {
    vec![case(
        "embedding (repeated ids)",
        vec![inp(&[3, 4])],
        true,
        |x| ops::embedding(&ids(&x[0], &[2, 0, 2, 1, 2]), &x[0]),
    )]
}
