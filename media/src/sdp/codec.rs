//! Payload formats: reading `a=rtpmap` / `a=fmtp`, the RFC 3551 static payload types a peer may use
//! without an rtpmap, RFC 4733 telephone-event, and [`Codec`], what one leg of the relay can use.

use std::borrow::Cow;

/// An `a=rtpmap` reading: `<encoding>/<clock rate>[/<channels>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    pub encoding: String,
    pub clock_rate: u32,
    /// 1 when the rtpmap does not say (RFC 8866 §6.6).
    pub channels: u16,
}

/// One entry of an RTP format list with what the section says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadFormat {
    pub payload_type: u8,
    /// `None` for a dynamic payload type without an rtpmap, which nobody can use.
    pub rtpmap: Option<RtpMap>,
    pub fmtp: Option<String>,
}

/// An RFC 4733 `telephone-event` payload format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelephoneEventFormat {
    pub payload_type: u8,
    pub clock_rate: u32,
    /// The events of `a=fmtp:<pt> 0-15,…`; `None` without a readable fmtp, in which case RFC 4733
    /// §2.4.1 says the DTMF events 0–15 are meant.
    pub events: Option<Vec<EventRange>>,
}

/// An inclusive range of RFC 4733 event codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRange {
    pub first: u8,
    pub last: u8,
}

/// A codec one side of the relay can send and receive on a leg.
///
/// `payload_type` is the number we put in our own offers; when answering, the offerer's number for the
/// same codec is used instead (RFC 3264 §6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Codec {
    pub payload_type: u8,
    /// The rtpmap encoding name; compared case-insensitively.
    pub name: Cow<'static, str>,
    pub clock_rate: u32,
    pub channels: u16,
    /// The `a=fmtp` parameters we advertise, if any.
    pub fmtp: Option<Cow<'static, str>>,
}

/// The encoding name of RFC 4733 events; never a [`Codec`] of its own (see
/// [`crate::sdp::LocalCapabilities::telephone_event`]).
pub const TELEPHONE_EVENT: &str = "telephone-event";

/// RFC 4733 events 0–15 are the DTMF digits, 16 is flash: what a PBX relays.
pub(crate) const SUPPORTED_EVENTS: &str = "0-16";

impl Codec {
    pub const PCMU: Codec = Codec::static_type(0, "PCMU");
    pub const PCMA: Codec = Codec::static_type(8, "PCMA");
    /// G.722 keeps 8000 as its RTP clock rate for historical reasons (RFC 3551 §4.5.2).
    pub const G722: Codec = Codec::static_type(9, "G722");
    /// Opus (RFC 7587) is always announced as 48000/2 whatever is actually encoded; 111 is the dynamic
    /// number Chromium uses, so a WebRTC leg keeps its numbering.
    pub const OPUS: Codec = Codec {
        payload_type: 111,
        name: Cow::Borrowed("opus"),
        clock_rate: 48_000,
        channels: 2,
        fmtp: Some(Cow::Borrowed("useinbandfec=1")),
    };

    const fn static_type(payload_type: u8, name: &'static str) -> Codec {
        Codec {
            payload_type,
            name: Cow::Borrowed(name),
            clock_rate: 8000,
            channels: 1,
            fmtp: None,
        }
    }

    /// Whether an offered format is this codec: same name (any case), clock rate and channels.
    pub fn matches(&self, rtpmap: &RtpMap) -> bool {
        rtpmap.encoding.eq_ignore_ascii_case(&self.name)
            && rtpmap.clock_rate == self.clock_rate
            && rtpmap.channels == self.channels
    }

    /// The value of our `a=rtpmap:` line, channels written only when not 1 (as RFC 8866 §6.6 asks).
    pub(crate) fn rtpmap_value(&self) -> String {
        rtpmap_value(
            self.payload_type,
            &self.name,
            self.clock_rate,
            self.channels,
        )
    }
}

pub(crate) fn rtpmap_value(pt: u8, name: &str, clock_rate: u32, channels: u16) -> String {
    if channels == 1 {
        format!("{pt} {name}/{clock_rate}")
    } else {
        format!("{pt} {name}/{clock_rate}/{channels}")
    }
}

impl TelephoneEventFormat {
    pub(crate) fn from_payload_format(format: &PayloadFormat) -> Option<TelephoneEventFormat> {
        let map = format.rtpmap.as_ref()?;
        if !map.encoding.eq_ignore_ascii_case(TELEPHONE_EVENT) {
            return None;
        }
        Some(TelephoneEventFormat {
            payload_type: format.payload_type,
            clock_rate: map.clock_rate,
            events: format.fmtp.as_deref().and_then(parse_event_ranges),
        })
    }

    /// Whether the peer accepts this event code, with RFC 4733's default of 0–15 when unstated.
    pub fn supports(&self, event: u8) -> bool {
        match &self.events {
            Some(ranges) => ranges.iter().any(|r| (r.first..=r.last).contains(&event)),
            None => event <= 15,
        }
    }
}

/// `0-15,66,70-72`; `None` if any part is unreadable, since a half-read list would misstate support.
pub fn parse_event_ranges(list: &str) -> Option<Vec<EventRange>> {
    list.split(',')
        .map(|part| {
            let part = part.trim();
            let (first, last) = part.split_once('-').unwrap_or((part, part));
            let first = decimal(first.trim())?;
            let last = decimal(last.trim())?;
            (first <= last).then_some(EventRange { first, last })
        })
        .collect()
}

/// The static payload types of RFC 3551 §6 (audio), which a peer may offer without an rtpmap.
pub fn static_rtpmap(pt: u8) -> Option<RtpMap> {
    let (encoding, clock_rate, channels) = match pt {
        0 => ("PCMU", 8000, 1),
        3 => ("GSM", 8000, 1),
        4 => ("G723", 8000, 1),
        5 => ("DVI4", 8000, 1),
        6 => ("DVI4", 16_000, 1),
        7 => ("LPC", 8000, 1),
        8 => ("PCMA", 8000, 1),
        9 => ("G722", 8000, 1),
        10 => ("L16", 44_100, 2),
        11 => ("L16", 44_100, 1),
        12 => ("QCELP", 8000, 1),
        13 => ("CN", 8000, 1),
        14 => ("MPA", 90_000, 1),
        15 => ("G728", 8000, 1),
        16 => ("DVI4", 11_025, 1),
        17 => ("DVI4", 22_050, 1),
        18 => ("G729", 8000, 1),
        _ => return None,
    };
    Some(RtpMap {
        encoding: encoding.to_owned(),
        clock_rate,
        channels,
    })
}

/// Reads an `a=rtpmap` value: `<pt> <encoding>/<clock>[/<channels>]`.
pub(crate) fn parse_rtpmap(value: &str) -> Option<(u8, RtpMap)> {
    let (pt, mapping) = value.trim().split_once([' ', '\t'])?;
    let pt = payload_type(pt)?;
    let mut parts = mapping.trim().split('/');
    let encoding = parts.next().filter(|e| !e.is_empty())?;
    let clock_rate = decimal(parts.next()?)?;
    let channels = match parts.next() {
        Some(channels) => decimal(channels)?,
        None => 1,
    };
    if parts.next().is_some() || clock_rate == 0 {
        return None;
    }
    Some((
        pt,
        RtpMap {
            encoding: encoding.to_owned(),
            clock_rate,
            channels,
        },
    ))
}

/// Reads an `a=fmtp` value: `<pt> <parameters>`.
pub(crate) fn parse_fmtp(value: &str) -> Option<(u8, &str)> {
    let value = value.trim();
    let (pt, params) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    Some((payload_type(pt)?, params.trim()))
}

pub(crate) fn parse_millis(value: &str) -> Option<u32> {
    decimal(value.trim())
}

/// An RTP payload type, 0–127.
pub(crate) fn payload_type(text: &str) -> Option<u8> {
    decimal(text).filter(|pt| *pt <= 127)
}

/// A plain decimal number: digits only, because `str::parse` would also take a sign, and a `+5` in SDP
/// would print back as `5`.
pub(crate) fn decimal<T: std::str::FromStr>(text: &str) -> Option<T> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rtpmap_with_and_without_channels() {
        let (pt, map) = parse_rtpmap("96 opus/48000/2").expect("opus");
        assert_eq!(
            (pt, map.encoding.as_str(), map.clock_rate, map.channels),
            (96, "opus", 48_000, 2)
        );
        let (pt, map) = parse_rtpmap("101 telephone-event/8000").expect("te");
        assert_eq!((pt, map.clock_rate, map.channels), (101, 8000, 1));
        assert!(Codec::OPUS.matches(&parse_rtpmap("111 OPUS/48000/2").expect("upper").1));
        assert!(!Codec::OPUS.matches(&parse_rtpmap("111 opus/48000").expect("mono").1));
    }

    #[test]
    fn rejects_unreadable_rtpmaps() {
        for bad in [
            "",
            "96",
            "96 opus",
            "96 opus/",
            "96 /8000",
            "128 x/8000",
            "+9 x/8000",
            "9 x/8000/1/2",
            "9 x/0",
            "9 x/-1",
            "9 x/99999999999",
        ] {
            assert_eq!(parse_rtpmap(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn static_payload_types_have_defaults() {
        let expect = [
            (0, "PCMU"),
            (8, "PCMA"),
            (9, "G722"),
            (18, "G729"),
            (13, "CN"),
        ];
        for (pt, name) in expect {
            let map = static_rtpmap(pt).expect("static");
            assert_eq!(
                (map.encoding.as_str(), map.clock_rate, map.channels),
                (name, 8000, 1)
            );
        }
        assert_eq!(static_rtpmap(96), None);
        assert_eq!(
            static_rtpmap(2),
            None,
            "PT 2 was G721, withdrawn by RFC 3551"
        );
    }

    #[test]
    fn event_ranges_and_the_rfc_4733_default() {
        let ranges = parse_event_ranges("0-15, 32,36-40").expect("valid");
        assert_eq!(
            ranges,
            vec![
                EventRange { first: 0, last: 15 },
                EventRange {
                    first: 32,
                    last: 32
                },
                EventRange {
                    first: 36,
                    last: 40
                },
            ]
        );
        assert_eq!(parse_event_ranges("15-0"), None);
        assert_eq!(parse_event_ranges("0-256"), None);
        assert_eq!(parse_event_ranges(""), None);
        let with = TelephoneEventFormat {
            payload_type: 101,
            clock_rate: 8000,
            events: Some(ranges),
        };
        assert!(with.supports(37) && !with.supports(16));
        let without = TelephoneEventFormat {
            events: None,
            ..with
        };
        assert!(without.supports(15) && !without.supports(16));
    }

    #[test]
    fn decimal_takes_digits_only() {
        assert_eq!(decimal::<u16>("65535"), Some(65_535));
        assert_eq!(decimal::<u16>("65536"), None);
        assert_eq!(decimal::<u16>("+1"), None);
        assert_eq!(decimal::<u16>(" 1"), None);
        assert_eq!(decimal::<u16>(""), None);
    }
}
