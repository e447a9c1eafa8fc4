//! Layer 2: every op's backward against central finite differences, in f64 on the reference
//! backend, over the whole case table (odd sizes, stride 2, padding, broadcasting, reuse).

use crate::cases::{all_cases, make_inputs};
use crate::common::gradcheck;
use coin::{DType, Device};

#[test]
fn every_op_backward_matches_finite_differences() {
    let mut failures = Vec::new();
    let cases = all_cases();
    for (k, case) in cases.iter().enumerate().filter(|(_, c)| c.gradcheck) {
        let inputs = make_inputs(case, 1000 + k as u64, DType::F64, Device::Reference);
        let grad: Vec<bool> = case.inputs.iter().map(|i| i.grad).collect();
        if let Err(e) = gradcheck(&case.name, &*case.f, &inputs, &grad) {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    let skipped = cases.iter().filter(|c| !c.gradcheck).count();
    println!(
        "gradcheck: {} cases passed ({skipped} too large, checked against the reference only)",
        cases.len() - skipped
    );
}
