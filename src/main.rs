//! The `chatroom` binary: parse settings, start, run until SIGINT/SIGTERM.

use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

use chatroom::config::{Cli, Command, LogFormat, SettingsError};
use chatroom::Application;

/// Logs go to standard output for the server, and to standard error for
/// the other subcommands, whose standard output is their answer.
fn init_logging(format: LogFormat, serving: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // PostgreSQL's notices ("relation … already exists, skipping") are noise.
    let filter = match "sqlx::postgres::notice=warn".parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match (format, serving) {
        (LogFormat::Json, true) => builder.json().init(),
        (LogFormat::Text, true) => builder.init(),
        (LogFormat::Json, false) => builder.json().with_writer(std::io::stderr).init(),
        (LogFormat::Text, false) => builder.with_writer(std::io::stderr).init(),
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

fn main() -> ExitCode {
    // Settings first, before any thread exists: flags, environment, file.
    let cli = match Cli::load_from(std::env::args_os()) {
        Ok(cli) => cli,
        Err(SettingsError::Cli(err)) => {
            // Help and version exit 0; a bad flag or variable exits 2.
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { 2 } else { 0 });
        }
        Err(err) => {
            eprintln!("chatroom: {err}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("chatroom: cannot start the runtime: {err}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(run(cli))
}

/// Prints a one-line error and answers exit code 2.
fn fail(what: impl std::fmt::Display) -> ExitCode {
    eprintln!("chatroom: {what}");
    ExitCode::from(2)
}

async fn run(cli: Cli) -> ExitCode {
    let serving = matches!(cli.command, None | Some(Command::Serve));
    init_logging(cli.config.log_format, serving);
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
            if let Some(metrics) = app.metrics_addr() {
                tracing::info!(%metrics, "metrics on http://{metrics}/metrics");
            }
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
        Command::CheckConfig => {
            if let Err(err) = cli.config.validate() {
                return fail(err);
            }
            for (name, value) in cli.config.describe() {
                println!("{name}={value}");
            }
            ExitCode::SUCCESS
        }
        Command::Backup { file } => {
            match chatroom::admin::backup::backup(&cli.config.database_url, &file).await {
                Ok(bytes) => {
                    println!("backed up to {} ({bytes} bytes)", file.display());
                    ExitCode::SUCCESS
                }
                Err(err) => fail(format!("backup: {err}")),
            }
        }
        Command::Restore { file } => {
            match chatroom::admin::backup::restore(&cli.config.database_url, &file).await {
                Ok(()) => {
                    println!("restored {}; start the server", file.display());
                    ExitCode::SUCCESS
                }
                Err(err) => fail(format!("restore: {err}")),
            }
        }
        Command::User(command) => {
            let state = match chatroom::headless(cli.config).await {
                Ok(state) => state,
                Err(err) => return fail(err),
            };
            let read_stdin = || {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line).map(|_| line)
            };
            let outcome = chatroom::admin::operator::run(&state, command, read_stdin).await;
            // Let the mail queue and the disconnects reach the other instances.
            state.live.close().await;
            match outcome {
                Ok(report) => {
                    println!("{report}");
                    ExitCode::SUCCESS
                }
                Err(err) => fail(format!("user: {err}")),
            }
        }
    }
}
