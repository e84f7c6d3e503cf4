//! XML: a small writer for response documents (no namespace for OSS clients, which look
//! elements up without one; the S3 namespace for S3 clients) and a bounded reader that turns a
//! request body into a tree matched by local names (boto3 sends namespaced bodies).

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::OssError;

/// The S3 namespace put on response roots for S3 clients.
pub const S3_NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Builds a response document.
#[derive(Debug)]
pub struct XmlWriter {
    buf: String,
    stack: Vec<&'static str>,
}

impl XmlWriter {
    /// Starts a document with `root`; with `s3`, the root carries the S3 namespace.
    pub fn new(root: &'static str, s3: bool) -> Self {
        let mut buf = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        buf.push('<');
        buf.push_str(root);
        if s3 {
            buf.push_str(" xmlns=\"");
            buf.push_str(S3_NS);
            buf.push('"');
        }
        buf.push('>');
        Self {
            buf,
            stack: vec![root],
        }
    }

    /// Opens a child element.
    pub fn open(&mut self, name: &'static str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(name);
        self.buf.push('>');
        self.stack.push(name);
        self
    }

    /// Closes the innermost open element.
    pub fn close(&mut self) -> &mut Self {
        if let Some(name) = self.stack.pop() {
            self.buf.push_str("</");
            self.buf.push_str(name);
            self.buf.push('>');
        }
        self
    }

    /// A text element.
    pub fn elem(&mut self, name: &str, text: impl AsRef<str>) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(name);
        self.buf.push('>');
        self.buf.push_str(&escape(text.as_ref()));
        self.buf.push_str("</");
        self.buf.push_str(name);
        self.buf.push('>');
        self
    }

    /// Closes everything and returns the document.
    pub fn finish(mut self) -> String {
        while !self.stack.is_empty() {
            self.close();
        }
        self.buf
    }
}

/// A document whose root holds only text (`<LocationConstraint>oss-cn-hangzhou</...>`).
pub fn text_document(root: &'static str, text: &str, s3: bool) -> String {
    let mut w = XmlWriter::new(root, s3);
    w.buf.push_str(&escape(text));
    w.finish()
}

/// Escapes text for XML content; characters XML 1.0 cannot carry are dropped (clients that
/// store such keys ask for `encoding-type=url`).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

/// An element of a parsed request body: local name, text, children.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Element {
    /// Local name (namespace prefix removed).
    pub name: String,
    /// Concatenated text content directly inside the element.
    pub text: String,
    /// Child elements in order.
    pub children: Vec<Element>,
}

impl Element {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child named `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text of the first child named `name`.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }
}

const MAX_DEPTH: usize = 16;
const MAX_ELEMENTS: usize = 50_000;

fn malformed(why: impl std::fmt::Display) -> OssError {
    OssError::MalformedXml(why.to_string())
}

/// Parses a request body into its root element. Never panics; anything unexpected is
/// `MalformedXML`.
pub fn parse(body: &[u8]) -> Result<Element, OssError> {
    let mut reader = Reader::from_reader(body);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    let mut buf = Vec::new();
    loop {
        let ev = reader.read_event_into(&mut buf).map_err(malformed)?;
        match ev {
            Event::Start(e) => {
                if root.is_some() {
                    return Err(malformed("content after the root element"));
                }
                count += 1;
                if stack.len() >= MAX_DEPTH || count > MAX_ELEMENTS {
                    return Err(malformed("document too deep or too large"));
                }
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                stack.push(Element {
                    name,
                    ..Default::default()
                });
            }
            Event::Empty(e) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(malformed("document too large"));
                }
                let el = Element {
                    name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                    ..Default::default()
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None if root.is_none() => root = Some(el),
                    None => return Err(malformed("content after the root element")),
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or_else(|| malformed("unbalanced end tag"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                let s = t.decode().map_err(malformed)?;
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&s),
                    None if s.trim().is_empty() => {}
                    None => return Err(malformed("text outside the root element")),
                }
            }
            Event::CData(t) => {
                let s = t.decode().map_err(malformed)?;
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&s);
                }
            }
            Event::GeneralRef(r) => {
                let resolved = if let Some(c) = r.resolve_char_ref().map_err(malformed)? {
                    c.to_string()
                } else {
                    let name = r.decode().map_err(malformed)?;
                    quick_xml::escape::resolve_predefined_entity(&name)
                        .ok_or_else(|| malformed(format!("unknown entity &{name};")))?
                        .to_string()
                };
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&resolved);
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
        buf.clear();
    }
    if !stack.is_empty() {
        return Err(malformed("unclosed element"));
    }
    root.ok_or_else(|| malformed("empty document"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_namespaced_bodies_by_local_name() {
        let doc = br#"<?xml version="1.0"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a&amp;b</Key></Object><Object><Key>c&#x41;</Key></Object><Quiet>true</Quiet></Delete>"#;
        let root = parse(doc).unwrap();
        assert_eq!(root.name, "Delete");
        let keys: Vec<_> = root
            .all("Object")
            .filter_map(|o| o.text_of("Key"))
            .collect();
        assert_eq!(keys, vec!["a&b", "cA"]);
        assert_eq!(root.text_of("Quiet"), Some("true"));
    }

    #[test]
    fn rejects_broken_documents() {
        for bad in [
            &b""[..],
            b"<a>",
            b"<a></b>",
            b"</a>",
            b"<a/><b/>",
            b"<a>&nope;</a>",
            b"text",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn writes_escaped_documents() {
        let mut w = XmlWriter::new("R", false);
        w.open("A").elem("K", "a<&>\u{1}b").close();
        assert_eq!(
            w.finish(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<R><A><K>a&lt;&amp;&gt;b</K></A></R>"
        );
    }
}
