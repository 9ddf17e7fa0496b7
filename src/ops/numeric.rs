//! `Numeric`: the element types arithmetic is defined on, with numpy's
//! semantics where Rust's would panic on user data (integer overflow
//! wraps, integer division by zero gives 0).

use ndchunk_io::Element;

/// An element type with arithmetic. Implemented for the integer and float
/// types of [`Element`]; `bool` has none, as in numpy's arithmetic.
pub trait Numeric: Element + PartialOrd {
    /// The additive identity.
    const ZERO: Self;
    /// The multiplicative identity.
    const ONE: Self;
    /// `self + other` (wrapping for integers).
    fn add_elem(self, other: Self) -> Self;
    /// `self - other` (wrapping for integers).
    fn sub_elem(self, other: Self) -> Self;
    /// `self * other` (wrapping for integers).
    fn mul_elem(self, other: Self) -> Self;
    /// `self / other` (integer division by zero gives 0, as numpy's `//`).
    fn div_elem(self, other: Self) -> Self;
    /// `|self|` (wrapping for the most negative integer).
    fn abs_elem(self) -> Self;
}

macro_rules! integer {
    ($($t:ty => $abs:expr),* $(,)?) => {$(
        impl Numeric for $t {
            const ZERO: Self = 0;
            const ONE: Self = 1;
            #[inline]
            fn add_elem(self, other: Self) -> Self { self.wrapping_add(other) }
            #[inline]
            fn sub_elem(self, other: Self) -> Self { self.wrapping_sub(other) }
            #[inline]
            fn mul_elem(self, other: Self) -> Self { self.wrapping_mul(other) }
            #[inline]
            fn div_elem(self, other: Self) -> Self { self.checked_div(other).unwrap_or(0) }
            #[inline]
            fn abs_elem(self) -> Self { let f: fn($t) -> $t = $abs; f(self) }
        }
    )*};
}

integer!(
    i8 => i8::wrapping_abs, i16 => i16::wrapping_abs, i32 => i32::wrapping_abs, i64 => i64::wrapping_abs,
    u8 => |x| x, u16 => |x| x, u32 => |x| x, u64 => |x| x,
);

macro_rules! float {
    ($($t:ty),*) => {$(
        impl Numeric for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            #[inline]
            fn add_elem(self, other: Self) -> Self { self + other }
            #[inline]
            fn sub_elem(self, other: Self) -> Self { self - other }
            #[inline]
            fn mul_elem(self, other: Self) -> Self { self * other }
            #[inline]
            fn div_elem(self, other: Self) -> Self { self / other }
            #[inline]
            fn abs_elem(self) -> Self { self.abs() }
        }
    )*};
}

float!(f32, f64);
