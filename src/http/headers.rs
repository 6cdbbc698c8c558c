//! `Headers`: an ordered list of (name, value) pairs. Names keep the case
//! they came with and are compared without it; values are bytes, because
//! HTTP does not promise they are UTF-8.

use std::fmt;

use super::error::{Error, ErrorKind};

/// HTTP header fields, in the order they were given. Lookup ignores the
/// case of names; values are kept as bytes (`get_str` gives a `&str` view
/// of the ones that are UTF-8).
///
/// # Examples
///
/// ```
/// use corio::http::Headers;
///
/// let mut headers = Headers::new();
/// headers.append("Content-Type", "text/html").unwrap();
/// headers.append("Set-Cookie", "a=1").unwrap();
/// headers.append("set-cookie", "b=2").unwrap();
/// assert_eq!(headers.get("content-type"), Some(&b"text/html"[..]));
/// assert_eq!(headers.get_str("CONTENT-TYPE"), Some("text/html"));
/// assert_eq!(headers.get_all("Set-Cookie").count(), 2);
/// assert!(headers.append("X-Evil", "a\r\nInjected: yes").is_err());
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(String, Vec<u8>)>,
}

impl Headers {
    /// No headers.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(corio::http::Headers::new().is_empty());
    /// ```
    pub fn new() -> Headers {
        Headers::default()
    }

    /// The first value of `name` (any case), as bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut headers = corio::http::Headers::new();
    /// headers.append("ETag", b"\"x\"").unwrap();
    /// assert_eq!(headers.get("etag"), Some(&b"\"x\""[..]));
    /// assert_eq!(headers.get("age"), None);
    /// ```
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.entries
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// The first value of `name`, if it is valid UTF-8.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut headers = corio::http::Headers::new();
    /// headers.append("Server", "demo").unwrap();
    /// headers.append("X-Bytes", &[0xff, 0xfe][..]).unwrap();
    /// assert_eq!(headers.get_str("server"), Some("demo"));
    /// assert_eq!(headers.get_str("x-bytes"), None); // not UTF-8: use `get`
    /// ```
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Every value of `name`, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut headers = corio::http::Headers::new();
    /// headers.append("Via", "a").unwrap();
    /// headers.append("via", "b").unwrap();
    /// let all: Vec<&[u8]> = headers.get_all("VIA").collect();
    /// assert_eq!(all, [&b"a"[..], &b"b"[..]]);
    /// ```
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.entries
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Is there a field called `name`?
    ///
    /// # Examples
    ///
    /// ```
    /// let mut headers = corio::http::Headers::new();
    /// headers.append("Host", "example.com").unwrap();
    /// assert!(headers.contains("host"));
    /// ```
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Adds a field after the others. Refuses (with
    /// [`ErrorKind::InvalidRequest`]) a name that is not an HTTP token and a
    /// value containing CR, LF or NUL — the bytes of header injection.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut headers = corio::http::Headers::new();
    /// headers.append("Accept", "text/html").unwrap();
    /// assert!(headers.append("Bad Name", "x").is_err());
    /// assert!(headers.append("X", "a\nb").is_err());
    /// assert_eq!(headers.len(), 1);
    /// ```
    pub fn append(&mut self, name: &str, value: impl AsRef<[u8]>) -> Result<(), Error> {
        let value = value.as_ref();
        check_name(name)?;
        check_value(name, value)?;
        self.entries.push((name.to_owned(), value.to_vec()));
        Ok(())
    }

    /// Replaces every field called `name` by one with `value` (checked as
    /// in [`append`](Self::append)).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut headers = corio::http::Headers::new();
    /// headers.append("Accept", "a").unwrap();
    /// headers.append("accept", "b").unwrap();
    /// headers.insert("ACCEPT", "c").unwrap();
    /// assert_eq!(headers.get_all("accept").collect::<Vec<_>>(), [&b"c"[..]]);
    /// ```
    pub fn insert(&mut self, name: &str, value: impl AsRef<[u8]>) -> Result<(), Error> {
        let value = value.as_ref();
        check_name(name)?;
        check_value(name, value)?;
        self.remove(name);
        self.entries.push((name.to_owned(), value.to_vec()));
        Ok(())
    }

    /// Removes every field called `name`; says whether there was one.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut headers = corio::http::Headers::new();
    /// headers.append("Authorization", "Bearer x").unwrap();
    /// assert!(headers.remove("authorization"));
    /// assert!(!headers.remove("authorization"));
    /// ```
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.entries.len();
        self.entries.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.entries.len() != before
    }

    /// The fields in order, as (name, value).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut headers = corio::http::Headers::new();
    /// headers.append("A", "1").unwrap();
    /// headers.append("B", "2").unwrap();
    /// let names: Vec<&str> = headers.iter().map(|(name, _)| name).collect();
    /// assert_eq!(names, ["A", "B"]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// How many fields (counting repeats).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(corio::http::Headers::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No fields at all?
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(corio::http::Headers::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds a field that a parser already checked.
    pub(crate) fn push_unchecked(&mut self, name: &str, value: &[u8]) {
        self.entries.push((name.to_owned(), value.to_vec()));
    }

    /// Does any `name` field list `token` (comma-separated, any case)?
    /// `Connection: keep-alive, Upgrade` has the tokens `keep-alive` and
    /// `upgrade`.
    pub(crate) fn has_token(&self, name: &str, token: &str) -> bool {
        self.get_all(name).any(|value| {
            value
                .split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
        })
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.entries
                    .iter()
                    .map(|(n, v)| (n, String::from_utf8_lossy(v))),
            )
            .finish()
    }
}

/// A header name must be a token (RFC 9110 §5.1): letters, digits and
/// ``!#$%&'*+-.^_`|~``.
pub(crate) fn check_name(name: &str) -> Result<(), Error> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(Error::new(
            ErrorKind::InvalidRequest,
            format!("header name {name:?} is not an HTTP token (letters, digits, !#$%&'*+-.^_`|~)"),
        ));
    }
    Ok(())
}

/// A header value must not contain CR, LF or NUL: with them, a value could
/// end the header early and smuggle in fields (or a whole request).
pub(crate) fn check_value(name: &str, value: &[u8]) -> Result<(), Error> {
    if value.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(Error::new(
            ErrorKind::InvalidRequest,
            format!("the value of header {name:?} contains CR, LF or NUL; refused before sending"),
        ));
    }
    Ok(())
}
