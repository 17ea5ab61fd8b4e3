//! Full-text search: English tokenisation (lowercased words, stop words
//! dropped, Snowball stems), search strings with phrases and negated terms,
//! and BM25 scoring. The inverted index itself is kept by the store
//! (postings per term, a length per document); this module computes what
//! goes in it and how it scores. It must not touch storage.

use std::collections::HashMap;

use rust_stemmers::{Algorithm, Stemmer};
use serde_json::Value;

/// BM25's term-frequency saturation.
pub const K1: f64 = 1.2;
/// BM25's length normalisation.
pub const B: f64 = 0.75;

/// English stop words (Snowball's list), not indexed and not searched.
const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "did",
    "do",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "me",
    "more",
    "most",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "same",
    "she",
    "should",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

/// Splits text into indexable terms, in order.
pub fn terms(text: &str) -> Vec<String> {
    let stemmer = Stemmer::create(Algorithm::English);
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .map(|w| stemmer.stem(&w).into_owned())
        .collect()
}

/// The terms of a document's text fields, in field order.
pub fn document_terms(doc: &Value, fields: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for field in fields {
        let segments: Vec<&str> = field.split('.').collect();
        for value in crate::path::values_at(doc, &segments).values {
            collect_strings(value, &mut out);
        }
    }
    out
}

fn collect_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.extend(terms(s)),
        Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        _ => {}
    }
}

/// Term frequencies of a term list.
pub fn frequencies(terms: &[String]) -> HashMap<String, u32> {
    let mut out = HashMap::new();
    for t in terms {
        *out.entry(t.clone()).or_insert(0) += 1;
    }
    out
}

/// A parsed search string: `coffee "cold brew" -decaf`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Search {
    /// Terms any of which a result has (scored).
    pub terms: Vec<String>,
    /// Phrases (as term sequences) every result contains.
    pub phrases: Vec<Vec<String>>,
    /// Terms no result has.
    pub excluded: Vec<String>,
}

impl Search {
    /// Parses a search string.
    pub fn parse(query: &str) -> Self {
        let mut search = Self::default();
        let mut rest = query;
        while let Some(start) = rest.find('"') {
            let (before, after) = rest.split_at(start);
            search.words(before);
            let after = &after[1..];
            let end = after.find('"').unwrap_or(after.len());
            let phrase = terms(&after[..end]);
            if !phrase.is_empty() {
                search.terms.extend(phrase.iter().cloned());
                search.phrases.push(phrase);
            }
            rest = after.get(end + 1..).unwrap_or("");
        }
        search.words(rest);
        search.terms.sort();
        search.terms.dedup();
        search
    }

    fn words(&mut self, text: &str) {
        for word in text.split_whitespace() {
            if let Some(negated) = word.strip_prefix('-') {
                self.excluded.extend(terms(negated));
            } else {
                self.terms.extend(terms(word));
            }
        }
    }

    /// Whether a document's terms hold every phrase and no excluded term.
    pub fn admits(&self, doc_terms: &[String]) -> bool {
        self.excluded.iter().all(|t| !doc_terms.contains(t))
            && self
                .phrases
                .iter()
                .all(|p| doc_terms.windows(p.len()).any(|w| w == p.as_slice()))
    }
}

/// BM25 (Robertson–Spärck Jones idf, as Lucene and `rank_bm25`'s Okapi
/// variant use) of one document for the query's terms.
///
/// `tf` holds the document's frequency of each query term, `df` each
/// term's document count, `docs` the number of indexed documents, and
/// `avg_len` their mean length in terms.
pub fn bm25(tf: &[(u32, u64)], len: u32, docs: u64, avg_len: f64) -> f64 {
    let n = docs as f64;
    tf.iter()
        .map(|&(f, df)| {
            let f = f64::from(f);
            let idf = (1.0 + (n - df as f64 + 0.5) / (df as f64 + 0.5)).ln();
            let norm = if avg_len > 0.0 {
                f64::from(len) / avg_len
            } else {
                1.0
            };
            idf * f * (K1 + 1.0) / (f + K1 * (1.0 - B + B * norm))
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_stemmed_lowercased_and_stop_words_go() {
        assert_eq!(
            terms("The Running dogs, and a runner!"),
            vec!["run", "dog", "runner"]
        );
        assert_eq!(terms("Connections connected"), vec!["connect", "connect"]);
    }

    #[test]
    fn searches_have_terms_phrases_and_exclusions() {
        let s = Search::parse("coffee \"cold brewing\" -decaf");
        assert_eq!(s.terms, vec!["brew", "coffe", "cold"]);
        assert_eq!(s.phrases, vec![vec!["cold".to_owned(), "brew".to_owned()]]);
        assert_eq!(s.excluded, vec!["decaf"]);
        assert!(s.admits(&terms("best cold brew coffee")));
        assert!(
            !s.admits(&terms("brew cold coffee")),
            "the phrase is in order"
        );
        assert!(!s.admits(&terms("cold brew decaf")));
    }

    #[test]
    fn bm25_rewards_rare_terms_and_short_documents() {
        let rare = bm25(&[(1, 1)], 10, 100, 10.0);
        let common = bm25(&[(1, 90)], 10, 100, 10.0);
        assert!(rare > common);
        assert!(bm25(&[(1, 5)], 5, 100, 10.0) > bm25(&[(1, 5)], 20, 100, 10.0));
    }
}
