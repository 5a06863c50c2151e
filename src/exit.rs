//! Exit codes: the one place they are named. Listed in `luota --help`.
//!
//! When several apply, the most serious wins: 130, then 2, then 3, then 1, then 4.

/// Every drill passed.
pub const PASSED: i32 = 0;
/// At least one drill's outcome failed (an incident).
pub const OUTCOME_FAILED: i32 = 1;
/// Invalid input: CLI usage, a drill file or the config. Nothing was sent.
pub const INVALID_INPUT: i32 = 2;
/// A drill could not be carried out: target unreachable, setup failed,
/// precondition not met, or refused by a safety rail.
pub const NOT_CARRIED_OUT: i32 = 3;
/// Only snapshots changed.
pub const SNAPSHOTS_CHANGED: i32 = 4;
/// Interrupted by SIGINT/SIGTERM.
pub const INTERRUPTED: i32 = 130;

/// Order of precedence, most serious first.
const PRECEDENCE: [i32; 5] = [
    INTERRUPTED,
    INVALID_INPUT,
    NOT_CARRIED_OUT,
    OUTCOME_FAILED,
    SNAPSHOTS_CHANGED,
];

/// Combine the codes that apply into the one the process exits with.
pub fn combine(codes: impl IntoIterator<Item = i32>) -> i32 {
    let codes: Vec<i32> = codes.into_iter().collect();
    PRECEDENCE
        .into_iter()
        .find(|c| codes.contains(c))
        .unwrap_or(PASSED)
}

/// The text `luota --help` shows after the commands.
pub const HELP: &str = "\
Exit codes:
  0    every drill passed
  1    an outcome failed (an incident: the promised state did not happen)
  2    invalid input (CLI usage, drill or config file); nothing was sent
  3    a drill could not be carried out (target unreachable, setup failed,
       precondition not met, refused by a safety rail)
  4    only snapshots changed
  130  interrupted
When several apply: 130, then 2, then 3, then 1, then 4.";

/// The text `luota validate --help` shows.
pub const VALIDATE_HELP: &str = "\
Exit codes:
  0    every drill file and the config are valid
  2    invalid input: a drill or the config has a problem (each printed with
       file:line:col), an unknown --target, or a path that does not exist";

/// The text `luota sign --help` shows.
pub const SIGN_HELP: &str = "\
Exit codes:
  0    the header was printed
  2    the body could not be read from stdin
  3    the secret variable is not set";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_is_interrupt_invalid_errored_failed_snapshot() {
        assert_eq!(combine([OUTCOME_FAILED, NOT_CARRIED_OUT]), NOT_CARRIED_OUT);
        assert_eq!(combine([SNAPSHOTS_CHANGED, OUTCOME_FAILED]), OUTCOME_FAILED);
        assert_eq!(
            combine([INVALID_INPUT, INTERRUPTED, NOT_CARRIED_OUT]),
            INTERRUPTED
        );
        assert_eq!(combine([NOT_CARRIED_OUT, INVALID_INPUT]), INVALID_INPUT);
        assert_eq!(combine([PASSED, PASSED]), PASSED);
        assert_eq!(combine([]), PASSED);
    }
}
