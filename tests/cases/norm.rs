//! Batch normalisation (src/ops/norm): training and evaluation, with and without affine parameters.

use super::*;

pub fn cases() -> Vec<Case> {
    let mut c = Vec::new();
    // ---- batch norm
    c.push(case(
        "batch_norm train affine",
        vec![inp(&[3, 4, 3, 5]), inp(&[4]), inp(&[4])],
        true,
        |x| train_affine(x, 4),
    ));
    c.push(case(
        "batch_norm train plain",
        vec![inp(&[2, 3, 4, 4])],
        true,
        |x| {
            ops::batch_norm(
                &x[0],
                ops::Affine::NONE,
                ops::BnMode::Train {
                    state: None,
                    momentum: 0.1,
                },
                1e-5,
            )
        },
    ));
    c.push(case(
        "batch_norm eval affine",
        vec![inp(&[2, 3, 4, 4]), inp(&[3]), inp(&[3])],
        true,
        |x| {
            let mut st = bn_state(&x[0], 3);
            st.running_mean =
                Tensor::from_f64_as(&[0.1, -0.2, 0.3], [3], x[0].dtype(), x[0].device())?;
            st.running_var =
                Tensor::from_f64_as(&[0.5, 1.5, 2.0], [3], x[0].dtype(), x[0].device())?;
            ops::batch_norm(
                &x[0],
                ops::Affine {
                    gamma: Some(&x[1]),
                    beta: Some(&x[2]),
                },
                ops::BnMode::Eval { state: &st },
                1e-3,
            )
        },
    ));
    // Channels of over two 16,384-value chunks: the GPU's grid-wide statistics and backward sums
    // (three chunks per channel, the last one partial).
    let mut long = case(
        "batch_norm train long channels",
        vec![inp(&[2, 2, 130, 130]), inp(&[2]), inp(&[2])],
        true,
        |x| train_affine(x, 2),
    );
    long.gradcheck = false;
    c.push(long);
    c
}

/// Training-mode batch norm of x[0] (C channels) with γ = x[1], β = x[2] and running statistics.
fn train_affine(x: &[Tensor], c: usize) -> Result<Tensor> {
    let mut st = bn_state(&x[0], c);
    ops::batch_norm(
        &x[0],
        ops::Affine {
            gamma: Some(&x[1]),
            beta: Some(&x[2]),
        },
        ops::BnMode::Train {
            state: Some(&mut st),
            momentum: 0.1,
        },
        1e-5,
    )
}
