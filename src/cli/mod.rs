//! The command line: argument parsing and dispatch.

pub fn main() -> i32 {
    0
}
