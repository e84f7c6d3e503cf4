//! Black-box tests of the fcemu binary live in `integration/`; this library is empty.
