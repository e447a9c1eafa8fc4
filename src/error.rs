//! The crate's error type: every user-facing failure is an `Err` with a message a user can act on.

use std::fmt;

/// Errors raised by the engine. Messages name the op and the offending shapes, dtypes or values.
#[derive(Debug)]
pub enum Error {
    /// Shapes that do not fit the op (the message names both shapes).
    Shape(String),
    /// Element types that do not fit the op.
    DType(String),
    /// Tensors on different devices, or an op the device cannot run.
    Device(String),
    /// A NaN or infinity found where a finite value is required (the message names the tensor).
    NonFinite(String),
    /// Any other invalid argument.
    Invalid(String),
    /// A file could not be read or written.
    Io(std::io::Error),
    /// A file was read but its contents are malformed.
    Format(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Shape(m) => write!(f, "shape error: {m}"),
            Error::DType(m) => write!(f, "dtype error: {m}"),
            Error::Device(m) => write!(f, "device error: {m}"),
            Error::NonFinite(m) => write!(f, "non-finite value: {m}"),
            Error::Invalid(m) => write!(f, "invalid argument: {m}"),
            Error::Io(e) => write!(f, "i/o error: {e}"),
            Error::Format(m) => write!(f, "format error: {m}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

/// Shorthand for `Err(Error::Shape(format!(...)))`.
#[macro_export]
macro_rules! shape_err {
    ($($arg:tt)*) => { Err($crate::error::Error::Shape(format!($($arg)*))) };
}

/// Shorthand for `Err(Error::Invalid(format!(...)))`.
#[macro_export]
macro_rules! invalid {
    ($($arg:tt)*) => { Err($crate::error::Error::Invalid(format!($($arg)*))) };
}
