//! `switchboard serve`: wires database, SIP core, persistence and HTTP together, and shuts them down in order.

use std::collections::HashSet;
use std::time::Duration;

use mobile_api::SipRequest;
use sip_core::auth::{DigestAlgorithm, UserSecrets};
use sip_core::guard::GuardConfig;
use sip_core::transaction::TimerConfig;
use sip_core::{Endpoint, EndpointConfig, MemoryLocation, RegistrarConfig};
use sip_transport::{Command, Listeners};
use switchboard_schema::Db;
use tokio::sync::{mpsc, watch};

use crate::config::Config;
use crate::{demo, persist, AppError};

pub struct ServeOptions {
    pub demo: bool,
    /// The demo's main number ignores opening hours.
    pub demo_open: bool,
    /// Once serving, the bound addresses are written here as JSON (`sip`, `sip_tls`, `http`): for
    /// a supervisor or a test that started the node on port 0.
    pub ready_file: Option<std::path::PathBuf>,
}

fn endpoint_config(cfg: &Config, secret: [u8; 32]) -> Result<EndpointConfig, AppError> {
    let r = &cfg.registrar;
    let algorithms = r
        .algorithms
        .iter()
        .map(|a| {
            DigestAlgorithm::parse(a)
                .ok_or_else(|| AppError::Usage(format!("unknown digest algorithm {a:?}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if algorithms.is_empty() {
        return Err(AppError::Usage(
            "registrar.algorithms must name at least one algorithm".into(),
        ));
    }
    let trusted_sources = r
        .trusted_sources
        .iter()
        .map(|c| {
            switchboard_schema::parse_cidr(c)
                .map_err(|e| AppError::Usage(format!("registrar.trusted_sources: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(EndpointConfig {
        registrar: RegistrarConfig {
            realm: cfg.sip.realm.clone(),
            min_expires: r.min_expires,
            max_expires: r.max_expires,
            default_expires: r.default_expires,
            max_contacts_per_aor: r.max_contacts_per_user,
            nonce_ttl: Duration::from_secs(r.nonce_ttl_secs),
            algorithms,
            guard: GuardConfig {
                max_failures: cfg.auth_guard.max_failures,
                window: Duration::from_secs(cfg.auth_guard.window_secs),
                ban: Duration::from_secs(cfg.auth_guard.ban_secs),
            },
            trusted_sources,
        },
        timers: TimerConfig::default(),
        seed: rand::random(),
        nonce_secret: secret,
        push_wait: Duration::from_secs(cfg.push.wait_secs),
        shield: sip_core::shield::ShieldConfig {
            rate: cfg.shield.rate_per_source,
            burst: cfg.shield.burst_per_source,
            flood_drops: cfg.shield.flood_drops_per_sec,
            ban: Duration::from_secs(cfg.shield.ban_secs),
            scanner_agents: cfg
                .shield
                .scanner_user_agents
                .iter()
                .map(|a| a.to_ascii_lowercase())
                .collect(),
        },
        ..EndpointConfig::default()
    })
}

/// The addresses of the optional listeners, once bound.
#[derive(Debug, Clone, Copy, Default)]
pub struct SecureAddrs {
    pub tls: Option<std::net::SocketAddr>,
    pub ws: Option<std::net::SocketAddr>,
    pub wss: Option<std::net::SocketAddr>,
}

/// The TLS and WebSocket listeners for phones (`[sip] tls_listen`, `ws_listen`, `wss_listen`) and
/// the CAs trunks are checked against. Unreadable certificate or key files stop the start: a node
/// silently without TLS would leave its phones unregistered.
async fn add_secure_listeners(
    cfg: &Config,
    listeners: &mut Listeners,
) -> Result<SecureAddrs, AppError> {
    let path = |p: &std::path::PathBuf| cfg.base_dir.join(p);
    let ca = cfg.sip.tls_ca_file.as_ref().map(path);
    listeners.tls_client = Some(sip_transport::tls_client_config(ca.as_deref())?);
    let bind_error = |addr| {
        move |e| match e {
            sip_transport::TransportError::Io(io) => AppError::Bind(addr, io),
            e => e.into(),
        }
    };
    let mut addrs = SecureAddrs::default();
    if let Some(addr) = cfg.sip.ws_listen {
        let bound = listeners.bind_ws(addr).await.map_err(bind_error(addr))?;
        tracing::info!(%bound, "SIP over WebSocket enabled");
        addrs.ws = Some(bound);
    }
    if cfg.sip.tls_listen.is_none() && cfg.sip.wss_listen.is_none() {
        return Ok(addrs);
    }
    let (Some(cert), Some(key)) = (&cfg.sip.tls_certificate, &cfg.sip.tls_private_key) else {
        return Err(AppError::Usage(
            "[sip] tls_listen and wss_listen need tls_certificate and tls_private_key".into(),
        ));
    };
    let (server, certificate) = sip_transport::tls_server_config(&path(cert), &path(key))?;
    listeners.certificate = Some(certificate);
    if let Some(addr) = cfg.sip.tls_listen {
        let bound = listeners
            .bind_tls(addr, server.clone())
            .await
            .map_err(bind_error(addr))?;
        tracing::info!(%bound, "SIP over TLS enabled");
        addrs.tls = Some(bound);
    }
    if let Some(addr) = cfg.sip.wss_listen {
        let bound = listeners
            .bind_wss(addr, server)
            .await
            .map_err(bind_error(addr))?;
        tracing::info!(%bound, "SIP over secure WebSocket enabled");
        addrs.wss = Some(bound);
    }
    Ok(addrs)
}

/// The certificate files to watch for a renewal, and how often.
struct CertificateWatch {
    files: Vec<std::path::PathBuf>,
    every: std::time::Duration,
}

/// What identifies the files' contents cheaply: each one's modification time and length
/// (`None` for a file that cannot be read now, e.g. in the middle of being replaced).
fn file_stamps(files: &[std::path::PathBuf]) -> Vec<Option<(std::time::SystemTime, u64)>> {
    files
        .iter()
        .map(|f| {
            let meta = std::fs::metadata(f).ok()?;
            Some((meta.modified().ok()?, meta.len()))
        })
        .collect()
}

/// Reads the TLS certificate again on each SIGHUP, and when its files change (a renewed
/// certificate without a restart). A change seen while only one of the two files was replaced
/// fails to load and keeps the old certificate; the next change (the other file) loads both.
async fn reload_certificate(
    sip: mpsc::Sender<Command>,
    stop: watch::Receiver<bool>,
    watch: Option<CertificateWatch>,
) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups = signal(SignalKind::hangup())
        .map_err(|_| {
            tracing::warn!(
                "SIGHUP cannot be caught: TLS certificates reload on a file change or a restart"
            )
        })
        .ok();
    let mut ticks = watch.as_ref().map(|w| {
        let mut t = tokio::time::interval(w.every);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    let mut seen = watch.as_ref().map(|w| file_stamps(&w.files));
    let stopped = wait_stop(stop);
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            got = async { match hangups.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => {
                if got.is_none() { return }
            }
            _ = async { match ticks.as_mut() { Some(t) => { t.tick().await; } None => std::future::pending::<()>().await } } => {
                let (Some(w), Some(seen)) = (watch.as_ref(), seen.as_mut()) else { continue };
                let now = file_stamps(&w.files);
                if now == *seen {
                    continue;
                }
                *seen = now;
                tracing::info!("TLS certificate files changed: reloading");
            }
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        if sip.send(Command::ReloadCertificate(tx)).await.is_err() {
            return;
        }
        match rx.await {
            Ok(Ok(())) => tracing::info!("TLS certificate reloaded"),
            Ok(Err(why)) => {
                tracing::error!(%why, "TLS certificate not reloaded; the old one stays")
            }
            Err(_) => return,
        }
    }
}

fn secrets_of(c: &switchboard_schema::HashedCredentials) -> UserSecrets {
    UserSecrets {
        ha1_md5: c.ha1_md5.clone(),
        ha1_sha256: c.ha1_sha256.clone(),
    }
}

/// The sockets a node serves on, bound before it starts: `switchboard serve` binds the configured
/// addresses; a test binds port 0 and reads the addresses back.
pub struct Bound {
    pub sip: Listeners,
    /// SIP over UDP and TCP.
    pub sip_addr: std::net::SocketAddr,
    /// SIP over TLS, WebSocket and secure WebSocket, when configured.
    pub secure: SecureAddrs,
    pub http: tokio::net::TcpListener,
    pub http_addr: std::net::SocketAddr,
}

impl Bound {
    /// Binds the configured SIP (UDP, TCP, TLS) and HTTP addresses.
    pub async fn bind(cfg: &Config) -> Result<Bound, AppError> {
        let mut sip = Listeners::bind(cfg.sip.listen).await?;
        sip.max_connections_per_source = cfg.shield.connections_per_source.max(1);
        let sip_addr = sip.local_addr()?;
        let secure = add_secure_listeners(cfg, &mut sip).await?;
        let http = tokio::net::TcpListener::bind(cfg.http.listen)
            .await
            .map_err(|e| AppError::Bind(cfg.http.listen, e))?;
        let http_addr = http
            .local_addr()
            .map_err(|e| AppError::Bind(cfg.http.listen, e))?;
        Ok(Bound {
            sip,
            sip_addr,
            secure,
            http,
            http_addr,
        })
    }
}

/// The admin API's token, once its exposure is known to be safe: a node that would expose its
/// admin API does not start at all.
fn admin_token(cfg: &Config) -> Result<Option<String>, AppError> {
    let admin_token = cfg.admin_token()?;
    cfg.check_api_exposure(admin_token.as_ref().map(|(t, _)| t.as_str()))?;
    Ok(admin_token.map(|(token, created)| {
        if let Some(path) = created {
            tracing::warn!(file = %path.display(), "admin API token created (owner-only file): send it as `Authorization: Bearer <token>`");
        }
        token
    }))
}

/// The identity provider's client, when `[oidc] issuer` is set; a half-configured `[oidc]` stops the
/// node at start rather than failing each login.
fn oidc_client(
    cfg: &Config,
) -> Result<Option<std::sync::Arc<mobile_api::oidc::OidcClient>>, AppError> {
    let o = &cfg.oidc;
    let Some(issuer) = &o.issuer else {
        return Ok(None);
    };
    let usage = |what: &str| AppError::Usage(format!("[oidc]: {what}"));
    if o.client_id.is_empty() || o.redirect_uri.is_empty() {
        return Err(usage("issuer needs client_id and redirect_uri"));
    }
    let file = o
        .client_secret_file
        .as_ref()
        .ok_or_else(|| usage("issuer needs client_secret_file"))?;
    let path = cfg.base_dir.join(file);
    let secret = std::fs::read_to_string(&path)
        .map_err(|e| usage(&format!("cannot read {}: {e}", path.display())))?
        .trim()
        .to_owned();
    if secret.is_empty() {
        return Err(usage(&format!("{} is empty", path.display())));
    }
    let client = mobile_api::oidc::OidcClient::new(mobile_api::oidc::OidcSettings {
        issuer: issuer.clone(),
        client_id: o.client_id.clone(),
        client_secret: secret,
        redirect_uri: o.redirect_uri.clone(),
        username_claim: o.username_claim.clone(),
        roles_claim: o.roles_claim.clone(),
        role_map: o.role_map.clone(),
    })
    .map_err(|e| usage(&e))?;
    tracing::info!(%issuer, "OpenID Connect logins enabled");
    Ok(Some(std::sync::Arc::new(client)))
}

/// `switchboard serve`: checks the admin API's exposure before anything starts, connects the
/// database, binds the configured addresses and runs until `shutdown` completes (the binary passes
/// SIGINT or SIGTERM).
pub async fn serve(
    cfg: Config,
    opts: ServeOptions,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), AppError> {
    admin_token(&cfg)?;
    oidc_client(&cfg)?;
    raise_open_file_limit();
    let db = Db::connect(&cfg.database.url).await?;
    tracing::info!(url = %redact(&cfg.database.url), "database ready");
    let bound = Bound::bind(&cfg).await?;
    run(bound, db, cfg, opts, shutdown).await
}

/// Every call holds four relay sockets (RTP and RTCP per side): the default soft limit of 1,024
/// open files would cap a node at about 250 calls. Raise the soft limit to the hard one, as
/// rtpengine and Kamailio do, and say what it allows. When even that runs out, the relay refuses
/// calls at once (503 with Retry-After) instead of searching its port range.
pub fn raise_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own; setrlimit reads it. Process-wide, at start.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return;
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit = raised;
        }
    }
    tracing::info!(
        open_files = limit.rlim_cur,
        calls = limit.rlim_cur / 4,
        "open-file limit (each call holds four relay sockets)"
    );
}

/// Runs a node on `bound` sockets and the database `db` until `shutdown` completes, then stops
/// every part in order (SIP first, so no new call starts; the registration writer last, so it
/// flushes). The caller owns signals; a test passes a channel.
pub async fn run(
    bound: Bound,
    db: Db,
    cfg: Config,
    opts: ServeOptions,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), AppError> {
    let admin_token = admin_token(&cfg)?;
    if opts.demo {
        let n = demo::load(&db, &cfg.sip.realm, opts.demo_open).await?;
        if n > 0 {
            tracing::info!(users = n, "demo municipality loaded");
        }
    }
    let Bound {
        sip: listeners,
        sip_addr,
        secure,
        http,
        http_addr,
    } = bound;

    let sip_ip = crate::calls::advertised_ip(cfg.sip.advertised, sip_addr.ip());
    let media_cfg = switchboard_media_rt::MediaConfig {
        bind: cfg.media.bind,
        advertised: Some(cfg.media.advertised.unwrap_or(sip_ip)),
        port_min: cfg.media.port_min,
        port_max: cfg.media.port_max,
        threads: cfg.media.threads,
        relay: switchboard_media::relay::RelayConfig {
            media_timeout: std::time::Duration::from_secs(cfg.media.timeout_secs),
            ..Default::default()
        },
        ..Default::default()
    };
    let (media, media_events) =
        switchboard_media_rt::MediaRuntime::start(media_cfg).map_err(AppError::Media)?;
    tracing::info!(
        threads = media.threads(),
        ports = %format!("{}-{}", cfg.media.port_min, cfg.media.port_max),
        advertised = %media.advertised_ip(),
        "media relay ready"
    );

    let (now, now_unix_ms) = sip_transport::now_pair();
    let mut ep_cfg = endpoint_config(&cfg, cfg.nonce_secret()?)?;
    ep_cfg.calls.local = std::net::SocketAddr::new(sip_ip, sip_addr.port());
    ep_cfg.calls.tls_local = secure
        .tls
        .map(|a| std::net::SocketAddr::new(sip_ip, a.port()));
    // SRTP master keys: 256 bits from the OS for the key generator of this run.
    ep_cfg.calls.media_key_seed = rand::random();
    // Browsers' WebRTC offers are answered with the relay's DTLS certificate.
    ep_cfg.calls.dtls_fingerprint = Some(media.dtls_fingerprint().to_owned());
    let mut endpoint = Endpoint::new(ep_cfg, MemoryLocation::default(), now, now_unix_ms);
    let finals = crate::calls::FinalCounters::default();

    let mut known_users = std::collections::HashMap::new();
    for (user, creds) in db.all_credentials().await? {
        if creds.realm == cfg.sip.realm {
            endpoint.registrar_mut().set_user(&user, secrets_of(&creds));
            known_users.insert(user, secrets_of(&creds));
        } else {
            tracing::warn!(%user, realm = %creds.realm, "credentials are for another realm; reset the password");
        }
    }
    let restored = db.load_registrations((now_unix_ms / 1000) as i64).await?;
    let restored_count = restored.len();
    endpoint
        .registrar_mut()
        .restore(restored.into_iter().map(persist::from_stored).collect());
    let devices: Vec<_> = db
        .push_devices(None)
        .await?
        .into_iter()
        .filter_map(persist::device_from_stored)
        .collect();
    let device_count = devices.len();
    endpoint.registrar_mut().push_devices_mut().restore(devices);
    tracing::info!(
        users = known_users.len(),
        registrations = restored_count,
        push_devices = device_count,
        "state loaded"
    );
    let pushers = std::sync::Arc::new(crate::push::Pushers::from_settings(
        &cfg.push,
        &cfg.base_dir,
    )?);

    let (cmd_tx, cmd_rx) = mpsc::channel::<Command>(1024);
    let (changes_tx, changes_rx) = mpsc::unbounded_channel();
    let (devices_tx, devices_rx) = mpsc::unbounded_channel();
    let (pushes_tx, pushes_rx) = mpsc::unbounded_channel();
    let (call_events_tx, call_events_rx) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = watch::channel(false);

    let writer = tokio::spawn(persist::writer(db.clone(), changes_rx));
    let device_writer = tokio::spawn(persist::device_writer(db.clone(), devices_rx));
    let push_sender = tokio::spawn(crate::push::run(
        pushers,
        db.clone(),
        cmd_tx.clone(),
        pushes_rx,
    ));
    let sip = tokio::spawn(sip_transport::run(
        endpoint,
        listeners,
        cmd_rx,
        sip_transport::NodeOutputs {
            bindings: changes_tx,
            devices: devices_tx,
            pushes: pushes_tx,
            call_events: call_events_tx,
        },
        Some(Box::new(crate::calls::RelayControl {
            runtime: media.clone(),
            finals: finals.clone(),
        })),
        wait_stop(stop_rx.clone()),
    ));
    // The admin API's questions about live queues (agents, waiting callers) go to call control, and
    // so do its change notices.
    let (queue_tx, queue_rx) = mpsc::channel(64);
    let (config_tx, config_rx) = tokio::sync::broadcast::channel(64);
    // Receptionists' feeds: a slow one lags (and is told so), never holds up call control.
    let live_tx = mobile_api::EventHub::new();
    // The API's view of calls in progress and its recording commands; recordings go only here.
    let (calls_tx, calls_rx) = mpsc::channel(64);
    let recordings_dir = cfg.recordings_dir();
    tracing::info!(dir = %recordings_dir.display(), "recordings directory");
    let orchestrator = tokio::spawn(crate::calls::orchestrate(
        db.clone(),
        cmd_tx.clone(),
        crate::calls::Inputs {
            events: call_events_rx,
            media_events,
            queue_requests: queue_rx,
            config_changes: config_rx,
            live_events: live_tx.clone(),
            call_requests: calls_rx,
            recordings_dir: recordings_dir.clone(),
        },
        media.clone(),
        finals,
        stop_rx.clone(),
    ));
    let trunk_sync = tokio::spawn(crate::calls::sync_trunk_sources(
        db.clone(),
        cmd_tx.clone(),
        cfg.secrets.dir.clone(),
        stop_rx.clone(),
    ));
    let certificate_watch = match (
        &cfg.sip.tls_certificate,
        &cfg.sip.tls_private_key,
        cfg.sip.tls_watch_secs,
    ) {
        (Some(cert), Some(key), secs) if secs > 0 => Some(CertificateWatch {
            files: vec![cert.clone(), key.clone()],
            every: std::time::Duration::from_secs(secs),
        }),
        _ => None,
    };
    let hangups = tokio::spawn(reload_certificate(
        cmd_tx.clone(),
        stop_rx.clone(),
        certificate_watch,
    ));
    let sync = tokio::spawn(sync_users(
        db.clone(),
        cfg.sip.realm.clone(),
        cmd_tx.clone(),
        known_users,
        stop_rx.clone(),
    ));
    // The API asks the SIP node through its own request type; passed on here.
    let (api_sip_tx, api_sip_rx) = mpsc::channel(64);
    let api_forward = tokio::spawn(forward_api_requests(api_sip_rx, cmd_tx));
    let state = mobile_api::AppState {
        db: db.clone(),
        sip: api_sip_tx,
        realm: cfg.sip.realm.clone(),
        admin_token,
        login_throttle: Default::default(),
        oidc: oidc_client(&cfg)?,
        // Call control reloads its configuration snapshot on these notices (before the next call
        // event), and forgets a changed prompt.
        config_changes: Some(config_tx),
        queues: Some(queue_tx),
        events: Some(live_tx),
        calls: Some(calls_tx),
        recordings_dir: Some(recordings_dir),
        // An address bound to every interface is reached under the page's own host name.
        phone_websocket: secure
            .wss
            .map(|a| ("wss", a))
            .or(secure.ws.map(|a| ("ws", a)))
            .map(|(scheme, a)| match a.ip().is_unspecified() {
                true => format!("{scheme}://{{host}}:{}", a.port()),
                false => format!("{scheme}://{a}"),
            }),
    };
    let http_task = tokio::spawn({
        let stop = wait_stop(stop_rx.clone());
        async move {
            // With the peer's address: logins are throttled and audited per source.
            let app = mobile_api::app(state)
                .into_make_service_with_connect_info::<std::net::SocketAddr>();
            axum::serve(http, app).with_graceful_shutdown(stop).await
        }
    });
    tracing::info!(sip = %sip_addr, http = %http_addr, "switchboard serving");
    if let Some(path) = &opts.ready_file {
        write_ready_file(path, sip_addr, secure, http_addr)?;
    }
    if opts.demo {
        demo::print_instructions(sip_addr, http_addr, &cfg.sip.realm);
    }

    shutdown.await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    match sip.await {
        Ok(Err(e)) => tracing::error!(error = %e, "SIP transport failed"),
        Err(e) => tracing::error!(error = %e, "SIP task panicked"),
        Ok(Ok(())) => {}
    }
    let _ = sync.await;
    let _ = hangups.await;
    let _ = http_task.await;
    let _ = api_forward.await;
    let _ = orchestrator.await;
    let _ = trunk_sync.await;
    media.shutdown();
    // The SIP task dropped its sender, so the writer flushes what is left and ends.
    let _ = writer.await;
    let _ = device_writer.await;
    // Its loop ended with the SIP task; pushes still in flight are of calls that ended.
    let _ = push_sender.await;
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Writes the bound addresses to `path` whole (a reader never sees half a file).
fn write_ready_file(
    path: &std::path::Path,
    sip: std::net::SocketAddr,
    secure: SecureAddrs,
    http: std::net::SocketAddr,
) -> Result<(), AppError> {
    let body = serde_json::json!({
        "sip": sip.to_string(),
        "sip_tls": secure.tls.map(|a| a.to_string()),
        "sip_ws": secure.ws.map(|a| a.to_string()),
        "sip_wss": secure.wss.map(|a| a.to_string()),
        "http": http.to_string(),
    });
    let partial = path.with_extension("partial");
    std::fs::write(&partial, body.to_string())
        .and_then(|()| std::fs::rename(&partial, path))
        .map_err(|e| AppError::Usage(format!("cannot write {}: {e}", path.display())))
}

/// Carries the admin API's requests to the SIP transport, until either side is gone: when the SIP
/// node stops, this ends too, and `/healthz` sees the API's channel closed.
async fn forward_api_requests(
    mut requests: mpsc::Receiver<SipRequest>,
    sip: mpsc::Sender<Command>,
) {
    loop {
        let request = tokio::select! {
            request = requests.recv() => match request {
                Some(request) => request,
                None => return,
            },
            _ = sip.closed() => return,
        };
        let command = match request {
            SipRequest::SetUser { username, secrets } => Command::SetUser { username, secrets },
            SipRequest::RemoveUser { username } => Command::RemoveUser { username },
            SipRequest::Snapshot(reply) => Command::Snapshot(reply),
            SipRequest::Bindings { aor, reply } => Command::Bindings { aor, reply },
            SipRequest::TrunkStatus(reply) => Command::TrunkStatus(reply),
            SipRequest::Bans(reply) => Command::Bans(reply),
            SipRequest::LiftBan { ip, reply } => Command::LiftBan { ip, reply },
        };
        if sip.send(command).await.is_err() {
            return;
        }
    }
}

async fn wait_stop(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// Picks up users changed behind the server's back (the `switchboard user` CLI writes the database
/// directly), so a password set on the command line works without a restart.
async fn sync_users(
    db: Db,
    realm: String,
    sip: mpsc::Sender<Command>,
    mut last: std::collections::HashMap<String, UserSecrets>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let Ok(all) = db.all_credentials().await else {
            continue;
        };
        let mut seen = HashSet::new();
        for (user, creds) in all {
            if creds.realm != realm {
                continue;
            }
            let secrets = secrets_of(&creds);
            if last.get(&user) != Some(&secrets) {
                tracing::info!(%user, "credentials changed in the database: applied");
                let _ = sip
                    .send(Command::SetUser {
                        username: user.clone(),
                        secrets: secrets.clone(),
                    })
                    .await;
                last.insert(user.clone(), secrets);
            }
            seen.insert(user);
        }
        let gone: Vec<String> = last
            .keys()
            .filter(|u| !seen.contains(*u))
            .cloned()
            .collect();
        for user in gone {
            tracing::info!(%user, "user removed from the database: applied");
            let _ = sip
                .send(Command::RemoveUser {
                    username: user.clone(),
                })
                .await;
            last.remove(&user);
        }
    }
}

fn redact(url: &str) -> String {
    // Hide a password in postgres://user:pass@host URLs.
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}
