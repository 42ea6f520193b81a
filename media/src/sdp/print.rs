//! Printing in RFC 8866 §5 line order with CRLF line ends. Values are written as stored, so a parsed
//! description prints to text that parses back to an equal description. Each part (`Origin`,
//! `Connection`, `Attribute`, …) displays as its whole SDP line, CRLF included, which is how the
//! description is assembled; hand-built parts must keep tokens free of whitespace to read back.

use std::fmt::{self, Display, Formatter};

use super::model::{
    Attribute, Bandwidth, Connection, MediaDescription, Origin, SessionDescription, Timing,
};

impl Display for SessionDescription {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "v=0\r\n{}", self.origin)?;
        write!(f, "s={}\r\n", self.session_name)?;
        optional(f, 'i', &self.information)?;
        optional(f, 'u', &self.uri)?;
        for email in &self.emails {
            write!(f, "e={email}\r\n")?;
        }
        for phone in &self.phones {
            write!(f, "p={phone}\r\n")?;
        }
        if let Some(connection) = &self.connection {
            write!(f, "{connection}")?;
        }
        for bandwidth in &self.bandwidths {
            write!(f, "{bandwidth}")?;
        }
        for timing in &self.timings {
            write!(f, "{timing}")?;
        }
        optional(f, 'z', &self.time_zones)?;
        optional(f, 'k', &self.encryption_key)?;
        for attribute in &self.attributes {
            write!(f, "{attribute}")?;
        }
        for media in &self.media {
            write!(f, "{media}")?;
        }
        Ok(())
    }
}

fn optional(f: &mut Formatter<'_>, kind: char, value: &Option<String>) -> fmt::Result {
    match value {
        Some(value) => write!(f, "{kind}={value}\r\n"),
        None => Ok(()),
    }
}

impl Display for Origin {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "o={} {} {} {} {} {}\r\n",
            self.username,
            self.session_id,
            self.session_version,
            self.net_type,
            self.addr_type,
            self.address
        )
    }
}

impl Display for Connection {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "c={} {} {}\r\n",
            self.net_type, self.addr_type, self.address
        )
    }
}

impl Display for Bandwidth {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "b={}:{}\r\n", self.kind, self.value)
    }
}

impl Display for Timing {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "t={} {}\r\n", self.start, self.stop)?;
        for repeat in &self.repeats {
            write!(f, "r={repeat}\r\n")?;
        }
        Ok(())
    }
}

impl Display for Attribute {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(value) => write!(f, "a={}:{value}\r\n", self.name),
            None => write!(f, "a={}\r\n", self.name),
        }
    }
}

impl Display for MediaDescription {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "m={} {}", self.media, self.port)?;
        if let Some(count) = self.port_count {
            write!(f, "/{count}")?;
        }
        write!(f, " {}", self.proto)?;
        for format in &self.formats {
            write!(f, " {format}")?;
        }
        f.write_str("\r\n")?;
        optional(f, 'i', &self.information)?;
        if let Some(connection) = &self.connection {
            write!(f, "{connection}")?;
        }
        for bandwidth in &self.bandwidths {
            write!(f, "{bandwidth}")?;
        }
        optional(f, 'k', &self.encryption_key)?;
        for attribute in &self.attributes {
            write!(f, "{attribute}")?;
        }
        Ok(())
    }
}
