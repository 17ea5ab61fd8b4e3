//! A query's normalised text and shape, from sqlparser's tokens. The
//! text — tokens as written, joined by single spaces, comments and a
//! trailing `;` dropped — keys the query cache: spacing does not split
//! it, but case is kept, since a column's name in the answer is spelled
//! as the query spells it. The shape — unquoted words lower-cased, every
//! literal a `?` — groups queries for workload analysis (the same report
//! with another date).

use sqlparser::dialect::DuckDbDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

/// A query's text and shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Normalized {
    /// Tokens as written, joined by single spaces.
    pub text: String,
    /// Unquoted words lower-case, literals as `?`.
    pub shape: String,
}

/// Normalises `sql`; `None` when it does not tokenize (the parser will
/// say why).
pub fn normalize(sql: &str) -> Option<Normalized> {
    let tokens = Tokenizer::new(&DuckDbDialect {}, sql).tokenize().ok()?;
    let mut text = Vec::new();
    let mut shape = Vec::new();
    for token in &tokens {
        let (exact, shaped) = match token {
            Token::Whitespace(_) | Token::EOF => continue,
            Token::SemiColon => continue,
            Token::Word(w) if w.quote_style.is_none() => (w.value.clone(), w.value.to_lowercase()),
            Token::Number(..) => (token.to_string(), "?".to_owned()),
            Token::SingleQuotedString(s) => {
                (format!("'{}'", s.replace('\'', "''")), "?".to_owned())
            }
            Token::NationalStringLiteral(_)
            | Token::EscapedStringLiteral(_)
            | Token::HexStringLiteral(_)
            | Token::DollarQuotedString(_) => (token.to_string(), "?".to_owned()),
            other => {
                let t = other.to_string();
                (t.clone(), t)
            }
        };
        text.push(exact);
        shape.push(shaped);
    }
    Some(Normalized {
        text: text.join(" "),
        shape: shape.join(" "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_query_share_a_text_and_literals_share_a_shape() {
        let a = normalize("SELECT  sensor, count(*)\n FROM readings -- why\n WHERE value > 3;")
            .expect("a");
        let b = normalize("SELECT sensor , count ( * ) FROM readings WHERE value>3").expect("b");
        assert_eq!(a.text, b.text);
        let c = normalize("select sensor, COUNT(*) from readings where value > 40").expect("c");
        assert_ne!(a.text, c.text);
        assert_eq!(a.shape, c.shape);
        assert!(a.shape.ends_with("where value > ?"), "{}", a.shape);
        let q = normalize("SELECT 'it''s'").expect("q");
        assert_eq!(q.text, "SELECT 'it''s'");
    }
}
