//! Connection-string parsing: a parsed connection string never yields a field containing
//! the password.
//!
//! The input is split at its first NUL into a password and a template. The password is put
//! into the template where it says `{PW}` (or, without a marker, into each of the formats
//! users paste: URL, `key=value;`, libpq keywords), and the parsed facts (host, database,
//! username) must not contain it. Passwords shorter than 4 bytes, or that occur in the
//! template anyway, are skipped: they could be a real host name. A template's marker must
//! sit in a password position (after `password=` / `pwd=` at a pair boundary, or after the
//! `user:` of a URL's authority); elsewhere the template itself files the password under
//! another key, which no parser can know.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secret_core::value::parse_connection_facts;

const FORMATS: [&str; 7] = [
    "postgresql://app:{PW}@db.example.com:5432/inventory?sslmode=require",
    "mysql://root:{PW}@10.0.0.5:3306/app",
    "mongodb+srv://svc:{PW}@cluster0.abc.mongodb.net/orders?retryWrites=true",
    "redis://:{PW}@cache.internal:6379/0",
    "Server=tcp:sql.example.net,1433;Initial Catalog=db;User ID=u;Password={PW};",
    "host=pg.example.com port=5432 dbname=inventory user=inv password={PW} sslmode=verify-full",
    "jdbc:sqlserver://sql.example.net:1433;databaseName=x;user=u;password={PW}",
];

fn check(conn: &str, password: &str) {
    // Every input must be handled without a panic; only those it parses are checked.
    let Some(facts) = parse_connection_facts(conn) else {
        return;
    };
    for (name, field) in [
        ("host", facts.host.as_deref()),
        ("database", facts.database.as_deref()),
        ("username", facts.username.as_deref()),
    ] {
        if let Some(field) = field {
            assert!(
                !field.contains(password),
                "the {name} of a parsed connection string holds the password"
            );
        }
    }
}

/// Whether every `{PW}` of `template` follows a password key or a URL's `user:`.
fn in_password_position(template: &str) -> bool {
    let mut rest = template;
    let mut seen = false;
    while let Some(at) = rest.find("{PW}") {
        let before = &rest[..at];
        let lower = before.to_ascii_lowercase();
        let keyed = ["password", "pwd"].iter().any(|key| {
            let trimmed = lower.trim_end();
            trimmed.strip_suffix('=').is_some_and(|k| {
                let k = k.trim_end();
                k.strip_suffix(key).is_some_and(|head| {
                    head.is_empty() || head.ends_with([' ', ';', '?', '&', '\t'])
                })
            })
        });
        let userinfo = before.rfind("://").is_some_and(|start| {
            let authority = &before[start + 3..];
            authority.ends_with(':')
                && !authority[..authority.len() - 1].contains(['/', '@', ':', '?', '#'])
        });
        if !(keyed || userinfo) {
            return false;
        }
        seen = true;
        rest = &rest[at + 4..];
    }
    seen
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Any text at all: no panic.
    let _ = parse_connection_facts(text);
    let Some((password, template)) = text.split_once('\0') else {
        return;
    };
    if password.len() < 4 || password.contains('\0') {
        return;
    }
    if template.contains("{PW}") {
        if !in_password_position(template) || template.contains('\0') {
            return;
        }
        let bare = template.replace("{PW}", "");
        if !bare.contains(password) {
            check(&template.replace("{PW}", password), password);
        }
        return;
    }
    for format in FORMATS {
        if !format.replace("{PW}", "").contains(password) {
            check(&format.replace("{PW}", password), password);
        }
    }
});
