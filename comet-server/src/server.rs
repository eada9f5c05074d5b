//! Starting and stopping the server: configuration, database, first administrator, listeners,
//! graceful shutdown.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::Response;

use crate::api::{AppState, now_secs, router};
use crate::auth::{LoginLimiter, PasswordHasher, random_password};
use crate::config::{self, ConfigError, ServerConfig};
use crate::db::{Db, DbError};

/// Name of the first administrator account.
pub const FIRST_ADMIN: &str = "admin";

/// Environment variable giving the first administrator's password (else a random one is printed).
pub const ADMIN_PASSWORD_ENV: &str = "COMET_ADMIN_PASSWORD";

/// What stops the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration is unreadable or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A listener could not be opened.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The TLS certificate or key could not be loaded.
    #[error("TLS: {0}")]
    Tls(String),
    /// The SMTP settings are unusable.
    #[error("e-mail: {0}")]
    Smtp(String),
}

/// Command-line choices that affect running.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// The data directory.
    pub data_dir: PathBuf,
    /// Log every HTTP request.
    pub log_accesses: bool,
    /// Serve the web interface from here.
    pub webroot_dir: Option<PathBuf>,
}

/// Reads (creating on first start) and validates the configuration.
pub fn load_config(data_dir: &std::path::Path) -> Result<(ServerConfig, bool), ConfigError> {
    config::load_or_create(data_dir)
}

/// Runs the server until SIGINT or SIGTERM; returns once every connection is done.
pub async fn run(options: RunOptions, config: ServerConfig) -> Result<(), ServerError> {
    let db = Db::open(&config.database_path(&options.data_dir)).await?;
    let hasher = PasswordHasher::new(&config.security);
    if db.admin_count().await? == 0 {
        let (password, generated) = match std::env::var(ADMIN_PASSWORD_ENV) {
            Ok(p) if !p.is_empty() => (p, false),
            _ => (random_password(), true),
        };
        let hash = {
            let (hasher, password) = (hasher.clone(), password.clone());
            tokio::task::spawn_blocking(move || hasher.hash(password.as_bytes())).await.expect("hashing")
        };
        db.add_admin(FIRST_ADMIN, &config.organization_id, &hash, now_secs()).await?;
        if generated {
            // Shown once, on standard output only (never logged).
            println!("created the first administrator: user {FIRST_ADMIN}, password {password}");
            println!("(shown only now: keep it; set {ADMIN_PASSWORD_ENV} to choose it instead)");
        } else {
            tracing::info!("created the first administrator {FIRST_ADMIN} with the password from {ADMIN_PASSWORD_ENV}");
        }
    }
    let state = Arc::new(AppState {
        db: db.clone(),
        limiter: LoginLimiter::new(&config.security),
        hasher,
        buckets: crate::storage::Buckets::new(config.storage.clone(), config.bucket_dir(&options.data_dir)),
        config: config.clone(),
        started: now_secs(),
        live: crate::live::Live::default(),
        mailer: crate::email::Mailer::from_config(&config.smtp).map_err(ServerError::Smtp)?.map(Arc::new),
        data_dir: options.data_dir.clone(),
    });
    let webroot = options.webroot_dir.clone().or_else(|| config.webroot_dir(&options.data_dir));
    if let Some(dir) = &webroot {
        tracing::info!("serving the web interface from {}", dir.display());
    }
    let mut app = router(state.clone()).merge(crate::web::router(webroot));
    if options.log_accesses || config.logging.log_accesses {
        app = app.layer(axum::middleware::from_fn(log_access));
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut servers = Vec::new();
    for listen in &config.listen {
        let service = app.clone().into_make_service_with_connect_info::<SocketAddr>();
        let mut stop = stop_rx.clone();
        if let Some((cert, key)) = listen.tls() {
            // HTTPS: rustls with the PEM files of the configuration.
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key).await.map_err(|e| {
                ServerError::Tls(format!("{}: {} / {}: {e}", listen.address, cert.display(), key.display()))
            })?;
            let listener = std::net::TcpListener::bind(listen.address)
                .and_then(|l| l.set_nonblocking(true).map(|()| l))
                .map_err(|source| ServerError::Listen { address: listen.address, source })?;
            let bound =
                listener.local_addr().map_err(|source| ServerError::Listen { address: listen.address, source })?;
            tracing::info!("listening on https://{bound}");
            println!("listening on https://{bound}");
            let handle = axum_server::Handle::new();
            let server = axum_server::from_tcp_rustls(listener, tls)
                .map_err(|source| ServerError::Listen { address: listen.address, source })?
                .handle(handle.clone());
            tokio::spawn(async move {
                let _ = stop.wait_for(|s| *s).await;
                handle.graceful_shutdown(Some(Duration::from_secs(30)));
            });
            servers.push(tokio::spawn(async move { server.serve(service).await }));
            continue;
        }
        let listener = tokio::net::TcpListener::bind(listen.address)
            .await
            .map_err(|source| ServerError::Listen { address: listen.address, source })?;
        let bound = listener.local_addr().map_err(|source| ServerError::Listen { address: listen.address, source })?;
        tracing::info!("listening on http://{bound}");
        println!("listening on http://{bound}");
        servers.push(tokio::spawn(async move {
            axum::serve(listener, service)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await
        }));
    }
    let housekeeping = tokio::spawn({
        let state = state.clone();
        async move {
            let every = Duration::from_secs(u64::from(state.config.jobs.check_interval_seconds).min(60));
            loop {
                tokio::time::sleep(every).await;
                crate::watch::check(&state).await;
                if let Some(mailer) = &state.mailer
                    && let Err(e) =
                        crate::email::send_due_summaries(&state.db, mailer, &state.config.organization_id, now_secs())
                            .await
                {
                    tracing::warn!("daily summaries: {e}");
                }
                state.limiter.tidy();
                if let Err(e) = state.db.expire_sessions(now_secs()).await {
                    tracing::warn!("expiring sessions: {e}");
                }
                match state.db.expire_install_tokens(now_secs()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!("removed {n} install tokens that expired unused"),
                    Err(e) => tracing::warn!("expiring install tokens: {e}"),
                }
            }
        }
    });
    shutdown_signal().await;
    tracing::info!("shutting down: finishing the requests in progress");
    state.live.shutdown();
    stop_tx.send_replace(true);
    for server in servers {
        if let Ok(Err(e)) = server.await {
            tracing::warn!("listener ended with {e}");
        }
    }
    housekeeping.abort();
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

async fn log_access(request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let from = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()).unwrap_or_default();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    tracing::info!(target: "access", "{from} {method} {path} {} {:?}", response.status().as_u16(), started.elapsed());
    response
}
