//! baresip as a staff member's phone in end-to-end tests: registered, auto-answering, sending a sine,
//! recording what it decodes, and steered through its control socket (dial, hold, resume, transfer,
//! hang up) as a person would with the buttons. Runs inside a test's private namespace (it needs the
//! veth address; see ../shared/peers/README.md).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use switchboard_media::wav::WavAudio;

use super::{registrations, wait_until, Server};

/// One `length:payload,` netstring from baresip's control socket; `None` on a closed or silent
/// socket or a malformed frame.
fn read_netstring(reader: &mut impl std::io::BufRead) -> Option<String> {
    let mut length = Vec::new();
    reader.read_until(b':', &mut length).ok()?;
    let length: usize = std::str::from_utf8(length.strip_suffix(b":")?)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let mut payload = vec![0u8; length.checked_add(1)?.min(1 << 20)];
    reader.read_exact(&mut payload).ok()?;
    (payload.pop() == Some(b',')).then(|| String::from_utf8_lossy(&payload).into_owned())
}

/// A child process that dies with the test, pass or fail.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub struct Phone<'a> {
    /// Username and password of a demo user (`demo-<user>`).
    pub user: &'a str,
    /// The SIP port baresip listens on (it also takes the next one: space instances apart).
    pub sip_port: u16,
    pub ctrl_port: u16,
    pub rtp_ports: (u16, u16),
    /// The sine it sends.
    pub tone_hz: u32,
    /// Log every SIP message (`-s`), for tests that need dialog identifiers.
    pub sip_trace: bool,
    /// How it registers: `udp`, `tcp` or `tls` (to the server's TLS listener, trusting the
    /// `cert.pem` in the server's directory: see `common::tls::self_signed`).
    pub transport: &'a str,
}

pub struct Baresip {
    _child: KillOnDrop,
    pub dir: PathBuf,
    ctrl_port: u16,
}

impl Baresip {
    /// Starts baresip in `dir` registered as `phone.user` at `server`, and waits for the registration.
    pub fn start(dir: &Path, server: &Server, phone: Phone<'_>) -> Baresip {
        Baresip::start_with_media_encryption(dir, server, phone, None)
    }

    /// Like [`Baresip::start`], with the `srtp` module and its account's `mediaenc` (`srtp`: SDES
    /// offered with RTP/AVP, `srtp-mand`: RTP/SAVP only).
    pub fn start_with_media_encryption(
        dir: &Path,
        server: &Server,
        phone: Phone<'_>,
        mediaenc: Option<&str>,
    ) -> Baresip {
        let (target, mut extra) = if phone.transport == "tls" {
            let tls = server.sip_tls.expect("the server has a TLS listener");
            let ca = format!("sip_cafile {}\n", server.dir.join("cert.pem").display());
            (tls, ca)
        } else {
            (server.sip, String::new())
        };
        let mut account = format!(
            "<sip:{u}@{}:{};transport={}>;auth_pass=demo-{u};regint=60;answermode=auto;audio_codecs=PCMU",
            target.ip(),
            target.port(),
            phone.transport,
            u = phone.user
        );
        if let Some(mediaenc) = mediaenc {
            extra.push_str("module srtp.so\n");
            account.push_str(&format!(";mediaenc={mediaenc}"));
        }
        account.push('\n');
        let phone_user = phone.user.to_string();
        let b = Baresip::spawn(dir, &phone, &extra, &account);
        wait_until(
            &format!("{phone_user}'s registration"),
            Duration::from_secs(5),
            || registrations(server).iter().any(|r| r["aor"] == phone_user),
        );
        b
    }

    /// Starts baresip as a carrier that registers nowhere and answers calls to `phone.user` (a
    /// number) on its TLS port (`sip_port` + 1), presenting `certificate` (a PEM with the chain and
    /// the key).
    pub fn start_tls_carrier(dir: &Path, phone: Phone<'_>, certificate: &Path) -> Baresip {
        Baresip::start_carrier(dir, phone, Some(certificate))
    }

    /// Demo user 1002 on a UDP phone (PCMU, a 1 kHz tone), registered with `server`: the colleague
    /// the browser tests call and are called by.
    pub fn start_colleague_1002(dir: &Path, server: &Server) -> Baresip {
        Baresip::start(
            dir,
            server,
            Phone {
                user: "1002",
                sip_port: 15070,
                ctrl_port: 4445,
                rtp_ports: (40200, 40300),
                tone_hz: 1000,
                sip_trace: false,
                transport: "udp",
            },
        )
    }

    /// A citizen, +47 912 34 567, calling through a plain-UDP carrier (baresip, PCMU, a 1 kHz
    /// tone) from the test namespace's address: the demo trunk is pointed at it first.
    pub fn start_citizen(dir: &Path, server: &Server) -> Baresip {
        super::point_demo_trunk(
            server,
            r#"{"name":"carrier","host":"10.200.0.1","port":15080,"transport":"udp","inbound_sources":["10.200.0.1/32"]}"#,
            "10.200.0.1:15080",
        );
        Baresip::start_carrier(
            &dir.join("citizen"),
            Phone {
                user: "4791234567",
                sip_port: 15080,
                ctrl_port: 4446,
                rtp_ports: (40400, 40500),
                tone_hz: 1000,
                sip_trace: false,
                transport: "udp",
            },
            None,
        )
    }

    /// Starts baresip as a carrier answering calls to `phone.user` and placing calls from it: on
    /// its UDP port (`sip_port`), or on its TLS port (`sip_port` + 1) presenting `certificate`.
    pub fn start_carrier(dir: &Path, phone: Phone<'_>, certificate: Option<&Path>) -> Baresip {
        let Some(certificate) = certificate else {
            let account = format!(
                "<sip:{}@10.200.0.1:{};transport=udp>;regint=0;answermode=auto;audio_codecs=PCMU\n",
                phone.user, phone.sip_port
            );
            return Baresip::spawn(dir, &phone, "", &account);
        };
        let config = format!("sip_certificate {}\n", certificate.display());
        let account = format!(
            "<sip:{}@10.200.0.1:{};transport=tls>;regint=0;answermode=auto;audio_codecs=PCMU\n",
            phone.user,
            phone.sip_port + 1
        );
        Baresip::spawn(dir, &phone, &config, &account)
    }

    fn spawn(dir: &Path, phone: &Phone<'_>, extra_config: &str, account: &str) -> Baresip {
        std::fs::create_dir_all(dir).expect("baresip dir");
        std::fs::write(
            dir.join("config"),
            format!(
                "{extra_config}sip_listen 10.200.0.1:{}\nmodule_path /usr/lib/baresip/modules\nmodule g711.so\n\
                 module ausine.so\nmodule sndfile.so\nmodule account.so\nmodule menu.so\n\
                 module ctrl_tcp.so\nctrl_tcp_listen 127.0.0.1:{}\nnet_interface v0\n\
                 audio_alert aufile,/dev/null\naudio_source ausine,{}\nausrc_srate 48000\n\
                 ausrc_channels 2\nauplay_srate 48000\nrtp_ports {}-{}\nsnd_path {}\n",
                phone.sip_port,
                phone.ctrl_port,
                phone.tone_hz,
                phone.rtp_ports.0,
                phone.rtp_ports.1,
                dir.display()
            ),
        )
        .expect("baresip config");
        std::fs::write(dir.join("accounts"), account).expect("baresip accounts");
        let log = std::fs::File::create(dir.join("baresip.log")).expect("log");
        // Unbuffered: a test reads the SIP trace while the call goes on.
        let child = Command::new("stdbuf")
            .args(["-o0", "-e0", "baresip", "-f"])
            .arg(dir)
            .args(["-t", "40"])
            .args(if phone.sip_trace { &["-s"][..] } else { &[] })
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("baresip runs (apt-get install baresip-core)");
        Baresip {
            _child: KillOnDrop(child),
            dir: dir.to_path_buf(),
            ctrl_port: phone.ctrl_port,
        }
    }

    /// A menu command through ctrl_tcp (`dial`, `hold`, `resume`, `transfer`, `hangup`).
    pub fn command(&self, command: &str, params: &str) {
        let json = format!(r#"{{"command":"{command}","params":"{params}"}}"#);
        // A baresip just started may not listen on its control port yet.
        let mut ctrl = None;
        wait_until("baresip's control socket", Duration::from_secs(5), || {
            ctrl = std::net::TcpStream::connect(("127.0.0.1", self.ctrl_port)).ok();
            ctrl.is_some()
        });
        let Some(mut ctrl) = ctrl else {
            unreachable!("wait_until returns once connected")
        };
        std::io::Write::write_all(&mut ctrl, format!("{}:{json},", json.len()).as_bytes())
            .expect("ctrl command");
        // Wait for the reply (closing at once can drop the command); events may come first.
        ctrl.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("read timeout");
        let mut reader = std::io::BufReader::new(ctrl);
        loop {
            let message = read_netstring(&mut reader)
                .unwrap_or_else(|| panic!("no reply to `{command}`: {}", self.log()));
            if message.contains("\"response\":true") {
                return;
            }
        }
    }

    /// Stops baresip (its recordings are complete afterwards).
    pub fn stop(&mut self) {
        let _ = self._child.0.kill();
        let _ = self._child.0.wait();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("baresip.log")).unwrap_or_default()
    }

    /// What baresip decoded from its (first) call, written by the sndfile module.
    pub fn decoded(&self) -> WavAudio {
        self.decoded_so_far()
            .unwrap_or_else(|| panic!("no decoded recording from baresip: {}", self.log()))
    }

    /// What baresip has decoded so far. The sndfile module writes samples as they come but fills
    /// in the WAV sizes only when the call ends (not at all when baresip is killed first), so
    /// sizes that are missing or point past the end are taken from the file's length. `None`
    /// before the file exists.
    pub fn decoded_so_far(&self) -> Option<WavAudio> {
        let mut bytes = std::fs::read(self.decoded_path()?).ok()?;
        // Walk the RIFF chunks to `data`.
        let mut at = 12;
        while at + 8 <= bytes.len() {
            let size = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().ok()?) as usize;
            if &bytes[at..at + 4] == b"data" {
                if size == 0 || at + 8 + size > bytes.len() {
                    let data = u32::try_from(bytes.len() - at - 8).ok()?;
                    bytes[at + 4..at + 8].copy_from_slice(&data.to_le_bytes());
                    let riff = u32::try_from(bytes.len() - 8).ok()?;
                    bytes[4..8].copy_from_slice(&riff.to_le_bytes());
                }
                return switchboard_media::wav::read(&bytes).ok();
            }
            at += 8 + size + (size & 1);
        }
        None
    }

    /// Waits until what baresip decoded so far satisfies `heard` (polled every 100 ms).
    pub fn wait_heard(
        &self,
        what: &str,
        timeout: Duration,
        mut heard: impl FnMut(&WavAudio) -> bool,
    ) {
        wait_until(what, timeout, || {
            self.decoded_so_far().is_some_and(|audio| heard(&audio))
        });
    }

    fn decoded_path(&self) -> Option<std::path::PathBuf> {
        std::fs::read_dir(&self.dir)
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().ends_with("-dec.wav"))
            // Named by the call's start time: the first call's sorts first.
            .min()
    }
}
