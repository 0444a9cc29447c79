//! Masked display strings: what a value may show of itself (type-specific, never a secret).

use super::{AnySecretValue, certificate, connection};

/// The mask shown in place of secret material.
pub const MASK: &str = "••••••••";

/// API keys shorter than this are masked completely; longer ones show their last 4 chars.
const API_KEY_MIN_CHARS_FOR_HINT: usize = 12;

/// The masked display string of `value`.
pub(crate) fn masked(value: &AnySecretValue) -> String {
    match value {
        AnySecretValue::ApiKey(v) => {
            let count = v.key.chars().count();
            if count >= API_KEY_MIN_CHARS_FOR_HINT {
                let last4: String = v.key.chars().skip(count - 4).collect();
                format!("{MASK}{last4}")
            } else {
                MASK.to_owned()
            }
        }
        AnySecretValue::OAuth2Token(_) | AnySecretValue::Generic(_) => MASK.to_owned(),
        AnySecretValue::UsernamePassword(v) => format!("{} / {MASK}", v.username),
        AnySecretValue::Certificate(v) => match certificate::subject_of(&v.certificate) {
            Some(subject) if !subject.is_empty() => format!("Certificate: {subject}"),
            Some(_) => "Certificate: (empty subject)".to_owned(),
            None => format!("Certificate: {MASK}"),
        },
        AnySecretValue::SshKey(v) => format!("SSH key ({}) {MASK}", v.key_type),
        AnySecretValue::ConnectionString(v) => {
            match connection::parse(&v.connection_string)
                .ok()
                .and_then(|c| c.location())
            {
                Some(location) => format!("{location} {MASK}"),
                None => MASK.to_owned(),
            }
        }
        AnySecretValue::JsonCredential(v) => {
            let n = v.credential.len();
            let noun = if n == 1 { "field" } else { "fields" };
            format!("JSON credential ({n} {noun}) {MASK}")
        }
        AnySecretValue::EnvVariableSet(v) => v
            .variables
            .keys()
            .map(|name| format!("{name}={MASK}"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}
