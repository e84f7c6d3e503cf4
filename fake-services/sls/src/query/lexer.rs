//! Splits the search part of a query into tokens.

use crate::SlsError;

/// One token of a search expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Token {
    /// A bare word (keywords `and` / `or` / `not` / `in` are words too; the parser decides).
    Word(String),
    /// A double-quoted string (or `#"..."` phrase), quotes removed, escapes resolved.
    Quoted(String),
    /// `:`
    Colon,
    /// `(`
    Open,
    /// `)`
    Close,
    /// `[`
    OpenBracket,
    /// `]`
    CloseBracket,
    /// `>`, `>=`, `<`, `<=`, `=`
    Op(&'static str),
}

/// Most tokens a query may have (real SLS allows about 30 conditions).
const MAX_TOKENS: usize = 1000;

/// Tokenizes `text`.
pub fn lex(text: &str) -> Result<Vec<Token>, SlsError> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if out.len() > MAX_TOKENS {
            return Err(SlsError::ParameterInvalid(
                "the query has too many terms".into(),
            ));
        }
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            ':' => {
                chars.next();
                out.push(Token::Colon);
            }
            '(' => {
                chars.next();
                out.push(Token::Open);
            }
            ')' => {
                chars.next();
                out.push(Token::Close);
            }
            '[' => {
                chars.next();
                out.push(Token::OpenBracket);
            }
            ']' => {
                chars.next();
                out.push(Token::CloseBracket);
            }
            '>' | '<' => {
                chars.next();
                let eq = chars.peek() == Some(&'=');
                if eq {
                    chars.next();
                }
                out.push(Token::Op(match (c, eq) {
                    ('>', false) => ">",
                    ('>', true) => ">=",
                    ('<', false) => "<",
                    _ => "<=",
                }));
            }
            '=' => {
                chars.next();
                out.push(Token::Op("="));
            }
            '"' | '#' => {
                chars.next();
                if c == '#' && chars.peek() != Some(&'"') {
                    let mut word = String::from("#");
                    take_word(&mut chars, &mut word);
                    out.push(Token::Word(word));
                    continue;
                }
                if c == '#' {
                    chars.next();
                }
                let mut s = String::new();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                s.push(n);
                            }
                        }
                        '"' => {
                            closed = true;
                            break;
                        }
                        c => s.push(c),
                    }
                }
                if !closed {
                    return Err(SlsError::ParameterInvalid(
                        "the query has an unterminated quoted string".into(),
                    ));
                }
                out.push(Token::Quoted(s));
            }
            _ => {
                let mut word = String::new();
                take_word(&mut chars, &mut word);
                out.push(Token::Word(word));
            }
        }
    }
    Ok(out)
}

fn take_word(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, word: &mut String) {
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() || matches!(c, ':' | '(' | ')' | '"' | '>' | '<' | '=' | '[' | ']') {
            break;
        }
        word.push(c);
        chars.next();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Token::*;

    #[test]
    fn splits_words_symbols_and_strings() {
        assert_eq!(
            lex("level:INFO and (a or \"x \\\" y\") latency>=10").unwrap(),
            vec![
                Word("level".into()),
                Colon,
                Word("INFO".into()),
                Word("and".into()),
                Open,
                Word("a".into()),
                Word("or".into()),
                Quoted("x \" y".into()),
                Close,
                Word("latency".into()),
                Op(">="),
                Word("10".into()),
            ]
        );
        assert_eq!(lex("#\"a b\"").unwrap(), vec![Quoted("a b".into())]);
        assert!(lex("\"open").is_err());
    }
}
