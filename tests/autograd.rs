//! Tape semantics: accumulation, restriction to chosen tensors, intermediate gradients,
//! no_grad, detach, freeing of saved activations, and misuse errors.

use coin::{no_grad, ops, DType, Device, Tape, Tensor};

fn t(v: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_f64(v.to_vec(), shape.to_vec(), Device::Reference).unwrap()
}

#[test]
fn tensor_consumed_twice_gets_sum_of_gradients() {
    let tape = Tape::new();
    let x = tape.track(&t(&[1.0, -2.0, 3.0], &[3]));
    // y = sum(x·x + 3x) → dy/dx = 2x + 3
    let y = ops::sum_all(
        &ops::add(
            &ops::mul(&x, &x).unwrap(),
            &ops::mul_scalar(&x, 3.0).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let g = tape.backward(&y, &[&x]).unwrap();
    assert_eq!(g.get(&x).unwrap().to_vec_f64(), vec![5.0, -1.0, 9.0]);
}

#[test]
fn backward_only_reaches_chosen_tensors() {
    // Two "networks": a (generator) and b (discriminator weights); ask only for a's gradient.
    let tape = Tape::new();
    let a = tape.track(&t(&[2.0], &[1]));
    let b = tape.track(&t(&[5.0], &[1]));
    let y = ops::sum_all(&ops::mul(&ops::mul(&a, &b).unwrap(), &b).unwrap()).unwrap();
    let g = tape.backward(&y, &[&a]).unwrap();
    assert_eq!(g.get(&a).unwrap().to_vec_f64(), vec![25.0]);
    assert!(g.get(&b).is_none(), "b was not asked for");
    assert_eq!(g.len(), 1);
}

#[test]
fn gradient_at_an_intermediate_activation() {
    // LayerCAM needs d logit / d activation.
    let tape = Tape::new();
    let x = tape.track(&t(&[1.0, 2.0], &[2]));
    let act = ops::mul_scalar(&x, 3.0).unwrap();
    let y = ops::sum_all(&ops::square(&act).unwrap()).unwrap();
    let g = tape.backward(&y, &[&act, &x]).unwrap();
    assert_eq!(g.get(&act).unwrap().to_vec_f64(), vec![6.0, 12.0]);
    assert_eq!(g.get(&x).unwrap().to_vec_f64(), vec![18.0, 36.0]);
}

#[test]
fn no_grad_and_detach_stop_recording() {
    let tape = Tape::new();
    let x = tape.track(&t(&[1.0], &[1]));
    let y = no_grad(|| ops::mul_scalar(&x, 2.0).unwrap());
    assert!(!y.is_tracked());
    let z = ops::mul_scalar(&x.detach(), 2.0).unwrap();
    assert!(!z.is_tracked());
    assert!(tape.is_empty());
    // Backward from an untracked tensor is an error, not a silent zero.
    assert!(tape.backward(&ops::sum_all(&z).unwrap(), &[&x]).is_err());
    // Recording resumes after no_grad.
    assert!(ops::mul_scalar(&x, 2.0).unwrap().is_tracked());
}

#[test]
fn untracked_inputs_record_nothing() {
    let x = t(&[1.0, 2.0], &[2]);
    let y = ops::tanh(&x).unwrap();
    assert!(!y.is_tracked());
}

#[test]
fn backward_consumes_the_tape_and_frees_saved_activations() {
    let tape = Tape::new();
    let x = tape.track(&t(&[1.0, 2.0], &[2]));
    let big = Tensor::zeros([1000], DType::F64, Device::Reference);
    let y = ops::sum_all(
        &ops::mul(
            &ops::sum_all(&x).unwrap(),
            &ops::add_scalar(&big, 1.0).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(tape.len() >= 3);
    tape.backward(&y, &[&x]).unwrap();
    assert_eq!(
        tape.len(),
        0,
        "entries (and their saved tensors) are released by backward"
    );
}

#[test]
fn mixing_two_tapes_is_an_error() {
    let (t1, t2) = (Tape::new(), Tape::new());
    let a = t1.track(&t(&[1.0], &[1]));
    let b = t2.track(&t(&[1.0], &[1]));
    let e = ops::add(&a, &b).unwrap_err().to_string();
    assert!(e.contains("two different tapes"), "{e}");
}

#[test]
fn backward_needs_a_scalar_loss() {
    let tape = Tape::new();
    let x = tape.track(&t(&[1.0, 2.0], &[2]));
    let y = ops::square(&x).unwrap();
    assert!(tape
        .backward(&y, &[&x])
        .unwrap_err()
        .to_string()
        .contains("one-element"));
}

#[test]
fn parameter_group_restriction_in_a_gan_like_step() {
    use coin::nn::{Ctx, Linear, LinearCfg, ParamGroup};
    let mut rng = coin::rng::Rng::new(3);
    let mut gen = ParamGroup::new("gen", Device::Reference);
    let mut disc = ParamGroup::new("disc", Device::Reference);
    let cfg = |fin, fout| LinearCfg {
        fin,
        fout,
        ..Default::default()
    };
    let g = Linear::new(&mut gen.scope("g"), cfg(3, 3), &mut rng).unwrap();
    let d = Linear::new(&mut disc.scope("d"), cfg(3, 1), &mut rng).unwrap();
    let tape = Tape::new();
    let ctx = Ctx::train(&tape);
    let x = Tensor::from_f32(
        vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
        [2, 3],
        Device::Reference,
    )
    .unwrap();
    let fake = g.forward(&x, &ctx).unwrap();
    let logit = d.forward(&fake, &ctx).unwrap();
    let loss = ops::mean_all(&logit).unwrap();
    let wrt = gen.tensors();
    let grads = tape
        .backward(&loss, &wrt.iter().collect::<Vec<_>>())
        .unwrap();
    assert_eq!(gen.accumulate(&grads).unwrap(), 2);
    assert_eq!(
        disc.accumulate(&grads).unwrap(),
        0,
        "the G step gives D no gradients"
    );
    assert!(disc.grad().iter().all(|&v| v == 0.0));
    assert!(gen.grad().iter().any(|&v| v != 0.0));
}
