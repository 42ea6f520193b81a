//! The media core of Switchboard: RTP/RTCP relay, SRTP/WebRTC bridging, transcoding, prompts, DTMF and
//! recording.
//!
//! Nothing here is built yet: the Foundation ships without media, so a call cannot be anchored through this
//! node until the media core lands (issue "Media core"). The crate exists so the workspace layout already
//! shows where that code goes and so the dependency direction (types ← cores ← shells ← binary) is fixed.
