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
#[derive(Clone, Default)]
pub struct Headers {
    /// Every name and value, back to back (the text: for a response, its
    /// head as it came), then the table: where each field's name and value
    /// are in the text, [`ENTRY`] bytes a field. One allocation for a whole
    /// response head. A removed field leaves its text behind: headers are
    /// small and short-lived.
    bytes: Vec<u8>,
    /// Where the table starts in `bytes`.
    text_len: usize,
}

/// Where one field's name and value are in the text of `Headers::bytes`.
#[derive(Clone, Copy, Debug)]
struct Field {
    name: (u32, u32),
    value: (u32, u32),
}

/// The bytes of one table entry: four little-endian `u32`s.
const ENTRY: usize = 16;

impl Field {
    fn encode(self) -> [u8; ENTRY] {
        let mut out = [0u8; ENTRY];
        let words = [self.name.0, self.name.1, self.value.0, self.value.1];
        for (slot, word) in out.chunks_exact_mut(4).zip(words) {
            slot.copy_from_slice(&word.to_le_bytes());
        }
        out
    }

    /// `entry` is a chunk of the table (`ENTRY` bytes; a shorter one reads
    /// as zeros, never as a panic).
    fn decode(entry: &[u8]) -> Field {
        let word = |at: usize| {
            entry
                .get(at..at + 4)
                .and_then(|word| <[u8; 4]>::try_from(word).ok())
                .map_or(0, u32::from_le_bytes)
        };
        Field {
            name: (word(0), word(4)),
            value: (word(8), word(12)),
        }
    }
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
        find(self.text(), &mut self.table(), name.as_bytes())
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
    pub fn get_all<'a>(&'a self, name: &'a str) -> GetAll<'a> {
        GetAll {
            text: self.text(),
            table: self.table(),
            name,
        }
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
    /// value with a control byte other than tab — CR, LF and NUL (the
    /// bytes of header injection) among them.
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
        self.push_unchecked(name, value);
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
        self.push_unchecked(name, value);
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
        let before = self.len();
        let split = self.text_len.min(self.bytes.len());
        let (text, table) = self.bytes.split_at_mut(split);
        let mut kept = 0;
        for at in (0..before).map(|i| i * ENTRY) {
            let field = Field::decode(&table[at..at + ENTRY]);
            if !span(text, field.name).eq_ignore_ascii_case(name.as_bytes()) {
                table.copy_within(at..at + ENTRY, kept * ENTRY);
                kept += 1;
            }
        }
        self.bytes.truncate(self.text_len + kept * ENTRY);
        kept != before
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
    pub fn iter(&self) -> Fields<'_> {
        Fields {
            text: self.text(),
            table: self.table(),
        }
    }

    /// How many fields (counting repeats).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(corio::http::Headers::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.bytes.len().saturating_sub(self.text_len) / ENTRY
    }

    /// No fields at all?
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(corio::http::Headers::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.bytes.len() <= self.text_len
    }

    /// The names and values.
    fn text(&self) -> &[u8] {
        self.bytes.get(..self.text_len).unwrap_or_default()
    }

    /// Where each field is in the text.
    fn table(&self) -> std::slice::ChunksExact<'_, u8> {
        self.bytes
            .get(self.text_len..)
            .unwrap_or_default()
            .chunks_exact(ENTRY)
    }

    /// The fields of a parsed head: `head` is the head's bytes and every
    /// name and value a slice of it (as `httparse` gives them). The head is
    /// copied once; each field is kept as its place in the copy.
    pub(crate) fn from_head<'a>(
        head: &'a [u8],
        fields: impl ExactSizeIterator<Item = (&'a [u8], &'a [u8])>,
    ) -> Headers {
        // Places are `u32`s: a head longer than that (far beyond any
        // `max_head_bytes` worth setting) keeps no fields rather than
        // wrong ones.
        let mut headers = Headers::for_head(head, fields.len());
        for (name, value) in fields {
            headers.push_from_head(head, name, value);
        }
        headers
    }

    /// The headers of a parsed head, with no fields yet (room for
    /// `fields` of them): add them with [`push_from_head`](Self::push_from_head).
    pub(crate) fn for_head(head: &[u8], fields: usize) -> Headers {
        // Places are `u32`s: a head longer than that (far beyond any
        // `max_head_bytes` worth setting) keeps no fields rather than
        // wrong ones.
        if u32::try_from(head.len()).is_err() {
            return Headers::default();
        }
        let mut bytes = Vec::with_capacity(head.len() + fields.saturating_mul(ENTRY));
        bytes.extend_from_slice(head);
        Headers {
            bytes,
            text_len: head.len(),
        }
    }

    /// Adds a field of the head `self` was made [`for_head`](Self::for_head):
    /// `name` and `value` are slices of `head`.
    #[inline]
    pub(crate) fn push_from_head(&mut self, head: &[u8], name: &[u8], value: &[u8]) {
        if self.text_len != head.len() {
            return; // a head too long for places (`for_head`)
        }
        let base = head.as_ptr() as usize;
        // Where `part` starts in `head`: it is a slice of it. (Were it not,
        // the place would be wrong, not dangerous: `span` checks every
        // place it reads.)
        let place = |part: &[u8]| {
            let at = (part.as_ptr() as usize).wrapping_sub(base);
            (at as u32, part.len() as u32)
        };
        let field = Field {
            name: place(name),
            value: place(value),
        };
        self.bytes.extend_from_slice(&field.encode());
    }

    /// Adds a field that a parser already checked (the name is a token,
    /// so ASCII).
    pub(crate) fn push_unchecked(&mut self, name: &str, value: &[u8]) {
        let at = |len: usize| u32::try_from(len).unwrap_or(u32::MAX);
        let text_len = self.text_len;
        let field = Field {
            name: (at(text_len), at(name.len())),
            value: (at(text_len + name.len()), at(value.len())),
        };
        // The text grows at its end, before the table.
        self.bytes.extend_from_slice(name.as_bytes());
        self.bytes.extend_from_slice(value);
        let added = name.len() + value.len();
        self.bytes[text_len..].rotate_right(added);
        self.text_len += added;
        self.bytes.extend_from_slice(&field.encode());
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

fn span(bytes: &[u8], (at, len): (u32, u32)) -> &[u8] {
    let (at, len) = (at as usize, len as usize);
    bytes.get(at..at.saturating_add(len)).unwrap_or_default()
}

/// The value of the next field in `table` called `name` (any case).
fn find<'a>(
    text: &'a [u8],
    table: &mut std::slice::ChunksExact<'_, u8>,
    name: &[u8],
) -> Option<&'a [u8]> {
    table.find_map(|entry| {
        let field = Field::decode(entry);
        // (Compared as bytes: no UTF-8 check on the way.)
        span(text, field.name)
            .eq_ignore_ascii_case(name)
            .then(|| span(text, field.value))
    })
}

fn field_name<'a>(text: &'a [u8], field: &Field) -> &'a str {
    // Names are checked tokens, so ASCII; the fallback is never taken.
    std::str::from_utf8(span(text, field.name)).unwrap_or_default()
}

/// The fields of [`Headers`] in order, as (name, value): from
/// [`Headers::iter`], or `for (name, value) in &headers`.
///
/// # Examples
///
/// ```
/// let mut headers = corio::http::Headers::new();
/// headers.append("A", "1").unwrap();
/// let mut fields: corio::http::Fields<'_> = headers.iter();
/// assert_eq!(fields.next(), Some(("A", &b"1"[..])));
/// assert_eq!(fields.next(), None);
/// ```
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    text: &'a [u8],
    table: std::slice::ChunksExact<'a, u8>,
}

impl<'a> Iterator for Fields<'a> {
    type Item = (&'a str, &'a [u8]);

    fn next(&mut self) -> Option<(&'a str, &'a [u8])> {
        let field = Field::decode(self.table.next()?);
        Some((field_name(self.text, &field), span(self.text, field.value)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.table.size_hint()
    }
}

impl ExactSizeIterator for Fields<'_> {}

/// # Examples
///
/// ```
/// let mut headers = corio::http::Headers::new();
/// headers.append("Via", "a").unwrap();
/// let mut seen = Vec::new();
/// for (name, value) in &headers {
///     seen.push((name.to_owned(), value.to_vec()));
/// }
/// assert_eq!(seen, [("Via".to_owned(), b"a".to_vec())]);
/// ```
impl<'a> IntoIterator for &'a Headers {
    type Item = (&'a str, &'a [u8]);
    type IntoIter = Fields<'a>;

    fn into_iter(self) -> Fields<'a> {
        self.iter()
    }
}

/// The values of one field name, in order: from [`Headers::get_all`].
///
/// # Examples
///
/// ```
/// let mut headers = corio::http::Headers::new();
/// headers.append("Via", "a").unwrap();
/// headers.append("X", "b").unwrap();
/// headers.append("via", "c").unwrap();
/// let vias: corio::http::GetAll<'_> = headers.get_all("via");
/// assert_eq!(vias.collect::<Vec<_>>(), [&b"a"[..], &b"c"[..]]);
/// ```
#[derive(Debug, Clone)]
pub struct GetAll<'a> {
    text: &'a [u8],
    table: std::slice::ChunksExact<'a, u8>,
    name: &'a str,
}

impl<'a> Iterator for GetAll<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        find(self.text, &mut self.table, self.name.as_bytes())
    }
}

/// Equal when the fields, in order, are equal (names compared as given).
impl PartialEq for Headers {
    fn eq(&self, other: &Headers) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Headers {}

/// The fields that carry credentials: hidden by `Debug`, and not carried
/// to another origin by a redirect.
pub(crate) const CREDENTIALS: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];

/// Shows every field, except the values of credentials
/// (`Authorization`, `Proxy-Authorization`, `Cookie`): a debug line or a
/// log should not leak them.
///
/// ```
/// let mut headers = corio::http::Headers::new();
/// headers.append("Accept", "*/*").unwrap();
/// headers.append("authorization", "Bearer s3cret").unwrap();
/// assert_eq!(
///     format!("{headers:?}"),
///     r#"{"Accept": "*/*", "authorization": "<redacted>"}"#
/// );
/// assert_eq!(headers.get_str("Authorization"), Some("Bearer s3cret"));
/// ```
impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(name, value)| {
                let secret = CREDENTIALS.iter().any(|s| name.eq_ignore_ascii_case(s));
                let shown = if secret {
                    std::borrow::Cow::Borrowed("<redacted>")
                } else {
                    String::from_utf8_lossy(value)
                };
                (name, shown)
            }))
            .finish()
    }
}

/// A header name must be a token (RFC 9110 §5.1): letters, digits and
/// ``!#$%&'*+-.^_`|~``.
fn check_name(name: &str) -> Result<(), Error> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(Error::new(
            ErrorKind::InvalidRequest,
            format!("header name {name:?} is not an HTTP token (letters, digits, !#$%&'*+-.^_`|~)"),
        ));
    }
    Ok(())
}

/// A header value may hold visible bytes, bytes from 0x80, space and tab
/// (RFC 9110 §5.5) — no other control byte. CR, LF and NUL above all: with
/// them a value could end the header early and smuggle in fields (or a
/// whole request); the others make a request a careful server refuses.
fn check_value(name: &str, value: &[u8]) -> Result<(), Error> {
    if let Some(&byte) = value
        .iter()
        .find(|&&b| (b < 0x20 && b != b'\t') || b == 0x7f)
    {
        return Err(Error::new(
            ErrorKind::InvalidRequest,
            format!(
                "the value of header {name:?} contains the control byte {byte:#04x}; \
                 refused before sending"
            ),
        ));
    }
    Ok(())
}
