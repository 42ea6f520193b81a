//! The parser. It reads line by line, bounds everything it keeps (see the limits in the module root),
//! and is lenient about line order inside the session part and inside a media section, because real
//! peers put `b=` before `c=` and the like; it is strict about line shapes, so that whatever it accepts
//! prints back unchanged.

use super::codec::{decimal, payload_type};
use super::model::{
    is_rtp_proto, Attribute, Bandwidth, Connection, MediaDescription, Origin, SessionDescription,
    Timing,
};
use super::{SdpError, MAX_ATTRIBUTES, MAX_DESCRIPTION_LEN, MAX_LINE_LEN, MAX_MEDIA_SECTIONS};

impl SessionDescription {
    /// Parses a description. Line ends may be CRLF or bare LF; blank lines are skipped. Never panics,
    /// and allocates in proportion to the input, which is at most [`MAX_DESCRIPTION_LEN`] bytes.
    pub fn parse(input: &[u8]) -> Result<SessionDescription, SdpError> {
        if input.len() > MAX_DESCRIPTION_LEN {
            return Err(SdpError::TooLarge);
        }
        let text = std::str::from_utf8(input).map_err(|e| SdpError::NotUtf8 {
            line: line_number_at(input, e.valid_up_to()),
        })?;
        let mut state = Parser::default();
        for (index, raw) in text.split('\n').enumerate() {
            let line_content = raw.strip_suffix('\r').unwrap_or(raw);
            if !line_content.is_empty() {
                state.line(index + 1, line_content)?;
            }
        }
        state.finish()
    }
}

impl std::str::FromStr for SessionDescription {
    type Err = SdpError;

    fn from_str(text: &str) -> Result<SessionDescription, SdpError> {
        SessionDescription::parse(text.as_bytes())
    }
}

fn line_number_at(input: &[u8], offset: usize) -> usize {
    let before = input.get(..offset).unwrap_or(input);
    1 + before.iter().filter(|&&b| b == b'\n').count()
}

/// The session part collected so far; `Option`s become the required fields at the end.
#[derive(Default)]
struct Parser {
    printed_len: usize,
    seen_version: bool,
    origin: Option<Origin>,
    session_name: Option<String>,
    information: Option<String>,
    uri: Option<String>,
    emails: Vec<String>,
    phones: Vec<String>,
    connection: Option<Connection>,
    bandwidths: Vec<Bandwidth>,
    timings: Vec<Timing>,
    time_zones: Option<String>,
    encryption_key: Option<String>,
    attributes: Vec<Attribute>,
    media: Vec<MediaDescription>,
}

impl Parser {
    fn line(&mut self, line: usize, content: &str) -> Result<(), SdpError> {
        if content.len() > MAX_LINE_LEN {
            return Err(SdpError::LineTooLong { line });
        }
        // Counted as printed (CRLF), so that printing a parsed description never exceeds the limit.
        self.printed_len += content.len() + 2;
        if self.printed_len > MAX_DESCRIPTION_LEN {
            return Err(SdpError::TooLarge);
        }
        if content.contains(['\r', '\0']) {
            return Err(SdpError::ForbiddenCharacter { line });
        }
        let (kind, value) = match content.as_bytes() {
            [letter, b'=', ..] if letter.is_ascii_lowercase() => {
                (char::from(*letter), content.get(2..).unwrap_or(""))
            }
            _ => {
                return Err(SdpError::Malformed {
                    line,
                    reason: "a line must start with a lowercase letter and '='",
                })
            }
        };
        if !self.seen_version {
            if kind != 'v' {
                return Err(SdpError::MissingLine { kind: 'v' });
            }
            if value != "0" {
                return Err(SdpError::Malformed {
                    line,
                    reason: "only SDP version 0 exists",
                });
            }
            self.seen_version = true;
            return Ok(());
        }
        if kind == 'm' {
            if self.media.len() >= MAX_MEDIA_SECTIONS {
                return Err(SdpError::TooManyMediaSections { line });
            }
            self.media.push(parse_media(line, value)?);
            return Ok(());
        }
        match self.media.last_mut() {
            Some(media) => media_line(media, line, kind, value),
            None => self.session_line(line, kind, value),
        }
    }

    fn session_line(&mut self, line: usize, kind: char, value: &str) -> Result<(), SdpError> {
        match kind {
            'v' => return Err(SdpError::DuplicateLine { line, kind }),
            'o' => set_once(&mut self.origin, parse_origin(line, value)?, line, kind)?,
            's' => set_once(&mut self.session_name, value.to_owned(), line, kind)?,
            'i' => set_once(&mut self.information, value.to_owned(), line, kind)?,
            'u' => set_once(&mut self.uri, value.to_owned(), line, kind)?,
            'e' => self.emails.push(value.to_owned()),
            'p' => self.phones.push(value.to_owned()),
            'c' => set_once(
                &mut self.connection,
                parse_connection(line, value)?,
                line,
                kind,
            )?,
            'b' => self.bandwidths.push(parse_bandwidth(line, value)?),
            't' => self.timings.push(parse_timing(line, value)?),
            'r' => match self.timings.last_mut() {
                Some(timing) => timing.repeats.push(value.to_owned()),
                None => return Err(SdpError::MisplacedLine { line, kind }),
            },
            'z' => set_once(&mut self.time_zones, value.to_owned(), line, kind)?,
            'k' => set_once(&mut self.encryption_key, value.to_owned(), line, kind)?,
            'a' => push_attribute(&mut self.attributes, line, value)?,
            _ => return Err(SdpError::UnknownLineType { line, kind }),
        }
        Ok(())
    }

    fn finish(self) -> Result<SessionDescription, SdpError> {
        if !self.seen_version {
            return Err(SdpError::MissingLine { kind: 'v' });
        }
        let origin = self.origin.ok_or(SdpError::MissingLine { kind: 'o' })?;
        let session_name = self
            .session_name
            .ok_or(SdpError::MissingLine { kind: 's' })?;
        if self.timings.is_empty() {
            return Err(SdpError::MissingLine { kind: 't' });
        }
        Ok(SessionDescription {
            origin,
            session_name,
            information: self.information,
            uri: self.uri,
            emails: self.emails,
            phones: self.phones,
            connection: self.connection,
            bandwidths: self.bandwidths,
            timings: self.timings,
            time_zones: self.time_zones,
            encryption_key: self.encryption_key,
            attributes: self.attributes,
            media: self.media,
        })
    }
}

fn media_line(
    media: &mut MediaDescription,
    line: usize,
    kind: char,
    value: &str,
) -> Result<(), SdpError> {
    match kind {
        'i' => set_once(&mut media.information, value.to_owned(), line, kind),
        // RFC 8866 allows several c= per section only for layered multicast, which a PBX never meets.
        'c' => set_once(
            &mut media.connection,
            parse_connection(line, value)?,
            line,
            kind,
        ),
        'b' => {
            media.bandwidths.push(parse_bandwidth(line, value)?);
            Ok(())
        }
        'k' => set_once(&mut media.encryption_key, value.to_owned(), line, kind),
        'a' => push_attribute(&mut media.attributes, line, value),
        'v' | 'o' | 's' | 'u' | 'e' | 'p' | 't' | 'r' | 'z' => {
            Err(SdpError::MisplacedLine { line, kind })
        }
        _ => Err(SdpError::UnknownLineType { line, kind }),
    }
}

fn set_once<T>(slot: &mut Option<T>, value: T, line: usize, kind: char) -> Result<(), SdpError> {
    if slot.is_some() {
        return Err(SdpError::DuplicateLine { line, kind });
    }
    *slot = Some(value);
    Ok(())
}

fn parse_origin(line: usize, value: &str) -> Result<Origin, SdpError> {
    let mut fields = value.split_ascii_whitespace();
    let malformed = SdpError::Malformed {
        line,
        reason: "o= needs username, session id, version, network type, address type and address",
    };
    let (
        Some(username),
        Some(id),
        Some(version),
        Some(net_type),
        Some(addr_type),
        Some(address),
        None,
    ) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    )
    else {
        return Err(malformed);
    };
    let numeric = SdpError::Malformed {
        line,
        reason: "o= session id and version must be numbers below 2^64",
    };
    Ok(Origin {
        username: username.to_owned(),
        session_id: decimal(id).ok_or(numeric)?,
        session_version: decimal(version).ok_or(numeric)?,
        net_type: net_type.to_owned(),
        addr_type: addr_type.to_owned(),
        address: address.to_owned(),
    })
}

fn parse_connection(line: usize, value: &str) -> Result<Connection, SdpError> {
    let mut fields = value.split_ascii_whitespace();
    let (Some(net_type), Some(addr_type), Some(address), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(SdpError::Malformed {
            line,
            reason: "c= needs network type, address type and address",
        });
    };
    Ok(Connection {
        net_type: net_type.to_owned(),
        addr_type: addr_type.to_owned(),
        address: address.to_owned(),
    })
}

fn parse_bandwidth(line: usize, value: &str) -> Result<Bandwidth, SdpError> {
    let parsed = value.split_once(':').and_then(|(kind, amount)| {
        let kind_ok = !kind.is_empty() && kind.bytes().all(is_token_byte);
        Some(Bandwidth {
            kind: kind_ok.then(|| kind.to_owned())?,
            value: decimal(amount)?,
        })
    });
    parsed.ok_or(SdpError::Malformed {
        line,
        reason: "b= must be <type>:<number>",
    })
}

fn parse_timing(line: usize, value: &str) -> Result<Timing, SdpError> {
    let mut fields = value.split_ascii_whitespace();
    let times = match (fields.next(), fields.next(), fields.next()) {
        (Some(start), Some(stop), None) => decimal(start).zip(decimal(stop)),
        _ => None,
    };
    let (start, stop) = times.ok_or(SdpError::Malformed {
        line,
        reason: "t= must be two numbers",
    })?;
    Ok(Timing {
        start,
        stop,
        repeats: Vec::new(),
    })
}

fn push_attribute(
    attributes: &mut Vec<Attribute>,
    line: usize,
    value: &str,
) -> Result<(), SdpError> {
    if attributes.len() >= MAX_ATTRIBUTES {
        return Err(SdpError::TooManyAttributes { line });
    }
    let attribute = match value.split_once(':') {
        Some((name, value)) => Attribute::new(name, value),
        // Peers sometimes leave a space after a flag (`a=sendrecv `); it carries nothing.
        None => Attribute::flag(value.trim_ascii_end()),
    };
    if attribute.name.is_empty() || !attribute.name.bytes().all(is_token_byte) {
        return Err(SdpError::Malformed {
            line,
            reason: "attribute name must be a token",
        });
    }
    attributes.push(attribute);
    Ok(())
}

fn parse_media(line: usize, value: &str) -> Result<MediaDescription, SdpError> {
    let mut fields = value.split_ascii_whitespace();
    let (Some(media), Some(port_field), Some(proto)) =
        (fields.next(), fields.next(), fields.next())
    else {
        return Err(SdpError::Malformed {
            line,
            reason: "m= needs media, port, proto and formats",
        });
    };
    let (port, port_count) = match port_field.split_once('/') {
        Some((port, count)) => (port, Some(count)),
        None => (port_field, None),
    };
    let port = decimal(port).ok_or(SdpError::InvalidPort { line })?;
    let port_count = match port_count {
        Some(count) => Some(decimal(count).ok_or(SdpError::InvalidPort { line })?),
        None => None,
    };
    let formats: Vec<String> = fields.map(str::to_owned).collect();
    if formats.is_empty() {
        return Err(SdpError::Malformed {
            line,
            reason: "m= needs at least one format",
        });
    }
    if is_rtp_proto(proto) && !formats.iter().all(|f| payload_type(f).is_some()) {
        return Err(SdpError::Malformed {
            line,
            reason: "RTP formats must be payload types 0-127",
        });
    }
    Ok(MediaDescription {
        media: media.to_owned(),
        port,
        port_count,
        proto: proto.to_owned(),
        formats,
        information: None,
        connection: None,
        bandwidths: Vec::new(),
        encryption_key: None,
        attributes: Vec::new(),
    })
}

/// RFC 8866 §9 `token-char`.
pub(super) fn is_token_byte(b: u8) -> bool {
    matches!(b, b'!' | b'#'..=b'\'' | b'*' | b'+' | b'-' | b'.' | b'0'..=b'9' | b'A'..=b'Z' | b'^'..=b'~')
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n";

    fn parse(text: &str) -> Result<SessionDescription, SdpError> {
        SessionDescription::parse(text.as_bytes())
    }

    fn with_media(media: &str) -> String {
        format!("{MINIMAL}{media}")
    }

    #[test]
    fn minimal_description() {
        let sdp = parse(MINIMAL).expect("valid");
        assert_eq!(sdp.origin.session_id, 1);
        assert_eq!(sdp.origin.address, "192.0.2.1");
        assert_eq!(sdp.session_name, "-");
        assert_eq!(sdp.timings.len(), 1);
        assert!(sdp.media.is_empty());
    }

    #[test]
    fn bare_lf_and_crlf_parse_alike() {
        let lf = MINIMAL.replace("\r\n", "\n");
        assert_eq!(parse(&lf), parse(MINIMAL));
        let without_last_newline = MINIMAL.trim_end();
        assert_eq!(parse(without_last_newline), parse(MINIMAL));
    }

    #[test]
    fn mandatory_lines() {
        assert_eq!(parse(""), Err(SdpError::MissingLine { kind: 'v' }));
        assert_eq!(
            parse("o=- 1 1 IN IP4 x\r\n"),
            Err(SdpError::MissingLine { kind: 'v' })
        );
        assert_eq!(
            parse("v=0\r\ns=-\r\nt=0 0\r\n"),
            Err(SdpError::MissingLine { kind: 'o' })
        );
        assert_eq!(
            parse("v=0\r\no=- 1 1 IN IP4 x\r\nt=0 0\r\n"),
            Err(SdpError::MissingLine { kind: 's' })
        );
        assert_eq!(
            parse("v=0\r\no=- 1 1 IN IP4 x\r\ns=-\r\n"),
            Err(SdpError::MissingLine { kind: 't' })
        );
        assert!(matches!(
            parse("v=1\r\no=- 1 1 IN IP4 x\r\ns=-\r\nt=0 0\r\n"),
            Err(SdpError::Malformed { line: 1, .. })
        ));
    }

    #[test]
    fn misplaced_duplicate_and_unknown_lines() {
        assert_eq!(
            parse(&with_media("m=audio 1 RTP/AVP 0\r\nt=0 0\r\n")),
            Err(SdpError::MisplacedLine { line: 6, kind: 't' })
        );
        assert_eq!(
            parse(&format!("{MINIMAL}s=again\r\n")),
            Err(SdpError::DuplicateLine { line: 5, kind: 's' })
        );
        assert_eq!(
            parse(&format!("{MINIMAL}x=1\r\n")),
            Err(SdpError::UnknownLineType { line: 5, kind: 'x' })
        );
        assert_eq!(
            parse("v=0\r\nr=1\r\no=- 1 1 IN IP4 x\r\ns=-\r\nt=0 0\r\n"),
            Err(SdpError::MisplacedLine { line: 2, kind: 'r' })
        );
        assert!(matches!(
            parse(&format!("{MINIMAL}A=x\r\n")),
            Err(SdpError::Malformed { line: 5, .. })
        ));
        assert!(matches!(
            parse(&format!("{MINIMAL}a\r\n")),
            Err(SdpError::Malformed { line: 5, .. })
        ));
    }

    #[test]
    fn lenient_order_inside_a_section() {
        let sdp = parse(&with_media(
            "m=audio 4000 RTP/AVP 0\r\na=ptime:20\r\nb=AS:64\r\nc=IN IP4 192.0.2.9\r\n",
        ))
        .expect("b= and c= after a= are accepted");
        let media = &sdp.media[0];
        assert_eq!(
            media.bandwidths,
            vec![Bandwidth {
                kind: "AS".into(),
                value: 64
            }]
        );
        assert_eq!(
            media.connection.as_ref().map(|c| c.address.as_str()),
            Some("192.0.2.9")
        );
    }

    #[test]
    fn bad_media_lines() {
        let cases = [
            ("m=audio\r\n", "no port"),
            ("m=audio 4000 RTP/AVP\r\n", "no formats"),
            ("m=audio 4000 RTP/AVP 0 x\r\n", "non-numeric RTP format"),
            ("m=audio 4000 RTP/AVP 128\r\n", "payload type above 127"),
        ];
        for (media, why) in cases {
            assert!(
                matches!(
                    parse(&with_media(media)),
                    Err(SdpError::Malformed { line: 5, .. })
                ),
                "{why}"
            );
        }
        for port in ["x", "65536", "-1", "+1", "4000/x", "4000/", "/2"] {
            assert_eq!(
                parse(&with_media(&format!("m=audio {port} RTP/AVP 0\r\n"))),
                Err(SdpError::InvalidPort { line: 5 }),
                "{port}"
            );
        }
        let t38 =
            parse(&with_media("m=image 4002 udptl t38\r\n")).expect("non-RTP formats are tokens");
        assert_eq!(t38.media[0].formats, vec!["t38"]);
        let counted = parse(&with_media("m=audio 4000/2 RTP/AVP 0\r\n")).expect("port count");
        assert_eq!(counted.media[0].port_count, Some(2));
    }

    #[test]
    fn bad_structured_lines() {
        let cases = [
            "o=- 1 1 IN IP4\r\n",
            "o=- x 1 IN IP4 a\r\n",
            "o=- 1 99999999999999999999 IN IP4 a\r\n",
            "c=IN IP4\r\n",
            "c=IN IP4 a b\r\n",
            "b=AS\r\n",
            "b=AS:x\r\n",
            "b=:1\r\n",
            "t=0\r\n",
            "t=0 x\r\n",
            "a=:x\r\n",
            "a=na me:x\r\n",
        ];
        for case in cases {
            let text = format!("v=0\r\n{case}");
            assert!(
                matches!(parse(&text), Err(SdpError::Malformed { line: 2, .. })),
                "{case:?} gave {:?}",
                parse(&text)
            );
        }
    }

    #[test]
    fn limits() {
        let long_line = with_media(&format!("a=x:{}\r\n", "y".repeat(MAX_LINE_LEN)));
        assert_eq!(parse(&long_line), Err(SdpError::LineTooLong { line: 5 }));
        let at_limit = with_media(&format!("a=x:{}\r\n", "y".repeat(MAX_LINE_LEN - 4)));
        assert!(parse(&at_limit).is_ok());

        let seventeen: String = (0..=MAX_MEDIA_SECTIONS)
            .map(|_| "m=audio 0 RTP/AVP 0\r\n")
            .collect();
        assert_eq!(
            parse(&with_media(&seventeen)),
            Err(SdpError::TooManyMediaSections { line: 21 })
        );
        let sixteen: String = (0..MAX_MEDIA_SECTIONS)
            .map(|_| "m=audio 0 RTP/AVP 0\r\n")
            .collect();
        assert_eq!(parse(&with_media(&sixteen)).map(|s| s.media.len()), Ok(16));

        let attrs = |n: usize| -> String { (0..n).map(|i| format!("a=x-{i}\r\n")).collect() };
        assert_eq!(
            parse(&format!("{MINIMAL}{}", attrs(MAX_ATTRIBUTES + 1))),
            Err(SdpError::TooManyAttributes {
                line: MAX_ATTRIBUTES + 5
            })
        );
        assert!(parse(&format!("{MINIMAL}{}", attrs(MAX_ATTRIBUTES))).is_ok());
        let in_media = format!("m=audio 1 RTP/AVP 0\r\n{}", attrs(MAX_ATTRIBUTES + 1));
        assert_eq!(
            parse(&with_media(&in_media)),
            Err(SdpError::TooManyAttributes {
                line: MAX_ATTRIBUTES + 6
            })
        );

        let huge = with_media(&"e=x\r\n".repeat(MAX_DESCRIPTION_LEN / 5));
        assert_eq!(parse(&huge), Err(SdpError::TooLarge));
        let raw_huge = vec![b'\n'; MAX_DESCRIPTION_LEN + 1];
        assert_eq!(
            SessionDescription::parse(&raw_huge),
            Err(SdpError::TooLarge)
        );
    }

    #[test]
    fn size_is_counted_as_printed() {
        // Under the byte limit with bare LF, over it once every line gains its CR.
        let lines = (MAX_DESCRIPTION_LEN - MINIMAL.len()) / 4;
        let text = format!("{}{}", MINIMAL.replace("\r\n", "\n"), "e=x\n".repeat(lines));
        assert!(text.len() <= MAX_DESCRIPTION_LEN);
        assert_eq!(parse(&text), Err(SdpError::TooLarge));
    }

    #[test]
    fn forbidden_bytes() {
        assert_eq!(
            SessionDescription::parse(b"v=0\r\no=- 1 1 IN IP4 \xff\r\n"),
            Err(SdpError::NotUtf8 { line: 2 })
        );
        assert_eq!(
            parse(&format!("{MINIMAL}s=a\rb\r\n")),
            Err(SdpError::ForbiddenCharacter { line: 5 })
        );
        assert_eq!(
            parse(&format!("{MINIMAL}a=x:\0\r\n")),
            Err(SdpError::ForbiddenCharacter { line: 5 })
        );
    }

    #[test]
    fn attributes_keep_their_bytes() {
        let sdp = parse(&format!(
            "{MINIMAL}a=msid-semantic: WMS \r\na=recvonly \r\na=empty:\r\n"
        ))
        .expect("valid");
        assert_eq!(
            sdp.attributes,
            vec![
                Attribute::new("msid-semantic", " WMS "),
                Attribute::flag("recvonly"),
                Attribute::new("empty", ""),
            ]
        );
    }
}
