//! Bucket CORS rules: the configuration PutBucketCors stores, checked as OSS and S3 check it, and
//! the matching of a browser's request (a preflight `OPTIONS` or the actual request) against it.
//!
//! A rule allows a request when its origin matches one `AllowedOrigin`, its method is one of
//! `AllowedMethod`, and (for a preflight) every header named in
//! `Access-Control-Request-Headers` matches one `AllowedHeader`. Origins and headers may hold one
//! `*` wildcard; headers compare without case. The first rule that allows the request answers.

use serde::{Deserialize, Serialize};

use crate::OssError;

/// Rules a bucket may hold on the OSS face.
pub const MAX_RULES_OSS: usize = 10;
/// Rules a bucket may hold on the S3 face.
pub const MAX_RULES_S3: usize = 100;
/// Methods a rule may allow.
const METHODS: &[&str] = &["GET", "PUT", "DELETE", "POST", "HEAD"];

/// A bucket's CORS configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsConfig {
    /// The rules, in the order they were given (the first match answers).
    pub rules: Vec<CorsRule>,
    /// OSS `ResponseVary`: answers carry `Vary: Origin, ...` (S3 always sends it).
    #[serde(default)]
    pub response_vary: Option<bool>,
}

/// One `<CORSRule>`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsRule {
    /// S3's optional `<ID>`.
    #[serde(default)]
    pub id: Option<String>,
    /// Origins allowed (`*`, `http://localhost:3000`, `https://*.example.com`).
    pub allowed_origins: Vec<String>,
    /// Methods allowed, upper case.
    pub allowed_methods: Vec<String>,
    /// Request headers a preflight may announce.
    #[serde(default)]
    pub allowed_headers: Vec<String>,
    /// Response headers the page may read (`Access-Control-Expose-Headers`).
    #[serde(default)]
    pub expose_headers: Vec<String>,
    /// How long a browser may cache the preflight answer.
    #[serde(default)]
    pub max_age_seconds: Option<i64>,
}

impl CorsConfig {
    /// Refuses what the service refuses: no rule, more than `max_rules`, a rule without an
    /// origin or a method, an unknown method, more than one `*` in an origin or header.
    pub fn check(&self, max_rules: usize) -> Result<(), OssError> {
        if self.rules.is_empty() {
            return Err(OssError::MalformedXml(
                "CORSConfiguration needs at least one CORSRule".into(),
            ));
        }
        if self.rules.len() > max_rules {
            return Err(OssError::invalid_argument(
                "CORSRule",
                &self.rules.len().to_string(),
                format!("A CORS configuration holds at most {max_rules} rules."),
            ));
        }
        for rule in &self.rules {
            if rule.allowed_origins.is_empty() || rule.allowed_methods.is_empty() {
                return Err(OssError::MalformedXml(
                    "every CORSRule needs an AllowedOrigin and an AllowedMethod".into(),
                ));
            }
            if let Some(m) = rule
                .allowed_methods
                .iter()
                .find(|m| !METHODS.contains(&m.as_str()))
            {
                return Err(OssError::invalid_argument(
                    "AllowedMethod",
                    m,
                    format!(
                        "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
                    ),
                ));
            }
            for (name, values) in [
                ("AllowedOrigin", &rule.allowed_origins),
                ("AllowedHeader", &rule.allowed_headers),
            ] {
                if let Some(v) = values.iter().find(|v| v.matches('*').count() > 1) {
                    return Err(OssError::invalid_argument(
                        name,
                        v,
                        format!("{name} \"{v}\" can not have more than one wildcard."),
                    ));
                }
            }
            if rule.max_age_seconds.is_some_and(|s| s < 0) {
                return Err(OssError::invalid_argument(
                    "MaxAgeSeconds",
                    &rule.max_age_seconds.unwrap_or_default().to_string(),
                    "MaxAgeSeconds must not be negative.",
                ));
            }
        }
        Ok(())
    }

    /// The first rule allowing `origin` to send `method` with `headers` (lower-case names).
    pub fn find(&self, origin: &str, method: &str, headers: &[String]) -> Option<&CorsRule> {
        self.rules.iter().find(|r| {
            r.allowed_origins
                .iter()
                .any(|o| wildcard_match(o, origin, false))
                && r.allowed_methods.iter().any(|m| m == method)
                && headers.iter().all(|h| {
                    r.allowed_headers
                        .iter()
                        .any(|allowed| wildcard_match(allowed, h, true))
                })
        })
    }
}

/// Whether `value` matches `pattern`, where one `*` stands for any run of characters.
pub fn wildcard_match(pattern: &str, value: &str, ignore_case: bool) -> bool {
    let (pattern, value) = if ignore_case {
        (pattern.to_ascii_lowercase(), value.to_ascii_lowercase())
    } else {
        (pattern.to_string(), value.to_string())
    };
    match pattern.split_once('*') {
        None => pattern == value,
        Some((head, tail)) => {
            value.len() >= head.len() + tail.len()
                && value.starts_with(head)
                && value.ends_with(tail)
        }
    }
}

/// The header names of an `Access-Control-Request-Headers` value, lower case.
pub fn requested_headers(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(origins: &[&str], methods: &[&str], headers: &[&str]) -> CorsRule {
        CorsRule {
            allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
            allowed_methods: methods.iter().map(|s| s.to_string()).collect(),
            allowed_headers: headers.iter().map(|s| s.to_string()).collect(),
            ..CorsRule::default()
        }
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*", "http://localhost:3000", false));
        assert!(wildcard_match(
            "http://*.example.com",
            "http://a.example.com",
            false
        ));
        assert!(!wildcard_match(
            "http://*.example.com",
            "http://example.com",
            false
        ));
        assert!(wildcard_match("x-oss-*", "X-OSS-Meta-A", true));
        assert!(!wildcard_match("http://a", "http://A", false));
    }

    #[test]
    fn the_first_allowing_rule_answers() {
        let c = CorsConfig {
            rules: vec![
                rule(&["http://a"], &["GET"], &[]),
                rule(&["*"], &["PUT", "GET"], &["content-type", "x-oss-*"]),
            ],
            response_vary: None,
        };
        assert_eq!(c.find("http://a", "GET", &[]), Some(&c.rules[0]));
        assert_eq!(
            c.find("http://a", "GET", &["content-type".into()]),
            Some(&c.rules[1])
        );
        assert_eq!(
            c.find(
                "http://b",
                "PUT",
                &requested_headers("Content-Type, X-Oss-Meta-A")
            ),
            Some(&c.rules[1])
        );
        assert_eq!(c.find("http://b", "DELETE", &[]), None);
        assert_eq!(c.find("http://b", "PUT", &["authorization".into()]), None);
    }

    #[test]
    fn bad_configurations_are_refused() {
        let ok = CorsConfig {
            rules: vec![rule(&["*"], &["GET"], &[])],
            response_vary: None,
        };
        assert!(ok.check(MAX_RULES_OSS).is_ok());
        let mut c = ok.clone();
        c.rules[0].allowed_methods = vec!["PATCH".into()];
        assert_eq!(c.check(10).unwrap_err().code(), "InvalidArgument");
        let mut c = ok.clone();
        c.rules[0].allowed_origins = vec!["http://*.*.com".into()];
        assert_eq!(c.check(10).unwrap_err().code(), "InvalidArgument");
        let c = CorsConfig::default();
        assert_eq!(c.check(10).unwrap_err().code(), "MalformedXML");
        let c = CorsConfig {
            rules: vec![ok.rules[0].clone(); 11],
            response_vary: None,
        };
        assert!(c.check(MAX_RULES_OSS).is_err());
        assert!(c.check(MAX_RULES_S3).is_ok());
    }
}
