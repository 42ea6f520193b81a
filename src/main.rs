//! The `switchboard` binary: the only place that knows every part. See README.md.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use switchboard::config::Config;
use switchboard::{serve, AppError};
use switchboard_schema::{Db, NewUser};

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "The municipality's switchboard, answered on staff mobiles"
)]
struct Cli {
    /// More log lines on stderr: -v info, -vv debug, -vvv trace (RUST_LOG or SWITCHBOARD_LOG, when
    /// set, choose instead). Default: info for `serve`, warnings only for the other commands.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Commands,
}

#[derive(Args, Clone)]
struct Common {
    /// TOML file with node settings.
    #[arg(long, env = "SWITCHBOARD_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Database URL (sqlx): sqlite://path/sb.db?mode=rwc, sqlite::memory:, postgres://…
    #[arg(long, env = "SWITCHBOARD_DB", global = true)]
    db: Option<String>,
}

#[derive(Subcommand)]
enum Commands {
    /// Run the switchboard node.
    Serve {
        #[command(flatten)]
        common: Common,
        /// SIP address for UDP and TCP (default 0.0.0.0:5060).
        #[arg(long)]
        sip: Option<SocketAddr>,
        /// HTTP address for health, metrics and the API (default 127.0.0.1:8080).
        #[arg(long)]
        http: Option<SocketAddr>,
        /// SIP over plain WebSocket for the browser softphone (overrides `[sip] ws_listen`).
        #[arg(long)]
        ws: Option<SocketAddr>,
        /// Load the demo municipality into an empty database.
        #[arg(long)]
        demo: bool,
        /// With --demo: the main number is always open (no town-hall hours).
        #[arg(long, requires = "demo")]
        demo_open: bool,
        /// Write the bound addresses here as JSON once serving (`sip`, `sip_tls`, `http`).
        #[arg(long)]
        ready_file: Option<PathBuf>,
        /// File holding the admin API's bearer token (overrides `[secrets] admin_token_file`);
        /// created with a new token, readable by the owner only, when it does not exist.
        #[arg(long)]
        admin_token_file: Option<PathBuf>,
    },
    /// Manage staff users.
    User {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        action: UserAction,
    },
}

#[derive(Subcommand)]
enum UserAction {
    /// Add a user (the extension is the SIP username).
    Add {
        extension: String,
        #[arg(long)]
        name: String,
        /// Mobile number in E.164 (+4790000000).
        #[arg(long)]
        mobile: Option<String>,
        /// SIP password; generated and printed when omitted.
        #[arg(long)]
        password: Option<String>,
    },
    /// List users.
    List,
    /// Set a new SIP password (generated and printed when omitted).
    Passwd {
        extension: String,
        #[arg(long)]
        password: Option<String>,
    },
    /// Remove a user and its registrations.
    Remove { extension: String },
}

fn load_config(common: &Common) -> Result<Config, AppError> {
    let mut cfg = Config::load(common.config.as_deref())?;
    if let Some(db) = &common.db {
        cfg.database.url = db.clone();
    }
    Ok(cfg)
}

fn generated_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..16)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The password given on the command line, or a generated one (then `true`: it must be shown once).
fn chosen_password(given: Option<String>) -> Result<(String, bool), AppError> {
    let shown = given.is_none();
    let password = given.unwrap_or_else(generated_password);
    if password.len() < 8 {
        return Err(AppError::Usage(
            "password must have at least 8 characters".into(),
        ));
    }
    Ok((password, shown))
}

async fn user_command(common: Common, action: UserAction) -> Result<(), AppError> {
    let cfg = load_config(&common)?;
    let db = Db::connect(&cfg.database.url).await?;
    let realm = &cfg.sip.realm;
    match action {
        UserAction::Add {
            extension,
            name,
            mobile,
            password,
        } => {
            let (password, shown) = chosen_password(password)?;
            let creds = mobile_api::users::hash_credentials(&extension, realm, &password);
            let user = db
                .create_user(
                    &NewUser {
                        username: extension,
                        display_name: name,
                        mobile,
                    },
                    &creds,
                )
                .await?;
            println!("added {} ({})", user.username, user.display_name);
            if shown {
                println!("password: {password}");
            }
        }
        UserAction::List => {
            for u in db.list_users().await? {
                println!(
                    "{}\t{}\t{}",
                    u.username,
                    u.display_name,
                    u.mobile.as_deref().unwrap_or("-")
                );
            }
        }
        UserAction::Passwd {
            extension,
            password,
        } => {
            let (password, shown) = chosen_password(password)?;
            db.set_credentials(
                &extension,
                &mobile_api::users::hash_credentials(&extension, realm, &password),
            )
            .await?;
            println!("password changed for {extension}");
            if shown {
                println!("password: {password}");
            }
        }
        UserAction::Remove { extension } => {
            if db.remove_user(&extension).await? {
                println!("removed {extension}");
            } else {
                return Err(AppError::Usage(format!("no user {extension}")));
            }
        }
    }
    db.close().await;
    Ok(())
}

/// Logs go to stderr: at `default` unless `-v` or RUST_LOG/SWITCHBOARD_LOG ask for more, and with
/// colours only when stderr is a terminal (a log file gets plain text).
fn init_logging(verbose: u8, default: &str) {
    use std::io::IsTerminal;
    let level = match verbose {
        0 => default,
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = ["SWITCHBOARD_LOG", "RUST_LOG"]
        .iter()
        .find_map(|var| tracing_subscriber::EnvFilter::try_from_env(var).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new(level));
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .init();
}

/// SIGINT or SIGTERM: the process's signals belong to the binary, not to the node it runs.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // The server reports what it does; a CLI command prints its result and only warns on stderr.
    let default_level = match cli.command {
        Commands::Serve { .. } => "info",
        Commands::User { .. } => "warn",
    };
    init_logging(cli.verbose, default_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Commands::Serve {
                common,
                sip,
                http,
                ws,
                demo,
                demo_open,
                ready_file,
                admin_token_file,
            } => {
                let mut cfg = load_config(&common)?;
                if ws.is_some() {
                    cfg.sip.ws_listen = ws;
                }
                if let Some(sip) = sip {
                    cfg.sip.listen = sip;
                }
                if let Some(http) = http {
                    cfg.http.listen = http;
                }
                if let Some(file) = admin_token_file {
                    // Relative to where the command runs, not to the config file.
                    cfg.secrets.admin_token_file = Some(std::path::absolute(&file).unwrap_or(file));
                }
                serve::serve(
                    cfg,
                    serve::ServeOptions {
                        demo,
                        demo_open,
                        ready_file,
                    },
                    shutdown_signal(),
                )
                .await
            }
            Commands::User { common, action } => user_command(common, action).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
