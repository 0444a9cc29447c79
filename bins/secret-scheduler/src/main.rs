//! `secret-scheduler`: load settings, build the jobs, run them (once, or on intervals).
//! Everything testable lives in the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = secret_scheduler::Cli::parse();
    secret_startup::init_tracing(cli.log_format);
    match secret_scheduler::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "secret-scheduler failed");
            std::process::ExitCode::FAILURE
        }
    }
}
