use std::fmt;

use crate::scan::{is_token, Cursor};

/// One `;name[=value]` parameter. Values are kept as written (quoted strings keep their quotes), so printing
/// gives back what was parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub value: Option<String>,
}

/// An ordered parameter list (header parameters or URI parameters).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Params(pub Vec<Param>);

impl Params {
    /// Value of the first parameter named `name` (case-insensitive); `Some(None)` for a flag parameter.
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        self.0
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value.as_deref())
    }

    /// Value with surrounding quotes removed, if the parameter has a value.
    pub fn get_value(&self, name: &str) -> Option<&str> {
        self.get(name).flatten().map(strip_quotes)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Replaces the value of `name`, or appends it.
    pub fn set(&mut self, name: &str, value: Option<String>) {
        if let Some(p) = self
            .0
            .iter_mut()
            .find(|p| p.name.eq_ignore_ascii_case(name))
        {
            p.value = value;
        } else {
            self.0.push(Param {
                name: name.to_string(),
                value,
            });
        }
    }

    pub fn remove(&mut self, name: &str) {
        self.0.retain(|p| !p.name.eq_ignore_ascii_case(name));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.0 {
            match &p.value {
                Some(v) => write!(f, ";{}={}", p.name, v)?,
                None => write!(f, ";{}", p.name)?,
            }
        }
        Ok(())
    }
}

/// Header or URI parameters as a validated slice of the message (`;a=b;c`, whitespace as received).
/// Lookups scan it; nothing is allocated until [`ParamsRef::to_owned`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParamsRef<'a>(pub(crate) &'a str);

impl<'a> ParamsRef<'a> {
    /// Each parameter as (name, value as written).
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, Option<&'a str>)> + 'a {
        let mut c = Cursor::new(self.0);
        std::iter::from_fn(move || {
            if !c.eat_sep(b';') {
                return None;
            }
            let start = c.pos();
            c.take_while(|b| b != b'=' && b != b';' && !crate::scan::is_wsp(b));
            let name = c.slice(start, c.pos());
            let value = if c.eat_sep(b'=') {
                if c.peek() == Some(b'"') {
                    c.quoted_string()
                } else {
                    Some(c.take_while(|b| b != b';' && !crate::scan::is_wsp(b)))
                }
            } else {
                None
            };
            Some((name, value))
        })
    }

    pub fn get(&self, name: &str) -> Option<Option<&'a str>> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Value with surrounding quotes removed, if the parameter has a value.
    pub fn get_value(&self, name: &str) -> Option<&'a str> {
        self.get(name).flatten().map(strip_quotes)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    pub fn to_owned(&self) -> Params {
        Params(
            self.iter()
                .map(|(n, v)| Param {
                    name: n.to_string(),
                    value: v.map(str::to_string),
                })
                .collect(),
        )
    }
}

fn strip_quotes(v: &str) -> &str {
    v.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v)
}

fn is_gen_value_char(b: u8) -> bool {
    // token, host (including IPv6 references) and the extra characters carriers put in branch values.
    is_token(b) || matches!(b, b':' | b'[' | b']')
}

/// Validates `*( SEMI generic-param )` of a header (SEMI and EQUAL allow whitespace around them) and
/// returns it as a slice. Stops before a `,` or the end.
pub(crate) fn parse_header_params<'a>(c: &mut Cursor<'a>) -> Option<ParamsRef<'a>> {
    let start = c.pos();
    let mut count = 0;
    let mut end = start;
    while c.eat_sep(b';') {
        c.token()?;
        if c.eat_sep(b'=') {
            if c.peek() == Some(b'"') {
                c.quoted_string()?;
            } else if c.take_while(is_gen_value_char).is_empty() {
                return None;
            }
        }
        count += 1;
        if count > 64 {
            return None;
        }
        end = c.pos();
    }
    c.set_pos(end);
    Some(ParamsRef(c.slice(start, end)))
}
