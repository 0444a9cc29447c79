//! `secret-server`: load settings, build the service, serve HTTP (or mint a token, or run
//! migrations). Everything testable lives in the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = secret_server::Cli::parse();
    secret_server::init_tracing(cli.log_format);
    match secret_server::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "secret-server failed");
            // `audit verify` tells a broken chain (1) from one it could not check (2).
            std::process::ExitCode::from(secret_server::exit_code(&err))
        }
    }
}
