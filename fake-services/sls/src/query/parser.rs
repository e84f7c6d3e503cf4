//! Builds an [`Expr`] from tokens: `or` binds loosest, then `and` (also implicit between terms,
//! and `a not b` = `a and not b`), then `not`; parentheses group. Keywords are case-insensitive.

use super::lexer::{Token, lex};
use super::{CompareOp, Expr, Term};
use crate::SlsError;

/// Deepest nesting of parentheses and `not`s accepted.
const MAX_DEPTH: usize = 64;

/// Parses the search part of a query (empty or `*`: every log).
pub fn parse_search(text: &str) -> Result<Expr, SlsError> {
    let tokens = lex(text)?;
    if tokens.is_empty() {
        return Ok(Expr::All);
    }
    let mut p = Parser { tokens, pos: 0 };
    let e = p.or(0)?;
    match p.peek() {
        None => Ok(e),
        Some(t) => Err(invalid(format!("unexpected {}", describe(t)))),
    }
}

fn invalid(msg: String) -> SlsError {
    SlsError::ParameterInvalid(format!("invalid query: {msg}"))
}

fn describe(t: &Token) -> String {
    match t {
        Token::Word(w) => format!("'{w}'"),
        Token::Quoted(q) => format!("\"{q}\""),
        Token::Colon => "':'".into(),
        Token::Open => "'('".into(),
        Token::Close => "')'".into(),
        Token::OpenBracket => "'['".into(),
        Token::CloseBracket => "']'".into(),
        Token::Op(o) => format!("'{o}'"),
    }
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

fn is_keyword(t: Option<&Token>, kw: &str) -> bool {
    matches!(t, Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw))
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek_at(&self, n: usize) -> Option<&Token> {
        self.tokens.get(self.pos + n)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    fn or(&mut self, depth: usize) -> Result<Expr, SlsError> {
        let mut left = self.and(depth)?;
        while is_keyword(self.peek(), "or") {
            self.next();
            let right = self.and(depth)?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self, depth: usize) -> Result<Expr, SlsError> {
        let mut left = self.unary(depth)?;
        loop {
            match self.peek() {
                None | Some(Token::Close) => break,
                t if is_keyword(t, "or") => break,
                t if is_keyword(t, "and") => {
                    self.next();
                }
                _ => {}
            }
            let right = self.unary(depth)?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, SlsError> {
        if depth > MAX_DEPTH {
            return Err(invalid("nested too deeply".into()));
        }
        if is_keyword(self.peek(), "not") {
            self.next();
            let inner = self.unary(depth + 1)?;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.primary(depth)
    }

    fn primary(&mut self, depth: usize) -> Result<Expr, SlsError> {
        match self.next() {
            None => Err(invalid("a term is missing at the end".into())),
            Some(Token::Open) => {
                let e = self.or(depth + 1)?;
                match self.next() {
                    Some(Token::Close) => Ok(e),
                    _ => Err(invalid("missing ')'".into())),
                }
            }
            Some(Token::Word(w)) => self.after_word(w),
            Some(Token::Quoted(q)) => {
                if self.peek() == Some(&Token::Colon) {
                    self.next();
                    self.field_value(q)
                } else {
                    Ok(Expr::Text(Term { text: q }))
                }
            }
            Some(t) => Err(invalid(format!("unexpected {}", describe(&t)))),
        }
    }

    fn after_word(&mut self, w: String) -> Result<Expr, SlsError> {
        if ["and", "or"].iter().any(|k| w.eq_ignore_ascii_case(k)) {
            return Err(invalid(format!("'{w}' needs a term on both sides")));
        }
        match self.peek() {
            Some(Token::Colon) => {
                self.next();
                // `__tag__:name: value` names a tag field.
                if w == "__tag__"
                    && matches!(self.peek(), Some(Token::Word(_)))
                    && self.peek_at(1) == Some(&Token::Colon)
                {
                    let Some(Token::Word(tag)) = self.next() else {
                        return Err(invalid("tag name expected".into()));
                    };
                    self.next();
                    return self.field_value(format!("__tag__:{tag}"));
                }
                self.field_value(w)
            }
            Some(Token::Op(op)) => {
                let op = *op;
                self.next();
                let value = self.number()?;
                let op = match op {
                    ">" => CompareOp::Gt,
                    ">=" => CompareOp::Ge,
                    "<" => CompareOp::Lt,
                    "<=" => CompareOp::Le,
                    _ => CompareOp::Eq,
                };
                Ok(Expr::Compare { key: w, op, value })
            }
            t if is_keyword(t, "in")
                && matches!(self.peek_at(1), Some(Token::OpenBracket | Token::Open)) =>
            {
                self.next();
                let low_inclusive = self.next() == Some(Token::OpenBracket);
                let low = self.number()?;
                let high = self.number()?;
                let high_inclusive = match self.next() {
                    Some(Token::CloseBracket) => true,
                    Some(Token::Close) => false,
                    _ => return Err(invalid("a range ends with ']' or ')'".into())),
                };
                Ok(Expr::Range {
                    key: w,
                    low,
                    low_inclusive,
                    high,
                    high_inclusive,
                })
            }
            _ if w == "*" => Ok(Expr::All),
            _ => Ok(Expr::Text(Term { text: w })),
        }
    }

    fn field_value(&mut self, key: String) -> Result<Expr, SlsError> {
        match self.next() {
            Some(Token::Word(v)) if v == "*" => Ok(Expr::Exists(key)),
            Some(Token::Word(v)) | Some(Token::Quoted(v)) => Ok(Expr::Field {
                key,
                term: Term { text: v },
            }),
            Some(t) => Err(invalid(format!(
                "a value is expected after '{key}:', not {}",
                describe(&t)
            ))),
            None => Err(invalid(format!("a value is expected after '{key}:'"))),
        }
    }

    fn number(&mut self) -> Result<f64, SlsError> {
        match self.next() {
            Some(Token::Word(w)) => w
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .ok_or_else(|| invalid(format!("'{w}' is not a number"))),
            Some(t) => Err(invalid(format!(
                "a number is expected, not {}",
                describe(&t)
            ))),
            None => Err(invalid("a number is expected".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t: &str) -> Expr {
        Expr::Text(Term { text: t.into() })
    }
    fn and(a: Expr, b: Expr) -> Expr {
        Expr::And(Box::new(a), Box::new(b))
    }
    fn or(a: Expr, b: Expr) -> Expr {
        Expr::Or(Box::new(a), Box::new(b))
    }
    fn not(a: Expr) -> Expr {
        Expr::Not(Box::new(a))
    }

    #[test]
    fn precedence_and_implicit_and() {
        assert_eq!(
            parse_search("a b OR c").unwrap(),
            or(and(text("a"), text("b")), text("c"))
        );
        assert_eq!(
            parse_search("a and (b or c)").unwrap(),
            and(text("a"), or(text("b"), text("c")))
        );
        assert_eq!(
            parse_search("a not b").unwrap(),
            and(text("a"), not(text("b")))
        );
        assert_eq!(parse_search("NOT a").unwrap(), not(text("a")));
        assert_eq!(parse_search("*").unwrap(), Expr::All);
    }

    #[test]
    fn fields_tags_numbers_and_ranges() {
        assert_eq!(
            parse_search("level: INFO").unwrap(),
            Expr::Field {
                key: "level".into(),
                term: Term {
                    text: "INFO".into()
                }
            }
        );
        assert_eq!(
            parse_search("__tag__:__hostname__: h1").unwrap(),
            Expr::Field {
                key: "__tag__:__hostname__".into(),
                term: Term { text: "h1".into() }
            }
        );
        assert_eq!(parse_search("k: *").unwrap(), Expr::Exists("k".into()));
        assert_eq!(
            parse_search("latency >= 10.5").unwrap(),
            Expr::Compare {
                key: "latency".into(),
                op: CompareOp::Ge,
                value: 10.5
            }
        );
        assert_eq!(
            parse_search("latency in [100 200)").unwrap(),
            Expr::Range {
                key: "latency".into(),
                low: 100.0,
                low_inclusive: true,
                high: 200.0,
                high_inclusive: false
            }
        );
    }

    #[test]
    fn rejects_broken_queries() {
        for bad in [
            "a and",
            "or b",
            "(a",
            "a)",
            "k:",
            "k >",
            "k > x",
            "k in [1 2",
            ":",
        ] {
            assert!(
                matches!(parse_search(bad), Err(SlsError::ParameterInvalid(_))),
                "{bad}"
            );
        }
        let deep = format!("{}a{}", "(".repeat(500), ")".repeat(500));
        assert!(parse_search(&deep).is_err());
        let nots = format!("{}a", "not ".repeat(500));
        assert!(parse_search(&nots).is_err());
    }
}
