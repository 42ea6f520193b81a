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
    PCalledPartyId => "P-Called-Party-ID", b"p-called-party-id";
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

impl From<&[u8]> for HeaderValue {
    /// Copies the bytes.
    fn from(b: &[u8]) -> Self {
        HeaderValue(Bytes::copy_from_slice(b))
    }
}

impl From<&'static str> for HeaderValue {
    fn from(s: &'static str) -> Self {
        HeaderValue(Bytes::from_static(s.as_bytes()))
    }
}

/// One header field to add to a message (a name and an owned value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: HeaderName,
    pub value: HeaderValue,
}

/// Where a field's value lives: a range of the received message, or bytes of its own (a folded line
/// rebuilt, or a field added after parsing). Ranges cost no reference count per header.
#[derive(Debug, Clone)]
enum Slot {
    Received { start: u32, end: u32 },
    Own(Bytes),
}

#[derive(Debug, Clone)]
struct Field {
    name: HeaderName,
    slot: Slot,
}

/// Header fields in the order received. Multiple fields with one name stay separate entries; list-valued
/// grammars (Via, Contact, Route…) split commas when they are parsed.
#[derive(Debug, Clone, Default)]
pub struct Headers {
    /// The received message the `Received` ranges point into (empty for a message built here).
    received: Bytes,
    fields: Vec<Field>,
}

impl PartialEq for Headers {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().zip(other.iter()).all(|(a, b)| a == b)
    }
}

impl Eq for Headers {}

impl Headers {
    pub(crate) fn with_received(received: Bytes, capacity: usize) -> Self {
        Headers {
            received,
            fields: Vec::with_capacity(capacity),
        }
    }

    /// Adds a field whose value is `start..end` of the received message (the parser's fast path).
    pub(crate) fn push_received(&mut self, name: HeaderName, start: usize, end: usize) {
        let (Ok(start), Ok(end)) = (u32::try_from(start), u32::try_from(end)) else {
            let value = self.received.slice(start..end);
            return self.push(name, HeaderValue(value));
        };
        self.fields.push(Field {
            name,
            slot: Slot::Received { start, end },
        });
    }

    fn value_of<'a>(&'a self, slot: &'a Slot) -> &'a [u8] {
        match slot {
            Slot::Received { start, end } => self
                .received
                .get(*start as usize..*end as usize)
                .unwrap_or(&[]),
            Slot::Own(b) => b,
        }
    }

    /// Each field as (name, value), in order.
    pub fn iter(&self) -> impl Iterator<Item = (&HeaderName, &[u8])> {
        self.fields
            .iter()
            .map(move |f| (&f.name, self.value_of(&f.slot)))
    }

    /// Each field as (name, owned value sharing the received message's memory), in order.
    pub fn iter_shared(&self) -> impl Iterator<Item = (&HeaderName, HeaderValue)> {
        self.fields
            .iter()
            .map(move |f| (&f.name, self.shared(&f.slot)))
    }

    /// The value of the first field named `name`.
    pub fn get(&self, name: &HeaderName) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|f| &f.name == name)
            .map(|f| self.value_of(&f.slot))
    }

    /// The first field named `name` as an owned value that shares the received message's memory, for
    /// copying a field into another message without copying its bytes.
    pub fn get_shared(&self, name: &HeaderName) -> Option<HeaderValue> {
        self.fields
            .iter()
            .find(|f| &f.name == name)
            .map(|f| self.shared(&f.slot))
    }

    fn shared(&self, slot: &Slot) -> HeaderValue {
        match slot {
            Slot::Received { start, end } => {
                let (start, end) = (*start as usize, *end as usize);
                if start <= end && end <= self.received.len() {
                    HeaderValue(self.received.slice(start..end))
                } else {
                    HeaderValue(Bytes::new())
                }
            }
            Slot::Own(b) => HeaderValue(b.clone()),
        }
    }

    /// Every field named `name`, as owned values sharing the received message's memory.
    pub fn get_all_shared<'a>(
        &'a self,
        name: &'a HeaderName,
    ) -> impl Iterator<Item = HeaderValue> + 'a {
        self.fields
            .iter()
            .filter(move |f| &f.name == name)
            .map(move |f| self.shared(&f.slot))
    }

    /// The values of every field named `name`.
    pub fn get_all<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.fields
            .iter()
            .filter(move |f| &f.name == name)
            .map(move |f| self.value_of(&f.slot))
    }

    pub fn count(&self, name: &HeaderName) -> usize {
        self.fields.iter().filter(|f| &f.name == name).count()
    }

    pub fn push(&mut self, name: HeaderName, value: impl Into<HeaderValue>) {
        self.fields.push(Field {
            name,
            slot: Slot::Own(value.into().0),
        });
    }

    /// Replaces every field named `name` with one field (appended if absent, in place of the first otherwise).
    pub fn set(&mut self, name: HeaderName, value: impl Into<HeaderValue>) {
        let value = value.into();
        match self.fields.iter().position(|f| f.name == name) {
            Some(i) => {
                self.fields[i].slot = Slot::Own(value.0);
                let mut idx = 0;
                self.fields.retain(|f| {
                    idx += 1;
                    idx - 1 == i || f.name != name
                });
            }
            None => self.push(name, value),
        }
    }

    /// Replaces the value of the first field named `name`, keeping its place and any later fields of
    /// that name. Returns false when there is none.
    pub fn replace_first(&mut self, name: &HeaderName, value: impl Into<HeaderValue>) -> bool {
        match self.fields.iter_mut().find(|f| &f.name == name) {
            Some(f) => {
                f.slot = Slot::Own(value.into().0);
                true
            }
            None => false,
        }
    }

    pub fn remove_all(&mut self, name: &HeaderName) {
        self.fields.retain(|f| &f.name != name);
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

impl From<Vec<Header>> for Headers {
    fn from(list: Vec<Header>) -> Self {
        let mut h = Headers::with_received(Bytes::new(), list.len());
        for Header { name, value } in list {
            h.push(name, value);
        }
        h
    }
}
