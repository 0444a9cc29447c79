//! `secret`: see the library's documentation.

fn main() {
    std::process::exit(secret_cli::main());
}
