use std::fmt;

use bytes::Bytes;

macro_rules! header_names {
    ($( $variant:ident => $long:literal, $lower:literal $(, $compact:literal)? ;)*) => {
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
                // Lower-case into a stack buffer once, then one `match`: the compiler dispatches on length
                // and compares bytes, instead of trying every known name in turn.
                let mut buf = [0u8; 24];
                if let Some(lower) = buf.get_mut(..name.len()) {
                    for (d, s) in lower.iter_mut().zip(name) {
                        *d = s.to_ascii_lowercase();
                    }
                    let known = match &*lower {
                        $( $lower $( | $compact )? => Some(HeaderName::$variant), )*
                        _ => None,
                    };
                    if let Some(k) = known {
                        return k;
                    }
                }
                HeaderName::Other(String::from_utf8_lossy(name).into())
            }
        }
    };
}

header_names! {
    Via => "Via", b"via", b"v";
    From => "From", b"from", b"f";
    To => "To", b"to", b"t";
    CallId => "Call-ID", b"call-id", b"i";
    CSeq => "CSeq", b"cseq";
    Contact => "Contact", b"contact", b"m";
    MaxForwards => "Max-Forwards", b"max-forwards";
    ContentLength => "Content-Length", b"content-length", b"l";
    ContentType => "Content-Type", b"content-type", b"c";
    ContentEncoding => "Content-Encoding", b"content-encoding", b"e";
    Expires => "Expires", b"expires";
    MinExpires => "Min-Expires", b"min-expires";
    Authorization => "Authorization", b"authorization";
    ProxyAuthorization => "Proxy-Authorization", b"proxy-authorization";
    WwwAuthenticate => "WWW-Authenticate", b"www-authenticate";
    ProxyAuthenticate => "Proxy-Authenticate", b"proxy-authenticate";
    AuthenticationInfo => "Authentication-Info", b"authentication-info";
    Require => "Require", b"require";
    ProxyRequire => "Proxy-Require", b"proxy-require";
    Supported => "Supported", b"supported", b"k";
    Unsupported => "Unsupported", b"unsupported";
    Allow => "Allow", b"allow";
    Accept => "Accept", b"accept";
    AcceptEncoding => "Accept-Encoding", b"accept-encoding";
    AcceptLanguage => "Accept-Language", b"accept-language";
    Route => "Route", b"route";
    RecordRoute => "Record-Route", b"record-route";
    UserAgent => "User-Agent", b"user-agent";
    Server => "Server", b"server";
    Subject => "Subject", b"subject", b"s";
    Event => "Event", b"event", b"o";
    AllowEvents => "Allow-Events", b"allow-events", b"u";
    ReferTo => "Refer-To", b"refer-to", b"r";
    ReferredBy => "Referred-By", b"referred-by", b"b";
    SessionExpires => "Session-Expires", b"session-expires", b"x";
    RetryAfter => "Retry-After", b"retry-after";
    Date => "Date", b"date";
    Timestamp => "Timestamp", b"timestamp";
    Warning => "Warning", b"warning";
    Path => "Path", b"path";
    MinSe => "Min-SE", b"min-se";
    Reason => "Reason", b"reason";
    Privacy => "Privacy", b"privacy";
    PAssertedIdentity => "P-Asserted-Identity", b"p-asserted-identity";
    PPreferredIdentity => "P-Preferred-Identity", b"p-preferred-identity";
    Rseq => "RSeq", b"rseq";
    Rack => "RAck", b"rack";
    ReplacesHeader => "Replaces", b"replaces";
    SubscriptionState => "Subscription-State", b"subscription-state";
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

    pub fn get_all<'a>(
        &'a self,
        name: &'a HeaderName,
    ) -> impl Iterator<Item = &'a HeaderValue> + 'a {
        self.0
            .iter()
            .filter(move |h| &h.name == name)
            .map(|h| &h.value)
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
