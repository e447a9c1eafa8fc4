//! Reductions (src/ops/reduce): sums and means over axes, broadcast_to.

use super::*;

pub fn cases() -> Vec<Case> {
    let mut c = Vec::new();
    // ---- reductions
    c.push(case("sum all", vec![inp(&[3, 4, 5])], true, |x| {
        ops::sum_all(&x[0])
    }));
    c.push(case("mean all", vec![inp(&[3, 4, 5])], true, |x| {
        ops::mean_all(&x[0])
    }));
    c.push(case(
        "sum per channel",
        vec![inp(&[2, 3, 4, 5])],
        true,
        |x| ops::sum(&x[0], &[0, 2, 3], false),
    ));
    c.push(case(
        "sum per sample keepdim",
        vec![inp(&[2, 3, 4, 5])],
        true,
        |x| ops::sum(&x[0], &[1, 2, 3], true),
    ));
    c.push(case("mean axis 1", vec![inp(&[2, 3, 4, 5])], true, |x| {
        ops::mean(&x[0], &[1], false)
    }));
    c.push(case(
        "global sum pool",
        vec![inp(&[2, 3, 4, 5])],
        true,
        |x| ops::sum(&x[0], &[2, 3], false),
    ));
    c.push(case("mean axis -1", vec![inp(&[2, 3, 7])], true, |x| {
        ops::mean(&x[0], &[-1], true)
    }));
    c.push(case("broadcast_to", vec![inp(&[3, 1, 5])], true, |x| {
        ops::broadcast_to(&x[0], &coin::Shape::new(&[2, 3, 4, 5]))
    }));
    // Long rows, few of them: the two-pass sum (chunks of 8,192, the last one partial).
    let mut long = case("sum of long rows", vec![inp(&[3, 20_000])], true, |x| {
        ops::sum(&x[0], &[1], false)
    });
    long.gradcheck = false;
    c.push(long);
    let mut all = case("sum all of a long row", vec![inp(&[41_000])], true, |x| {
        ops::sum_all(&x[0])
    });
    all.gradcheck = false;
    c.push(all);
    tag_fixtures(&mut c, &[("sum per channel", "sum_per_channel")]);
    c
}
