//! 1-D filter weights: the Gaussian kernel and its derivatives, as
//! `scipy.ndimage._filters._gaussian_kernel1d` computes them, and the
//! radius `scipy.ndimage.gaussian_filter1d` truncates them at.

/// The radius of a Gaussian of standard deviation `sigma` truncated at
/// `truncate` standard deviations: scipy's `int(truncate * sd + 0.5)`
/// (truncation toward zero; negative products give 0).
pub(crate) fn gaussian_radius(sigma: f64, truncate: f64) -> usize {
    (truncate * sigma + 0.5) as usize
}

/// The `2 * radius + 1` weights of a sampled Gaussian of standard
/// deviation `sigma` (order 0), or of its `order`-th derivative, at
/// `x = -radius ..= radius`: scipy's `_gaussian_kernel1d(sigma, order,
/// radius)`, operation for operation. The Gaussian `exp(-0.5 / sigma² ·
/// x²)` is normalised by its sum, taken in numpy's pairwise order; the
/// derivative of order `n` is `q(x) · phi(x)` with the polynomial `q` from
/// `n` applications of `q ↦ q' + q · p'` (`p' = -x / sigma²`).
///
/// These are convolution weights: [`gaussian_filter1d`] correlates with
/// them reversed, as scipy's `gaussian_filter1d` does (`weights[::-1]`),
/// which flips the sign of the odd orders.
///
/// The weights are scipy's bits but where numpy's `exp` differs from the
/// C library's: numpy's AVX-512 `exp` is not always correctly rounded (it
/// differs from glibc's in about 5% of arguments), which moves a weight,
/// and through the normalising sum all of them, by a unit in the last
/// place. On CPUs without AVX-512 numpy calls the C library and the
/// weights are scipy's exactly.
///
/// Panics unless `sigma > 0` (scipy divides by zero).
///
/// [`gaussian_filter1d`]: super::correlate::gaussian_filter1d
pub(crate) fn gaussian_kernel1d(sigma: f64, order: usize, radius: usize) -> Vec<f64> {
    assert!(sigma > 0.0, "a Gaussian's sigma is positive, not {sigma}");
    let sigma2 = sigma * sigma;
    let scale = -0.5 / sigma2;
    let r = radius as i64;
    let mut phi: Vec<f64> = (-r..=r).map(|x| (scale * (x * x) as f64).exp()).collect();
    let total = pairwise_sum(&phi);
    for v in &mut phi {
        *v /= total;
    }
    if order == 0 {
        return phi;
    }
    // The coefficients of q, lowest power first, and the derivative
    // operator Q = D + P (D: q' on the superdiagonal, P: q·p' on the
    // subdiagonal, p' = x · (1 / -sigma²)), applied `order` times. numpy's
    // `dot` runs through BLAS, whose kernels fuse the multiply-adds on
    // CPUs with FMA: so do these (no difference up to order 2 but in q(x)).
    let p = 1.0 / -sigma2;
    let mut q = vec![0.0f64; order + 1];
    q[0] = 1.0;
    let mut next = vec![0.0f64; order + 1];
    for _ in 0..order {
        for (i, n) in next.iter_mut().enumerate() {
            let below = if i > 0 { p * q[i - 1] } else { 0.0 };
            *n = if i < order {
                ((i + 1) as f64).mul_add(q[i + 1], below)
            } else {
                below
            };
        }
        std::mem::swap(&mut q, &mut next);
    }
    (-r..=r)
        .zip(phi)
        .map(|(x, ph)| {
            let mut power = 1i64;
            let mut qx = q[0];
            for &c in &q[1..] {
                power = power.wrapping_mul(x);
                qx = (power as f64).mul_add(c, qx);
            }
            qx * ph
        })
        .collect()
}

/// The sum of `values` in numpy's pairwise order (`pairwise_sum` of
/// `numpy/_core/src/umath/loops_utils.h.src`): sequential below 8
/// elements, eight interleaved partial sums up to 128, halves (cut at a
/// multiple of 8) above. `np.sum` of a contiguous float64 array gives the
/// same bits.
pub(crate) fn pairwise_sum(values: &[f64]) -> f64 {
    const BLOCK: usize = 128;
    let n = values.len();
    if n < 8 {
        values.iter().fold(0.0, |acc, &v| acc + v)
    } else if n <= BLOCK {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&values[..8]);
        let whole = n - n % 8;
        for chunk in values[8..whole].chunks_exact(8) {
            for (acc, &v) in r.iter_mut().zip(chunk) {
                *acc += v;
            }
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &values[whole..] {
            res += v;
        }
        res
    } else {
        let mut half = n / 2;
        half -= half % 8;
        pairwise_sum(&values[..half]) + pairwise_sum(&values[half..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radius_truncates_like_python_int() {
        assert_eq!(gaussian_radius(1.0, 4.0), 4);
        assert_eq!(gaussian_radius(1.6, 4.0), 6); // 6.9 -> 6
        assert_eq!(gaussian_radius(0.1, 4.0), 0); // 0.9 -> 0
        assert_eq!(gaussian_radius(0.0, 4.0), 0);
    }

    #[test]
    fn order_zero_is_normalised_and_symmetric() {
        let w = gaussian_kernel1d(1.5, 0, 6);
        assert_eq!(w.len(), 13);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        for i in 0..6 {
            assert_eq!(w[i], w[12 - i]);
        }
    }

    #[test]
    fn order_one_is_the_derivative_antisymmetric_and_negative_right() {
        // d/dx of the Gaussian: positive left of 0, negative right.
        let w = gaussian_kernel1d(1.0, 1, 4);
        assert_eq!(w[4], 0.0);
        for i in 0..4 {
            assert_eq!(w[i], -w[8 - i]);
            assert!(w[i] > 0.0);
        }
    }

    #[test]
    fn pairwise_sum_of_few_and_many() {
        assert_eq!(pairwise_sum(&[]), 0.0);
        let v: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        assert_eq!(pairwise_sum(&v), 499_500.0);
    }
}
