//! Topic names and the patterns that match them.
//!
//! A topic is dot-separated segments (`jobs.42`, `graph.algorithms`). In a
//! pattern, `*` matches exactly one segment and `>` (last segment only)
//! matches one or more remaining segments, as in NATS.

use std::fmt;

/// Why a topic or pattern was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("'{text}' is not a valid {what}: {reason}")]
pub struct PatternError {
    text: String,
    what: &'static str,
    reason: &'static str,
}

const MAX_TOPIC_LEN: usize = 256;

fn check_segment(segment: &str) -> Result<(), &'static str> {
    if segment.is_empty() {
        return Err("segments must not be empty (no leading, trailing or double dots)");
    }
    if !segment
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == ':')
    {
        return Err("segments may hold only letters, digits, '_', '-' and ':'");
    }
    Ok(())
}

/// Checks that `topic` is a concrete topic name (no wildcards).
pub fn validate_topic(topic: &str) -> Result<(), PatternError> {
    let fail = |reason| PatternError {
        text: topic.to_owned(),
        what: "topic",
        reason,
    };
    if topic.len() > MAX_TOPIC_LEN {
        return Err(fail("longer than 256 bytes"));
    }
    topic.split('.').try_for_each(check_segment).map_err(fail)
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    AnyOne,
    Rest,
}

/// A parsed topic pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicPattern {
    text: String,
    segments: Vec<Segment>,
}

impl TopicPattern {
    /// Parses `jobs.*`, `storage.>`, or an exact topic name.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let fail = |reason| PatternError {
            text: text.to_owned(),
            what: "topic pattern",
            reason,
        };
        if text.len() > MAX_TOPIC_LEN {
            return Err(fail("longer than 256 bytes"));
        }
        let parts: Vec<&str> = text.split('.').collect();
        let mut segments = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            let segment = match *part {
                "*" => Segment::AnyOne,
                ">" if i + 1 == parts.len() => Segment::Rest,
                ">" => return Err(fail("'>' may only be the last segment")),
                literal => {
                    check_segment(literal).map_err(fail)?;
                    Segment::Literal(literal.to_owned())
                }
            };
            segments.push(segment);
        }
        Ok(Self {
            text: text.to_owned(),
            segments,
        })
    }

    /// The one topic it matches, when it has no wildcard.
    pub fn literal(&self) -> Option<&str> {
        self.segments
            .iter()
            .all(|s| matches!(s, Segment::Literal(_)))
            .then_some(self.text.as_str())
    }

    /// The pattern as the client wrote it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Does `topic` match this pattern?
    pub fn matches(&self, topic: &str) -> bool {
        let mut parts = topic.split('.');
        for segment in &self.segments {
            match segment {
                Segment::Rest => return parts.next().is_some(),
                Segment::AnyOne => {
                    if parts.next().is_none() {
                        return false;
                    }
                }
                Segment::Literal(literal) => {
                    if parts.next() != Some(literal.as_str()) {
                        return false;
                    }
                }
            }
        }
        parts.next().is_none()
    }
}

impl fmt::Display for TopicPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, topic: &str) -> bool {
        TopicPattern::parse(pattern)
            .expect("valid pattern")
            .matches(topic)
    }

    #[test]
    fn exact_names_match_only_themselves() {
        assert!(matches("graph.algorithms", "graph.algorithms"));
        assert!(!matches("graph.algorithms", "graph.algorithms.x"));
        assert!(!matches("graph.algorithms", "graph"));
    }

    #[test]
    fn star_matches_one_segment() {
        assert!(matches("jobs.*", "jobs.42"));
        assert!(!matches("jobs.*", "jobs"));
        assert!(!matches("jobs.*", "jobs.42.x"));
        assert!(matches("*.training", "ml.training"));
    }

    #[test]
    fn rest_matches_one_or_more_segments() {
        assert!(matches("storage.>", "storage.buffer_pool"));
        assert!(matches("storage.>", "storage.lsm.compaction"));
        assert!(!matches("storage.>", "storage"));
        assert!(matches(">", "anything.at.all"));
    }

    #[test]
    fn malformed_patterns_are_refused() {
        assert!(TopicPattern::parse("").is_err());
        assert!(TopicPattern::parse("a..b").is_err());
        assert!(TopicPattern::parse("a.>.b").is_err());
        assert!(TopicPattern::parse("a b").is_err());
        assert!(validate_topic("jobs.*").is_err());
        assert!(validate_topic("jobs.0190-ab").is_ok());
    }
}
