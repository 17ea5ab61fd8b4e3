//! Who is calling: API keys → [`Principal`] (a tenant, and whether it may
//! operate the server). Every request passes [`authenticate`] first; the
//! handlers then scope what they touch — jobs, events, collections,
//! datasets, graphs, sessions — to the caller's tenant.
//!
//! Without `--api-keys` the server is open and single-tenant: every caller
//! is the default tenant with operator rights (what `make run` gives a
//! developer). With keys, a request shows its key as
//! `Authorization: Bearer <key>` or, where a client cannot set headers (a
//! browser's WebSocket), `?access_token=<key>`; a GraphQL subscription may
//! instead send it in `connection_init`'s payload. Health, the OpenAPI
//! document, `/docs` and the GraphiQL page are public. Keys are read from
//! a file (`<tenant> <key> [operator]` per line).
//!
//! This module decides identity only; it never looks at what a request
//! does beyond the operator check.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::{Method, StatusCode, Uri, header, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::{ApiError, AppState};

/// The caller of a request.
#[derive(Clone, Debug)]
pub struct Principal {
    /// Whose jobs, events and data the caller sees.
    pub tenant: String,
    /// May load plugins, manage connections and storage, and watch every
    /// tenant's events.
    pub operator: bool,
}

impl Principal {
    /// The tenant filter for bus subscriptions: operators see every tenant.
    pub(crate) fn event_tenant(&self) -> Option<&str> {
        (!self.operator).then_some(self.tenant.as_str())
    }

    /// Whether the caller may see something owned by `tenant`.
    pub(crate) fn may_see(&self, tenant: &str) -> bool {
        self.operator || self.tenant == tenant
    }

    /// The job `id` if the caller may see it; another tenant's job is
    /// "not found", so its existence does not leak.
    pub(crate) fn job(
        &self,
        jobs: &weft_runtime::Jobs,
        id: &str,
    ) -> Result<weft_runtime::Job, weft_runtime::RuntimeError> {
        match jobs.get(id) {
            Ok(job) if self.may_see(&job.tenant) => Ok(job),
            Ok(_) => Err(weft_runtime::RuntimeError::NotFound(format!(
                "job '{id}' does not exist (or has been forgotten)"
            ))),
            Err(e) => Err(e),
        }
    }
}

/// A malformed `--api-keys` file.
#[derive(Debug, thiserror::Error)]
pub enum ApiKeysError {
    /// A line that is not `<tenant> <key> [operator]`, or repeats a key.
    #[error("line {line}: {message}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// No keys at all: the server would refuse everyone.
    #[error("the file names no keys; write one `<tenant> <key> [operator]` per line")]
    Empty,
}

/// Shortest key accepted: shorter ones are guessable.
const MIN_KEY_LENGTH: usize = 16;

/// The keys the server accepts. Keys are held as SHA-256 digests and
/// looked up by digest, so a lookup's timing says nothing about how much
/// of a guessed key was right.
#[derive(Debug)]
pub struct ApiKeys {
    by_digest: HashMap<[u8; 32], Principal>,
}

impl ApiKeys {
    /// Parses `<tenant> <key> [operator]` lines; `#` starts a comment.
    pub fn parse(text: &str) -> Result<Self, ApiKeysError> {
        let mut by_digest = HashMap::new();
        for (index, line) in text.lines().enumerate() {
            let line_number = index + 1;
            let fail = |message: String| ApiKeysError::Line {
                line: line_number,
                message,
            };
            let content = line.split('#').next().unwrap_or_default().trim();
            if content.is_empty() {
                continue;
            }
            let fields: Vec<&str> = content.split_whitespace().collect();
            let (tenant, key, operator) = match fields.as_slice() {
                [tenant, key] => (*tenant, *key, false),
                [tenant, key, "operator"] => (*tenant, *key, true),
                _ => {
                    return Err(fail(
                        "expected `<tenant> <key>` or `<tenant> <key> operator`".into(),
                    ));
                }
            };
            if !valid_tenant(tenant) {
                return Err(fail(format!(
                    "tenant '{tenant}': use 1-64 letters, digits, '_' or '-'"
                )));
            }
            if key.len() < MIN_KEY_LENGTH {
                return Err(fail(format!(
                    "the key of '{tenant}' is shorter than {MIN_KEY_LENGTH} characters"
                )));
            }
            let principal = Principal {
                tenant: tenant.to_owned(),
                operator,
            };
            if by_digest.insert(digest(key), principal).is_some() {
                return Err(fail("this key is listed twice".into()));
            }
        }
        if by_digest.is_empty() {
            return Err(ApiKeysError::Empty);
        }
        Ok(Self { by_digest })
    }

    /// The principal a key stands for.
    pub(crate) fn check(&self, key: &str) -> Option<Principal> {
        self.by_digest.get(&digest(key)).cloned()
    }
}

fn valid_tenant(tenant: &str) -> bool {
    (1..=64).contains(&tenant.len())
        && tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// What anyone may fetch: nothing tenant-owned is behind it. (GraphQL
/// subscriptions authenticate in `connection_init`.)
fn is_public(parts: &Parts) -> bool {
    let path = parts.uri.path();
    matches!(
        path,
        "/api/v1/health" | "/api/v1/openapi.json" | "/docs" | "/graphql/ws"
    ) || (path == "/graphql" && parts.method == axum::http::Method::GET)
}

/// What only operators may do, because it changes or reveals the whole
/// server rather than one tenant's share of it. One table, so the policy
/// can be read in one place.
fn operator_only(method: &Method, path: &str) -> Option<&'static str> {
    let changes = *method != Method::GET;
    match path {
        p if p.starts_with("/api/v1/plugins") && changes => Some("loading and unloading plugins"),
        "/api/v1/storage/stats" => Some("storage-wide statistics"),
        "/api/v1/storage/tiers/migrate" => Some("tier migration"),
        "/api/v1/storage/tier-policy" if changes => Some("the tier policy"),
        "/metrics" | "/api/v1/ws/metrics" => Some("server metrics"),
        "/api/v1/ws/status" | "/api/v1/ws/broadcast" => Some("WebSocket management"),
        p if p.starts_with("/api/v1/ws/connections")
            || p.starts_with("/api/v1/ws/subscriptions") =>
        {
            Some("WebSocket management")
        }
        _ => None,
    }
}

/// The key a request shows, and its URI without `access_token` (so the
/// handlers' own query parsing never sees it).
fn presented_key(parts: &Parts) -> (Option<String>, Option<Uri>) {
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|k| k.trim().to_owned());
    let Some(query) = parts.uri.query() else {
        return (bearer, None);
    };
    let mut key = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            if !pair.starts_with("access_token=") {
                return true;
            }
            // Percent- and '+'-decoded, as browsers encode query values.
            key = form_urlencoded::parse(pair.as_bytes())
                .next()
                .map(|(_, value)| value.into_owned());
            false
        })
        .collect();
    if key.is_none() {
        return (bearer, None);
    }
    let path_and_query = if rest.is_empty() {
        parts.uri.path().to_owned()
    } else {
        format!("{}?{}", parts.uri.path(), rest.join("&"))
    };
    let uri = Uri::builder().path_and_query(path_and_query).build().ok();
    (bearer.or(key), uri)
}

fn unauthorized(message: &str) -> Response {
    let mut response =
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    response
}

/// Middleware: resolves the caller and puts its [`Principal`] into the
/// request's extensions, or answers 401.
pub(crate) async fn authenticate(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let principal = match &state.api_keys {
        None => Some(Principal {
            tenant: state.default_tenant.clone(),
            operator: true,
        }),
        Some(keys) => {
            let (key, stripped) = presented_key(&parts);
            if let Some(uri) = stripped {
                parts.uri = uri;
            }
            match key {
                Some(key) => match keys.check(&key) {
                    Some(principal) => Some(principal),
                    None => return unauthorized("this API key is not known to the server"),
                },
                None if is_public(&parts) => None,
                None => {
                    return unauthorized(
                        "send an API key: `Authorization: Bearer <key>` (or `?access_token=<key>` where headers cannot be set)",
                    );
                }
            }
        }
    };
    if let Some(principal) = principal {
        if !principal.operator
            && let Some(what) = operator_only(&parts.method, parts.uri.path())
        {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("{what} is for operators; use a key marked 'operator' in --api-keys"),
            )
            .into_response();
        }
        parts.extensions.insert(principal);
    }
    next.run(Request::from_parts(parts, body)).await
}

/// Resolves a key sent in-band (GraphQL's `connection_init`).
pub(crate) fn check_key(state: &AppState, key: &str) -> Option<Principal> {
    match &state.api_keys {
        None => Some(Principal {
            tenant: state.default_tenant.clone(),
            operator: true,
        }),
        Some(keys) => keys.check(key),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Self>().cloned().ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "send an API key: `Authorization: Bearer <key>`",
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_file_lines_become_principals() {
        let keys = ApiKeys::parse(
            "# who may call\nacme  acme-key-0123456789\n\nops ops-key-0123456789abc operator # the on-call\n",
        )
        .expect("valid file");
        let acme = keys.check("acme-key-0123456789").expect("acme's key");
        assert_eq!((acme.tenant.as_str(), acme.operator), ("acme", false));
        let ops = keys.check("ops-key-0123456789abc").expect("ops' key");
        assert!(ops.operator);
        assert!(keys.check("acme-key-012345678").is_none());
    }

    #[test]
    fn bad_keys_files_name_the_line() {
        for (text, line) in [
            ("acme short", 1),
            ("ok ok-key-0123456789\nbad/tenant key-0123456789abcdef", 2),
            ("acme acme-key-0123456789 admin", 1),
            ("a k-0123456789abcdef\nb k-0123456789abcdef", 2),
        ] {
            match ApiKeys::parse(text) {
                Err(ApiKeysError::Line { line: at, .. }) => assert_eq!(at, line, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(matches!(
            ApiKeys::parse("# nothing\n"),
            Err(ApiKeysError::Empty)
        ));
    }

    #[test]
    fn access_tokens_are_taken_out_of_the_query() {
        let request = axum::http::Request::builder()
            .uri("/api/v1/ws/storage/io?interval_ms=500&access_token=abc")
            .body(())
            .expect("request");
        let (parts, ()) = request.into_parts();
        let (key, uri) = presented_key(&parts);
        assert_eq!(key.as_deref(), Some("abc"));
        assert_eq!(
            uri.map(|u| u.to_string()).as_deref(),
            Some("/api/v1/ws/storage/io?interval_ms=500")
        );
        let request = axum::http::Request::builder()
            .uri("/api/v1/ws?access_token=a%2Bb%3Dc")
            .body(())
            .expect("request");
        let (parts, ()) = request.into_parts();
        let (key, uri) = presented_key(&parts);
        assert_eq!(key.as_deref(), Some("a+b=c"));
        assert_eq!(uri.map(|u| u.to_string()).as_deref(), Some("/api/v1/ws"));
    }
}
