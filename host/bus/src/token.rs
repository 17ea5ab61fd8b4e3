//! Resume tokens: an opaque name for a position in the bus's log.
//!
//! Every event gets a global offset (one counter for the whole bus) besides
//! its per-topic `seq`. A token carries the offset and the id of the bus run
//! that issued it, so a token from before a restart is recognised: it then
//! means "from the beginning of what this run retains".

use std::fmt;
use std::str::FromStr;

use crate::BusError;

/// A position in the bus's log. Printed and parsed as `<run>-<offset>` in
/// hex; clients should treat it as opaque.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ResumeToken {
    pub(crate) run: u64,
    pub(crate) offset: u64,
}

impl fmt::Display for ResumeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}-{:x}", self.run, self.offset)
    }
}

impl FromStr for ResumeToken {
    type Err = BusError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = |why| BusError::BadToken(text.chars().take(64).collect(), why);
        let (run, offset) = text
            .split_once('-')
            .ok_or_else(|| bad("expected the token of an event"))?;
        if run.len() != 16 {
            return Err(bad("expected the token of an event"));
        }
        Ok(Self {
            run: u64::from_str_radix(run, 16).map_err(|_| bad("expected hex digits"))?,
            offset: u64::from_str_radix(offset, 16).map_err(|_| bad("expected hex digits"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text() {
        let token = ResumeToken {
            run: 0xdead_beef,
            offset: 4242,
        };
        let parsed: ResumeToken = token.to_string().parse().expect("parses");
        assert_eq!(parsed, token);
    }

    #[test]
    fn garbage_is_refused() {
        assert!("".parse::<ResumeToken>().is_err());
        assert!("abc".parse::<ResumeToken>().is_err());
        assert!("00000000deadbeef-zz".parse::<ResumeToken>().is_err());
    }
}
