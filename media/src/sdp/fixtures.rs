//! Descriptions as the peers Switchboard meets write them (addresses moved to the documentation ranges).

/// A carrier SBC's initial INVITE: A-law first, μ-law, RFC 4733 events as 101, 20 ms packets.
pub const CARRIER_OFFER: &str = "v=0\r\n\
o=Sonus_UAC 417213 802654 IN IP4 203.0.113.10\r\n\
s=SIP Media Capabilities\r\n\
c=IN IP4 203.0.113.20\r\n\
t=0 0\r\n\
m=audio 27528 RTP/AVP 8 0 101\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=sendrecv\r\n\
a=ptime:20\r\n\
a=maxptime:40\r\n";

/// baresip 3.x with Opus enabled: Opus as dynamic 96 with fmtp, G.711 without rtpmap for PCMU (static
/// types may omit it), events as 101, rtcp-mux, bare LF line ends as some builds log and send them.
pub const BARESIP_OFFER: &str = "v=0\n\
o=- 1931359286 2043483371 IN IP4 198.51.100.50\n\
s=-\n\
c=IN IP4 198.51.100.50\n\
t=0 0\n\
a=tool:baresip 3.10.1\n\
m=audio 10330 RTP/AVP 96 0 8 101\n\
b=AS:128\n\
a=rtpmap:96 opus/48000/2\n\
a=fmtp:96 stereo=1;sprop-stereo=1;maxaveragebitrate=28000\n\
a=rtpmap:8 PCMA/8000\n\
a=rtpmap:101 telephone-event/8000\n\
a=fmtp:101 0-15\n\
a=rtcp-mux\n\
a=sendrecv\n\
a=label:1\n\
a=ssrc:2921187613 cname:b0b4d3ac-01f1-4d4a-a2c4-8d1a4e3b3c55\n\
a=ptime:20\n";

/// Asterisk 20 (chan_pjsip) answering an offer of PCMU, PCMA and events: μ-law only, its own `a=rtcp`
/// absent, events 0-16.
pub const ASTERISK_ANSWER: &str = "v=0\r\n\
o=- 1697450220 1697450222 IN IP4 198.51.100.7\r\n\
s=Asterisk\r\n\
c=IN IP4 198.51.100.7\r\n\
t=0 0\r\n\
m=audio 14508 RTP/AVP 0 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=maxptime:150\r\n\
a=sendrecv\r\n";

/// Chromium's audio-only offer: DTLS-SRTP with ICE, BUNDLE, rtcp-mux, Opus 111 first and a long tail of
/// audio codecs, events at both 48000 (110) and 8000 (126) Hz.
pub const CHROMIUM_OFFER: &str = "v=0\r\n\
o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0\r\n\
a=extmap-allow-mixed\r\n\
a=msid-semantic: WMS 0b5f2c0a-8d16-4c1e-9a3e-1d7bbd0f6e42\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n\
c=IN IP4 0.0.0.0\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\n\
a=candidate:1467250027 1 udp 2122260223 192.0.2.196 46243 typ host generation 0 network-id 1\r\n\
a=candidate:435653019 1 tcp 1518280447 192.0.2.196 9 typ host tcptype active generation 0 network-id 1\r\n\
a=candidate:3085011778 1 udp 1686052607 203.0.113.77 46243 typ srflx raddr 192.0.2.196 rport 46243 generation 0 network-id 1\r\n\
a=ice-ufrag:Q1Xf\r\n\
a=ice-pwd:pXzWFyCuzMDD3qkq6K2pwmg4\r\n\
a=ice-options:trickle\r\n\
a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08\r\n\
a=setup:actpass\r\n\
a=mid:0\r\n\
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n\
a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n\
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
a=sendrecv\r\n\
a=msid:0b5f2c0a-8d16-4c1e-9a3e-1d7bbd0f6e42 5b2d8c1e-7a4f-4f0e-b1c9-2e6d9f3a8c71\r\n\
a=rtcp-mux\r\n\
a=rtpmap:111 opus/48000/2\r\n\
a=rtcp-fb:111 transport-cc\r\n\
a=fmtp:111 minptime=10;useinbandfec=1\r\n\
a=rtpmap:63 red/48000/2\r\n\
a=fmtp:63 111/111\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:13 CN/8000\r\n\
a=rtpmap:110 telephone-event/48000\r\n\
a=rtpmap:126 telephone-event/8000\r\n\
a=ssrc:3735928559 cname:4TOk42mSjXCkVIa6\r\n\
a=ssrc:3735928559 msid:0b5f2c0a-8d16-4c1e-9a3e-1d7bbd0f6e42 5b2d8c1e-7a4f-4f0e-b1c9-2e6d9f3a8c71\r\n";

/// A softphone offering video next to audio; the relay only carries the audio.
pub const AUDIO_VIDEO_OFFER: &str = "v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 198.51.100.60\r\n\
s=-\r\n\
c=IN IP4 198.51.100.60\r\n\
t=0 0\r\n\
m=video 51372 RTP/AVP 96\r\n\
a=rtpmap:96 H264/90000\r\n\
a=fmtp:96 profile-level-id=42e01f;packetization-mode=1\r\n\
m=audio 49170 RTP/AVP 0 101\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=rtcp:49175 IN IP4 198.51.100.61\r\n";

/// An old gateway putting the call on hold the RFC 2543 way: `c=0.0.0.0`, no direction attribute.
pub const RFC2543_HOLD_OFFER: &str = "v=0\r\n\
o=gw 100 101 IN IP4 203.0.113.30\r\n\
s=-\r\n\
c=IN IP4 0.0.0.0\r\n\
t=0 0\r\n\
m=audio 20000 RTP/AVP 0 8 101\r\n\
a=rtpmap:101 telephone-event/8000\r\n";

pub fn parse(text: &str) -> super::SessionDescription {
    match super::SessionDescription::parse(text.as_bytes()) {
        Ok(description) => description,
        Err(e) => panic!("fixture does not parse: {e}\n{text}"),
    }
}
