//! DTMF in SIP INFO (`application/dtmf-relay`, `application/dtmf`): what JsSIP sends by default and
//! what some desk phones and mobile SDKs prefer to RFC 4733 events in the media. A digit in an INFO
//! on one of a call's dialogs is reported like a digit the relay found in that dialog's leg
//! ([`CallEvent::Dtmf`]), so voice menus and "press 1" questions take either. Digits are not passed
//! on to the other side (an INFO is consumed here, as RFC 4733 digits are while a menu listens).

use sip_message::{HeaderName, Request, SipHeaders};

use super::{CallEvent, Calls};

impl Calls {
    /// An INFO within one of a call's dialogs: `Some(200)` (a digit reported, or an empty INFO,
    /// which RFC 6086 clients send as a probe), `Some(415)` for a body we do not read, `Some(400)`
    /// for a DTMF body without a digit; `None` when no call has this dialog (481).
    pub fn handle_info(&mut self, req: &Request) -> Option<u16> {
        let (call, leg) = match self.find_inbound(req) {
            Some(call) => (call, self.calls.get(&call)?.inbound.leg),
            None => {
                let &(call, index) = req
                    .call_id()
                    .and_then(|id| self.by_branch_call_id.get(id))?;
                let c = self.calls.get(&call)?;
                let leg = if index == super::originate::ORIGIN {
                    c.inbound.leg
                } else {
                    let b = c.branches.get(index)?;
                    b.own_leg.map(|(leg, _)| leg).or(c.callee_leg)?
                };
                (call, leg)
            }
        };
        if req.body.is_empty() {
            return Some(200);
        }
        let content_type = req
            .headers
            .get(&HeaderName::ContentType)
            .map(|v| String::from_utf8_lossy(v).to_ascii_lowercase())
            .unwrap_or_default();
        let media_type = content_type.split(';').next().unwrap_or("").trim();
        let body = String::from_utf8_lossy(&req.body);
        let digit = match media_type {
            "application/dtmf-relay" => dtmf_relay_digit(&body),
            "application/dtmf" => digit_of(body.trim()),
            _ => return Some(415),
        };
        match digit {
            Some(digit) => {
                self.events.push_back(CallEvent::Dtmf { call, leg, digit });
                Some(200)
            }
            None => Some(400),
        }
    }
}

/// `Signal=5` (with `Duration=…` and any other lines) as Cisco and most phones send it.
fn dtmf_relay_digit(body: &str) -> Option<char> {
    body.lines().find_map(|line| {
        let (name, value) = line.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("signal")
            .then(|| digit_of(value.trim()))
            .flatten()
    })
}

/// One key: `0`–`9`, `*`, `#`, `A`–`D`, or the event codes 10 and 11 some phones send for `*`, `#`.
fn digit_of(value: &str) -> Option<char> {
    match value {
        "10" => Some('*'),
        "11" => Some('#'),
        v if v.chars().count() == 1 => {
            let c = v.chars().next()?.to_ascii_uppercase();
            (c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D')).then_some(c)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_read_from_both_bodies_and_nothing_else_is() {
        assert_eq!(dtmf_relay_digit("Signal=5\r\nDuration=160\r\n"), Some('5'));
        assert_eq!(dtmf_relay_digit("Duration=100\nsignal= #\n"), Some('#'));
        assert_eq!(dtmf_relay_digit("Signal=10\r\n"), Some('*'));
        assert_eq!(dtmf_relay_digit("Signal=d"), Some('D'));
        assert_eq!(dtmf_relay_digit("Duration=160"), None);
        assert_eq!(dtmf_relay_digit("Signal=55"), None);
        assert_eq!(dtmf_relay_digit("Signal=E"), None);
        assert_eq!(digit_of("7"), Some('7'));
        assert_eq!(digit_of("é"), None);
        assert_eq!(digit_of(""), None);
    }
}
