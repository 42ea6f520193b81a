use std::fmt;

use bytes::Bytes;

macro_rules! header_names {
    ($( $variant:ident => $long:literal $(, $compact:literal)? ;)*) => {
        /// A header field name. Known names (and their RFC 3261 §7.3.3 compact forms) map to variants so
        /// lookups are comparisons of small integers; any other name is kept verbatim.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum HeaderName {
            $( $variant, )*
            Other(Box<str>),
        }

        impl HeaderName {
            /// The canonical long form, used when printing.
            pub fn as_str(&self) -> &str {
                match self {
                    $( HeaderName::$variant => $long, )*
                    HeaderName::Other(s) => s,
                }
            }

            /// Maps a received name (any case, long or compact) to a `HeaderName`.
            pub fn from_bytes(name: &[u8]) -> HeaderName {
                $(
                    if name.eq_ignore_ascii_case($long.as_bytes()) $( || name.eq_ignore_ascii_case($compact.as_bytes()) )? {
                        return HeaderName::$variant;
                    }
                )*
                HeaderName::Other(String::from_utf8_lossy(name).into())
            }
        }
    };
}

header_names! {
    Via => "Via", "v";
    From => "From", "f";
    To => "To", "t";
    CallId => "Call-ID", "i";
    CSeq => "CSeq";
    Contact => "Contact", "m";
    MaxForwards => "Max-Forwards";
    ContentLength => "Content-Length", "l";
    ContentType => "Content-Type", "c";
    ContentEncoding => "Content-Encoding", "e";
    Expires => "Expires";
    MinExpires => "Min-Expires";
    Authorization => "Authorization";
    ProxyAuthorization => "Proxy-Authorization";
    WwwAuthenticate => "WWW-Authenticate";
    ProxyAuthenticate => "Proxy-Authenticate";
    AuthenticationInfo => "Authentication-Info";
    Require => "Require";
    ProxyRequire => "Proxy-Require";
    Supported => "Supported", "k";
    Unsupported => "Unsupported";
    Allow => "Allow";
    Accept => "Accept";
    AcceptEncoding => "Accept-Encoding";
    AcceptLanguage => "Accept-Language";
    Route => "Route";
    RecordRoute => "Record-Route";
    UserAgent => "User-Agent";
    Server => "Server";
    Subject => "Subject", "s";
    Event => "Event", "o";
    AllowEvents => "Allow-Events", "u";
    ReferTo => "Refer-To", "r";
    ReferredBy => "Referred-By", "b";
    SessionExpires => "Session-Expires", "x";
    RetryAfter => "Retry-After";
    Date => "Date";
    Timestamp => "Timestamp";
    Warning => "Warning";
    Path => "Path";
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A header value as received (unfolded, surrounding whitespace trimmed). It is a cheap slice of the
/// datagram when the line was not folded. Bytes that are not UTF-8 are kept as they came.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HeaderValue(Bytes);

impl HeaderValue {
    pub fn from_bytes(b: Bytes) -> Self {
        HeaderValue(b)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The value as text, if it is UTF-8.
    pub fn to_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }
}

impl From<String> for HeaderValue {
    fn from(s: String) -> Self {
        HeaderValue(Bytes::from(s))
    }
}

impl From<&'static str> for HeaderValue {
    fn from(s: &'static str) -> Self {
        HeaderValue(Bytes::from_static(s.as_bytes()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: HeaderName,
    pub value: HeaderValue,
}

/// Header fields in the order received. Multiple fields with one name stay separate entries; list-valued
/// grammars (Via, Contact, Route…) split commas when they are parsed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Headers(pub Vec<Header>);

impl Headers {
    pub fn iter(&self) -> impl Iterator<Item = &Header> {
        self.0.iter()
    }

    pub fn get(&self, name: &HeaderName) -> Option<&HeaderValue> {
        self.0.iter().find(|h| &h.name == name).map(|h| &h.value)
    }

    pub fn get_all<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a HeaderValue> + 'a {
        self.0.iter().filter(move |h| &h.name == name).map(|h| &h.value)
    }

    pub fn count(&self, name: &HeaderName) -> usize {
        self.0.iter().filter(|h| &h.name == name).count()
    }

    pub fn push(&mut self, name: HeaderName, value: impl Into<HeaderValue>) {
        self.0.push(Header {
            name,
            value: value.into(),
        });
    }

    /// Replaces every field named `name` with one field (appended if absent, in place of the first otherwise).
    pub fn set(&mut self, name: HeaderName, value: impl Into<HeaderValue>) {
        let value = value.into();
        match self.0.iter().position(|h| h.name == name) {
            Some(i) => {
                self.0[i].value = value;
                let mut idx = 0;
                self.0.retain(|h| {
                    idx += 1;
                    idx - 1 == i || h.name != name
                });
            }
            None => self.push(name, value),
        }
    }

    pub fn remove_all(&mut self, name: &HeaderName) {
        self.0.retain(|h| &h.name != name);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
