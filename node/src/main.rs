//! `parley-node`: see `parley-node --help` and the README.

use anyhow::Context;
use clap::Parser;
use parley_node::cli::{Cli, Command, ServeArgs};
use parley_node::serve::{self, ServeConfig};
use parley_node::{db, dev, keys};
use parley_shared::auth::Signer;
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line with every cause: what an operator (or a script reading the log) needs.
            eprintln!("parley-node: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::Keygen = cli.command {
        let s = Signer::generate();
        let out = serde_json::json!({ "kid": s.kid(), "signing_key": s.encoded(), "jwks": s.jwks() });
        println!("{out}");
        return Ok(());
    }
    if let Command::Openapi = cli.command {
        println!("{}", parley_shared::openapi::document().to_pretty_json()?);
        return Ok(());
    }
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_env("PARLEY_LOG").unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    raise_open_files_limit();
    // The one TLS crypto provider of the process (reqwest, used for PARLEY_JWKS_URL, is built
    // without one; QUIC passes ring explicitly).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        match cli.command {
            Command::Keygen | Command::Openapi => unreachable!("handled above"),
            Command::Migrate(a) => {
                let n = db::migrate(&a.database_url).await?;
                eprintln!("{n} migration(s) applied");
                Ok(())
            }
            Command::Dev(a) => dev::run(a).await.context("dev mode"),
            Command::Words(a) => words_cmd(a).await,
            Command::Serve(a) => serve_cmd(*a).await,
            Command::WsEcho(a) => {
                parley_node::transport::ws_echo::run(a.http_addr, serve::signal()).await.context("ws-echo")
            }
        }
    })
}

async fn serve_cmd(a: ServeArgs) -> anyhow::Result<()> {
    if a.migrate {
        db::migrate(&a.database_url).await?;
    }
    let keys = keys::load(a.jwks.as_deref(), a.jwks_url.as_deref(), a.jwt_signing_key.as_deref(), a.rest).await?;
    let node_id = a.node_id.clone().unwrap_or_else(serve::host_name);
    let cfg = ServeConfig {
        database_url: a.database_url,
        node_id: node_id.clone(),
        http_addr: a.http_addr,
        quic_addr: a.quic_addr,
        tls_cert: a.tls_cert,
        tls_key: a.tls_key,
        rest: a.rest,
        verifier: keys.verifier,
        signer: keys.signer,
        max_batch: a.max_batch,
        commit_workers: a.commit_workers,
        db_pool: a.db_pool,
        limits: a.limits,
        web_dir: a.web_dir,
        max_group_members: a.max_group_members,
        media: a.media.clone(),
        messages: a.messages,
    };
    serve::run(cfg, serve::signal(), |l| {
        let kind = if l.self_signed { "self-signed certificate" } else { "certificate" };
        eprintln!("QUIC on {} (ALPN parley/1), {kind} SHA-256 {}", l.quic, l.cert_sha256);
        // Scripts and tests read this one line to learn the ports and the certificate to pin.
        println!("{}", l.json_line(&node_id));
    })
    .await?;
    Ok(())
}

/// Every socket is a file descriptor: lift the soft limit to the hard one, as a server holding
/// tens of thousands of connections must (the default soft limit is often 1024).
fn raise_open_files_limit() {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit write to and read from the struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                tracing::warn!("could not raise the open-files limit");
            }
        }
    }
}

/// `parley-node words ...`: edits the sensitive-word list and tells every node.
async fn words_cmd(a: parley_node::cli::WordsArgs) -> anyhow::Result<()> {
    use parley_node::cli::WordsAction;
    use parley_shared::rules::words::WordAction;
    use parley_shared::service::moderation;
    let pool = db::pool(&a.database_url, 1, "parley-node:words")?;
    let c = db::get(&pool).await.map_err(|e| anyhow::anyhow!("{}", e.message))?;
    match a.action {
        WordsAction::List => {
            for (w, action) in parley_shared::store::moderation::words(&*c).await? {
                println!("{w}\t{}", action.as_str());
            }
        }
        WordsAction::Add { word, reject } => {
            anyhow::ensure!(!word.trim().is_empty() && !word.contains('\0'), "a word, please");
            let action = if reject { WordAction::Reject } else { WordAction::Mask };
            moderation::set_word(&*c, &word, Some(action)).await?;
            eprintln!("listed {:?} ({})", word.trim(), action.as_str());
        }
        WordsAction::Remove { word } => {
            let gone = moderation::set_word(&*c, &word, None).await?;
            eprintln!("{}", if gone { "unlisted" } else { "was not listed" });
        }
    }
    Ok(())
}
