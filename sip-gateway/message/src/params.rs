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
        self.get(name).flatten().map(|v| {
            v.strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v)
        })
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

fn is_gen_value_char(b: u8) -> bool {
    // token, host (including IPv6 references) and the extra characters carriers put in branch values.
    is_token(b) || matches!(b, b':' | b'[' | b']')
}

/// Parses `*( SEMI generic-param )` of a header (SEMI and EQUAL allow whitespace around them).
/// Stops before a `,` or the end; anything else is an error.
pub(crate) fn parse_header_params(c: &mut Cursor<'_>) -> Option<Params> {
    let mut params = Vec::new();
    while c.eat_sep(b';') {
        let name = c.token()?;
        let value = if c.eat_sep(b'=') {
            let v = if c.peek() == Some(b'"') {
                c.quoted_string()?
            } else {
                let v = c.take_while(is_gen_value_char);
                if v.is_empty() {
                    return None;
                }
                v
            };
            Some(String::from_utf8_lossy(v).into_owned())
        } else {
            None
        };
        params.push(Param {
            name: String::from_utf8_lossy(name).into_owned(),
            value,
        });
        if params.len() > 64 {
            return None;
        }
    }
    Some(Params(params))
}
