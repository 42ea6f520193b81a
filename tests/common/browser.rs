//! A staff member's browser (headless Chromium driven by `tests/browser/sip_phone.mjs`, with the
//! JsSIP the node serves) registered over SIP over WebSocket. The script reports what happens as
//! JSON lines; tests wait for them with a deadline.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::baresip::KillOnDrop;

pub struct BrowserPhone {
    child: KillOnDrop,
    stdin: Option<ChildStdin>,
    reports: mpsc::Receiver<Value>,
    /// Everything reported so far, for failure messages.
    pub seen: Vec<Value>,
}

impl BrowserPhone {
    /// Opens a page of the node at `http` and registers `user` (password `demo-<user>`) through the
    /// WebSocket URL `socket` (`ws://…` or `wss://…`).
    pub fn start(http: std::net::SocketAddr, socket: &str, user: &str, log_dir: &Path) -> Self {
        Self::start_with_audio(http, socket, user, log_dir, None)
    }

    /// Like [`BrowserPhone::start`], with the fake microphone playing `fake_audio` (a WAV file).
    pub fn start_with_audio(
        http: std::net::SocketAddr,
        socket: &str,
        user: &str,
        log_dir: &Path,
        fake_audio: Option<&Path>,
    ) -> Self {
        let args = [
            format!("http://{http}/healthz"),
            socket.to_owned(),
            user.to_owned(),
            format!("demo-{user}"),
            "127.0.0.1".to_owned(),
        ];
        Self::spawn(
            "sip_phone.mjs",
            &args,
            &log_dir.join(format!("browser-{user}.log")),
            fake_audio,
            None,
        )
    }

    /// The node's own softphone page (`/phone`), driven by `tests/browser/phone_page.mjs` as a
    /// person would use it; a screenshot is written to `screenshot` when it closes.
    pub fn open_phone_page(
        http: std::net::SocketAddr,
        log: &Path,
        fake_audio: Option<&Path>,
        screenshot: &Path,
    ) -> Self {
        let args = [format!("http://{http}/phone")];
        Self::spawn("phone_page.mjs", &args, log, fake_audio, Some(screenshot))
    }

    fn spawn(
        script: &str,
        args: &[String],
        log: &Path,
        fake_audio: Option<&Path>,
        screenshot: Option<&Path>,
    ) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/browser")
            .join(script);
        let log = std::fs::File::create(log).expect("browser log");
        let mut command = Command::new("node");
        if let Some(wav) = fake_audio {
            command.env("FAKE_AUDIO", wav);
        }
        if let Some(png) = screenshot {
            command.env("SCREENSHOT", png);
        }
        let mut child = command
            .arg(script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("node runs the browser script (tests/run installs it)");
        let stdout = child.stdout.take().expect("stdout");
        let stdin = child.stdin.take();
        let (tx, reports) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if tx.send(v).is_err() {
                        return;
                    }
                }
            }
        });
        BrowserPhone {
            child: KillOnDrop(child),
            stdin,
            reports,
            seen: Vec::new(),
        }
    }

    /// The first report (from now on) that `wanted` accepts; panics after `timeout`.
    pub fn wait_report(
        &mut self,
        what: &str,
        timeout: Duration,
        wanted: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.reports.recv_timeout(left) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if wanted(&v) {
                        return v;
                    }
                }
                Err(_) => panic!(
                    "timed out waiting for the browser: {what}; it reported {:?}",
                    self.seen
                ),
            }
        }
    }

    /// The codec of the audio the browser receives (`audio/opus`, `audio/PCMU`), from its WebRTC
    /// statistics; asked again until one is known (statistics lag the first packets).
    pub fn received_codec(&mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            self.command("codec");
            let report = self.wait_report("the received codec", Duration::from_secs(10), |r| {
                r.get("codec").is_some()
            });
            if let Some(codec) = report["codec"].as_str() {
                return codec.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "no codec in the browser's statistics"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// A command to the page script (`call <uri>`, `listen <hz> <ms>`, `dtmf <keys>`, `hangup`).
    pub fn command(&mut self, line: &str) {
        if let Some(stdin) = self.stdin.as_mut() {
            stdin
                .write_all(format!("{line}\n").as_bytes())
                .expect("the browser script takes commands");
        }
    }

    /// Quits the browser at once: its WebSocket drops without an unregistration.
    pub fn close(mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"close\n");
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
