//! Query-string parameters, decoded (`+` is a space), with typed getters that answer
//! `ParameterInvalid` for bad values. Booleans are read case-insensitively (`True` / `true`).

use percent_encoding::percent_decode_str;

use crate::SlsError;

/// The decoded parameters of a request, in the order sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params(pub Vec<(String, String)>);

fn decode(s: &str) -> String {
    percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

impl Params {
    /// Parses a raw query string.
    pub fn parse(query: Option<&str>) -> Self {
        Params(
            query
                .unwrap_or("")
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (decode(k), decode(v))
                })
                .collect(),
        )
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// An integer, or `default` when absent or empty.
    pub fn int(&self, name: &str, default: i64) -> Result<i64, SlsError> {
        match self.get(name).map(str::trim) {
            None | Some("") => Ok(default),
            Some(v) => v.parse().map_err(|_| {
                SlsError::ParameterInvalid(format!("the parameter {name} is invalid: {v}"))
            }),
        }
    }

    /// A required integer.
    pub fn required_int(&self, name: &str) -> Result<i64, SlsError> {
        match self.get(name).map(str::trim) {
            None | Some("") => Err(SlsError::ParameterInvalid(format!(
                "the parameter {name} is required"
            ))),
            Some(_) => self.int(name, 0),
        }
    }

    /// A boolean (`true`/`false`, any case), or `default`.
    pub fn boolean(&self, name: &str, default: bool) -> Result<bool, SlsError> {
        match self.get(name).map(str::trim) {
            None | Some("") => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(SlsError::ParameterInvalid(format!(
                "the parameter {name} is invalid: {v}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_types() {
        let p = Params::parse(Some(
            "query=level%3A+INFO&cursor=MA%3D%3D&reverse=False&line=10&empty=&flag",
        ));
        assert_eq!(p.get("query"), Some("level: INFO"));
        assert_eq!(p.get("cursor"), Some("MA=="));
        assert!(!p.boolean("reverse", true).unwrap());
        assert_eq!(p.int("line", 100).unwrap(), 10);
        assert_eq!(p.int("offset", 0).unwrap(), 0);
        assert_eq!(p.get("flag"), Some(""));
        assert!(p.required_int("from").is_err());
        assert!(Params::parse(Some("line=x")).int("line", 1).is_err());
    }
}
