//! The `chatroom` binary: parse settings, start, run until SIGINT/SIGTERM.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use chatroom::config::{Cli, Command, LogFormat};
use chatroom::Application;

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed when this is
/// called, not when the future is first polled: a SIGTERM that arrives as
/// soon as the server answers must still shut it down gracefully.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        #[cfg(unix)]
        let terminate = async move {
            match terminate {
                Some(mut signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            () = ctrl_c => {},
            () = terminate => {},
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.config.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let shutdown = shutdown_signal();
            let app = match Application::build(cli.config).await {
                Ok(app) => app,
                Err(err) => {
                    eprintln!("chatroom: {err}");
                    return ExitCode::from(2);
                }
            };
            tracing::info!(addr = %app.addr(), "chatroom listening on http://{}", app.addr());
            app.run_until(shutdown).await;
            ExitCode::SUCCESS
        }
        Command::MigrateToPostgres { from, to } => {
            match chatroom::admin::migrate::run(&from, &to).await {
                Ok(counts) => {
                    for (table, rows) in counts {
                        println!("{table}: {rows} rows copied");
                    }
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    eprintln!("chatroom: migrate-to-postgres: {err}");
                    ExitCode::from(2)
                }
            }
        }
        Command::SeedUsers {
            count,
            prefix,
            password,
            sessions_out,
        } => {
            let db = match chatroom::db::Db::connect(&cli.config.database_url).await {
                Ok(db) => db,
                Err(err) => {
                    eprintln!("chatroom: CHATROOM_DATABASE_URL: {err}");
                    return ExitCode::from(2);
                }
            };
            let outcome = chatroom::admin::seed::run_with_sessions(
                &db,
                &prefix,
                count,
                &password,
                sessions_out.is_some(),
            )
            .await;
            match outcome {
                Ok((created, cookies)) => {
                    if let Some(path) = &sessions_out {
                        let lines: String = cookies
                            .iter()
                            .map(|(name, cookie)| format!("{name}\t{cookie}\n"))
                            .collect();
                        if let Err(err) = std::fs::write(path, lines) {
                            eprintln!(
                                "chatroom: seed-users: cannot write {}: {err}",
                                path.display()
                            );
                            return ExitCode::from(2);
                        }
                    }
                    println!(
                        "created {created} of {count} accounts ({prefix}0 … {prefix}{})",
                        count.saturating_sub(1)
                    );
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    eprintln!("chatroom: seed-users: {err}");
                    ExitCode::from(2)
                }
            }
        }
        Command::ImportLegacy { dir } => {
            let db = match chatroom::db::Db::connect(&cli.config.database_url).await {
                Ok(db) => db,
                Err(err) => {
                    eprintln!("chatroom: CHATROOM_DATABASE_URL: {err}");
                    return ExitCode::from(2);
                }
            };
            match chatroom::admin::legacy::run(&db, &dir).await {
                Ok(summary) => {
                    print!("{summary}");
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    eprintln!(
                        "chatroom: import-legacy: cannot read {}: {err}",
                        dir.display()
                    );
                    ExitCode::from(2)
                }
            }
        }
    }
}
