//! Byte-level scanning shared by the header grammars. Every function is bounds-checked: out-of-range reads
//! return `None`/errors instead of panicking.

/// A 256-entry membership table of ASCII letters and digits plus `extra`, built at compile time: the
/// character classes of the grammar are tested for nearly every byte of a message.
pub(crate) const fn alnum_and(extra: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = (i as u8).is_ascii_alphanumeric();
        i += 1;
    }
    let mut j = 0;
    while j < extra.len() {
        t[extra[j] as usize] = true;
        j += 1;
    }
    t
}

/// RFC 3261 `token` characters.
static TOKEN: [bool; 256] = alnum_and(b"-.!%*_+`'~");

pub(crate) fn is_token(b: u8) -> bool {
    TOKEN[b as usize]
}

pub(crate) fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

pub(crate) fn trim_wsp(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_wsp(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|&b| !is_wsp(b)).map_or(start, |p| p + 1);
    s.get(start..end).unwrap_or(&[])
}

/// A read position over an unfolded header value (only SP/HTAB whitespace remains). It works on `&str` so
/// the slices it hands out are text without a copy; delimiters are ASCII, so every cut is a char boundary.
pub(crate) struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(s: &'a str) -> Self {
        Cursor { s, pos: 0 }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn set_pos(&mut self, pos: usize) {
        self.pos = pos.min(self.s.len());
    }

    pub(crate) fn slice(&self, from: usize, to: usize) -> &'a str {
        self.s.get(from..to).unwrap_or("")
    }

    pub(crate) fn skip_ws(&mut self) {
        while self.peek().is_some_and(is_wsp) {
            self.pos += 1;
        }
    }

    /// Consumes `b` (with optional whitespace around it, as the SWS-separated delimiters allow).
    pub(crate) fn eat_sep(&mut self, b: u8) -> bool {
        let save = self.pos;
        self.skip_ws();
        if self.peek() == Some(b) {
            self.pos += 1;
            self.skip_ws();
            true
        } else {
            self.pos = save;
            false
        }
    }

    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Takes bytes while `f` holds. `f` must reject every non-ASCII byte or accept whole characters, so
    /// the cut stays on a char boundary; `slice` returns "" otherwise rather than panicking.
    pub(crate) fn take_while(&mut self, mut f: impl FnMut(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&mut f) {
            self.pos += 1;
        }
        self.slice(start, self.pos)
    }

    /// Takes bytes up to (not including) the next `b`, or to the end.
    pub(crate) fn take_until(&mut self, b: u8) -> &'a str {
        let start = self.pos;
        let rest = self.s.as_bytes().get(start..).unwrap_or(&[]);
        self.pos = start + memchr::memchr(b, rest).unwrap_or(rest.len());
        self.slice(start, self.pos)
    }

    /// Takes the bytes of a class table (which must hold only ASCII bytes).
    pub(crate) fn take_class(&mut self, class: &[bool; 256]) -> &'a str {
        let start = self.pos;
        let rest = self.s.as_bytes().get(start..).unwrap_or(&[]);
        self.pos = start + rest.iter().take_while(|&&b| class[b as usize]).count();
        self.slice(start, self.pos)
    }

    pub(crate) fn token(&mut self) -> Option<&'a str> {
        let t = self.take_class(&TOKEN);
        (!t.is_empty()).then_some(t)
    }

    /// A quoted-string including its quotes; backslash escapes any byte except CR and LF.
    pub(crate) fn quoted_string(&mut self) -> Option<&'a str> {
        let start = self.pos;
        if !self.eat(b'"') {
            return None;
        }
        loop {
            match self.peek() {
                None | Some(b'\r') | Some(b'\n') => {
                    self.pos = start;
                    return None;
                }
                Some(b'"') => {
                    self.pos += 1;
                    return Some(self.slice(start, self.pos));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        None | Some(b'\r') | Some(b'\n') => {
                            self.pos = start;
                            return None;
                        }
                        Some(_) => self.pos += 1,
                    }
                }
                Some(_) => self.pos += 1,
            }
        }
    }
}

/// Decodes `%HH` escapes; invalid escapes are kept literally.
pub fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|c| (*c as char).to_digit(16)),
                b.get(i + 2).and_then(|c| (*c as char).to_digit(16)),
            ) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Parses a run of ASCII digits into a bounded integer, rejecting overflow instead of wrapping.
pub(crate) fn parse_decimal(s: &[u8], max: u64) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    (v <= max).then_some(v)
}
