//! One side of a dialog (RFC 3261 §12) as the B2BUA keeps it, and the in-dialog requests it sends
//! (§12.2.1.1): ACK, BYE, CANCEL of the initial INVITE.

use sip_message::{
    CSeq, HeaderName, HeaderValue, Headers, Method, NameAddrRef, Request, Response, SipHeaders,
    Uri, Version,
};

use crate::transport::Peer;

/// Our view of one dialog.
#[derive(Debug, Clone)]
pub struct Dialog {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: Option<String>,
    /// From of our requests (name-addr text, without tag).
    pub local_uri: String,
    /// To of our requests (name-addr text, without tag).
    pub remote_uri: String,
    /// Request-URI of in-dialog requests: the peer's Contact.
    pub remote_target: Uri,
    /// Route headers of in-dialog requests, in order (from Record-Route).
    pub route_set: Vec<String>,
    pub local_cseq: u32,
    /// Where in-dialog requests go: the address the peer's messages come from (a phone behind NAT
    /// puts an unreachable address in its Contact).
    pub peer: Peer,
}

/// The Contact URI of a message, if it has one.
pub(crate) fn contact_uri<M: SipHeaders>(m: &M) -> Option<Uri> {
    let v = m.headers().get(&HeaderName::Contact)?;
    let mut first = None;
    NameAddrRef::for_each(v, "Contact", |na| {
        if first.is_none() {
            first = Some(na.uri_text.to_string());
        }
    })
    .ok()?;
    Uri::parse(first?.as_bytes()).ok()
}

/// Name-addr text of From/To without the tag parameter.
pub(crate) fn without_tag(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    let mut out = String::with_capacity(text.len());
    for (i, part) in split_params(&text).into_iter().enumerate() {
        let p = part.trim();
        if i > 0 && p.len() >= 4 && p[..4].eq_ignore_ascii_case("tag=") {
            continue;
        }
        if i > 0 {
            out.push(';');
        }
        out.push_str(part);
    }
    out
}

/// Splits header parameters at `;` outside `<…>` and quotes.
fn split_params(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => depth += 1,
            '>' if !quoted => depth -= 1,
            ';' if !quoted && depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

impl Dialog {
    /// The UAS side, from the INVITE we received and the tag we answer with.
    pub fn as_uas(invite: &Request, local_tag: String, peer: Peer) -> Option<Dialog> {
        let headers = invite.headers();
        let from = headers.get(&HeaderName::From)?;
        let to = headers.get(&HeaderName::To)?;
        let route_set = headers
            .get_all(&HeaderName::RecordRoute)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect();
        Some(Dialog {
            call_id: invite.call_id()?.to_string(),
            local_tag,
            remote_tag: invite.from()?.tag().map(str::to_string),
            local_uri: without_tag(to),
            remote_uri: without_tag(from),
            remote_target: contact_uri(invite).unwrap_or_else(|| invite.uri.clone()),
            route_set,
            local_cseq: 0,
            peer,
        })
    }

    /// Completes the UAC side from a 2xx (or 1xx with tag) to our INVITE.
    pub fn confirm_as_uac(&mut self, resp: &Response) {
        if let Some(tag) = resp.to().and_then(|t| t.tag().map(str::to_string)) {
            self.remote_tag = Some(tag);
        }
        if let Some(uri) = contact_uri(resp) {
            self.remote_target = uri;
        }
        // §12.1.2: the route set is the Record-Route of the response, in reverse order.
        let mut routes: Vec<String> = resp
            .headers()
            .get_all(&HeaderName::RecordRoute)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect();
        routes.reverse();
        self.route_set = routes;
    }

    /// A request within the dialog (`cseq` given for ACK and CANCEL, which reuse the INVITE's).
    pub fn request(
        &mut self,
        method: Method,
        via: &str,
        contact: &str,
        cseq: Option<u32>,
    ) -> Request {
        let seq = match cseq {
            Some(s) => s,
            None => {
                self.local_cseq += 1;
                self.local_cseq
            }
        };
        let mut headers = Headers::default();
        headers.push(HeaderName::Via, via.to_string());
        headers.push(HeaderName::MaxForwards, "70");
        for r in &self.route_set {
            headers.push(HeaderName::Route, r.clone());
        }
        headers.push(
            HeaderName::From,
            format!("{};tag={}", self.local_uri, self.local_tag),
        );
        let to = match &self.remote_tag {
            Some(t) => format!("{};tag={t}", self.remote_uri),
            None => self.remote_uri.clone(),
        };
        headers.push(HeaderName::To, to);
        headers.push(HeaderName::CallId, self.call_id.clone());
        headers.push(
            HeaderName::CSeq,
            CSeq {
                seq,
                method: method.clone(),
            }
            .to_string(),
        );
        if matches!(method, Method::Invite | Method::Ack) {
            headers.push(HeaderName::Contact, contact.to_string());
        }
        headers.push(HeaderName::ContentLength, HeaderValue::from("0"));
        Request {
            method,
            uri: self.remote_target.clone(),
            version: Version::SIP_2_0,
            headers,
            body: bytes::Bytes::new(),
        }
    }
}
