//! Elementwise ops (src/ops/elementwise): unary maps, binary ops with broadcasting, comparisons and where.

use super::*;

pub fn cases() -> Vec<Case> {
    let mut c = Vec::new();
    // ---- unary
    let s = [2, 3, 4, 5];
    c.push(case("relu", vec![inp(&s)], false, |x| ops::relu(&x[0])));
    c.push(case("tanh", vec![inp(&s)], false, |x| ops::tanh(&x[0])));
    c.push(case("sigmoid", vec![inp(&s)], false, |x| {
        ops::sigmoid(&x[0])
    }));
    c.push(case(
        "softplus",
        vec![Input {
            shape: vec![3, 7],
            lo: -25.0,
            hi: 25.0,
            grad: true,
        }],
        false,
        |x| ops::softplus(&x[0]),
    ));
    c.push(case("abs", vec![inp(&s)], false, |x| ops::abs(&x[0])));
    c.push(case("square", vec![inp(&s)], false, |x| ops::square(&x[0])));
    c.push(case("exp", vec![inp(&s)], false, |x| ops::exp(&x[0])));
    c.push(case("log", vec![pos(&s)], false, |x| ops::log(&x[0])));
    c.push(case("sqrt", vec![pos(&s)], false, |x| ops::sqrt(&x[0])));
    c.push(case("neg", vec![inp(&s)], false, |x| ops::neg(&x[0])));
    c.push(case("clamp", vec![inp(&s)], false, |x| {
        ops::clamp(&x[0], -0.7, 0.9)
    }));
    c.push(case("add_scalar", vec![inp(&[5])], false, |x| {
        ops::add_scalar(&x[0], 1.5)
    }));
    c.push(case("mul_scalar", vec![inp(&[5])], false, |x| {
        ops::mul_scalar(&x[0], -2.5)
    }));
    // A bin as a number: the indicator of one input weights another (only the second gets a
    // gradient; the indicator's derivative is 0 and a finite difference across its step is not).
    c.push(case(
        "at_least",
        vec![
            Input {
                grad: false,
                ..inp(&s)
            },
            inp(&s),
        ],
        false,
        |x| ops::mul(&ops::at_least(&x[0], 0.25)?, &x[1]),
    ));
    // ---- binary with broadcasting
    for (a, b) in [
        (vec![2, 3, 4, 5], vec![2, 3, 4, 5]),
        (vec![2, 3, 4, 5], vec![1, 3, 1, 1]),
        (vec![2, 3, 1, 1], vec![2, 3, 4, 5]),
        (vec![3, 1, 5], vec![4, 1]),
        (vec![2, 3, 4, 5], vec![]),
        (vec![5], vec![2, 3, 4, 5]),
    ] {
        let tag = format!("{a:?}x{b:?}");
        c.push(case(
            &format!("add {tag}"),
            vec![inp(&a), inp(&b)],
            true,
            |x| ops::add(&x[0], &x[1]),
        ));
        c.push(case(
            &format!("sub {tag}"),
            vec![inp(&a), inp(&b)],
            true,
            |x| ops::sub(&x[0], &x[1]),
        ));
        c.push(case(
            &format!("mul {tag}"),
            vec![inp(&a), inp(&b)],
            true,
            |x| ops::mul(&x[0], &x[1]),
        ));
        c.push(case(
            &format!("div {tag}"),
            vec![inp(&a), pos(&b)],
            true,
            |x| ops::div(&x[0], &x[1]),
        ));
        c.push(case(
            &format!("maximum {tag}"),
            vec![inp(&a), inp(&b)],
            true,
            |x| ops::maximum(&x[0], &x[1]),
        ));
        c.push(case(
            &format!("minimum {tag}"),
            vec![inp(&a), inp(&b)],
            true,
            |x| ops::minimum(&x[0], &x[1]),
        ));
    }
    let mask_only = Input {
        grad: false,
        ..inp(&[2, 3, 4])
    };
    c.push(case(
        "where(gt)",
        vec![mask_only, inp(&[2, 3, 4]), inp(&[1, 3, 1])],
        true,
        |x| {
            let m = ops::gt(
                &x[0].detach(),
                &Tensor::zeros([1], x[0].dtype(), x[0].device()),
            )?;
            ops::where_(&m, &x[1], &x[2])
        },
    ));
    // Every operand at the output's shape (the CPU's parallel where) and a comparison that
    // broadcasts both sides.
    c.push(case(
        "where(le) full shapes",
        vec![inp(&[2, 3, 5]), inp(&[2, 3, 5]), inp(&[2, 3, 5])],
        true,
        |x| {
            let m = ops::le(&x[0].detach(), &x[1].detach())?;
            let b = ops::lt(&x[0].detach(), &ops::sum(&x[2].detach(), &[0], true)?)?;
            let picked = ops::where_(&m, &x[1], &x[2])?;
            ops::where_(&b, &picked, &x[0])
        },
    ));
    tag_fixtures(
        &mut c,
        &[
            ("relu", "relu"),
            ("tanh", "tanh"),
            ("sigmoid", "sigmoid"),
            ("softplus", "softplus"),
            ("abs", "abs"),
            ("exp", "exp"),
            ("log", "log"),
            ("clamp", "clamp"),
            ("add [2, 3, 4, 5]x[1, 3, 1, 1]", "add_broadcast"),
            ("mul [2, 3, 4, 5]x[1, 3, 1, 1]", "mul_broadcast"),
            ("div [2, 3, 4, 5]x[1, 3, 1, 1]", "div_broadcast"),
        ],
    );
    c
}
