//! Parsing of connection strings into their non-secret parts (host, port, database, user),
//! which are stored as plain metadata and shown in the masked display string.
//!
//! Forms understood: URLs (`scheme://user:pass@host:port/db?...`, libpq, JDBC, MongoDB,
//! Redis, MySQL, AMQP, ...; see `url`), Microsoft's JDBC form (`jdbc:sqlserver://host;...`),
//! Oracle's JDBC form (`jdbc:oracle:thin:user/pass@host:1521:SID`; see `oracle`), libpq's
//! keyword/value form (`host=h port=5432 password='...'`; see `keyword`) and the `key=value;`
//! form of ADO.NET and ODBC (see `pairs`).
//!
//! Users paste passwords unescaped, so a password may hold any of `@ : / ? # ; =`, spaces and
//! quotes. Every parser therefore weighs all the readings a string allows and reports facts only
//! when exactly one is plausible: a string that cannot be read with certainty is accepted with
//! no facts rather than with wrong ones (which could be pieces of the password). Only strings
//! that are no connection string in any reading are refused.
//!
//! No parser copies the password: only the values of the keys reported are ever unescaped, and
//! errors are fixed texts that never quote the string.

mod keyword;
mod oracle;
mod pairs;
mod url;

use super::types::ParsedConnection;

/// What a connection string says about where it connects, never the password.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ConnectionInfo {
    /// What the display form starts with: `postgres://`, `jdbc:oracle:thin:@//`; `None` for the
    /// keyword forms.
    pub(crate) prefix: Option<String>,
    /// Host, port, database and user; empty when the string could not be read with certainty.
    pub(crate) parsed: ParsedConnection,
}

impl ConnectionInfo {
    /// A display form for masking: `scheme://host:port/db`, or `host:port/db` for the keyword
    /// forms; `None` when the host is unknown.
    pub(crate) fn location(&self) -> Option<String> {
        let host = self.parsed.host.as_deref()?;
        let mut out = self.prefix.clone().unwrap_or_default();
        if host.contains(':') {
            out.push_str(&format!("[{host}]"));
        } else {
            out.push_str(host);
        }
        if let Some(port) = self.parsed.port {
            out.push_str(&format!(":{port}"));
        }
        if let Some(database) = &self.parsed.database {
            out.push('/');
            out.push_str(database);
        }
        Some(out)
    }
}

/// Why a connection string was refused. Fixed texts: they never quote the string.
pub(crate) type ConnectionError = &'static str;

/// The string is in no form this module knows.
const NEITHER_FORM: ConnectionError =
    "is neither a URL (scheme://host/...) nor a key=value; connection string";
/// The string starts like a URL but is not one.
const BAD_URL: ConnectionError = "is not a valid connection URL";
/// A port is out of range or not a number.
const BAD_PORT: ConnectionError = "has a port that is not a number from 1 to 65535";

/// What one parser made of a string it recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reading {
    /// The string has one plausible reading, with these facts (possibly none).
    Certain(ParsedConnection),
    /// The string is a connection string, but several readings are plausible, or the one there
    /// is looks wrong: no facts may be reported.
    Uncertain,
}

impl Reading {
    /// The facts to report: none unless certain.
    fn into_facts(self) -> ParsedConnection {
        match self {
            Reading::Certain(parsed) => parsed,
            Reading::Uncertain => ParsedConnection::default(),
        }
    }
}

/// Parses a connection string in any of the forms the module knows.
pub(crate) fn parse(s: &str) -> Result<ConnectionInfo, ConnectionError> {
    let s = s.trim();
    if let Some(result) = oracle::parse(s) {
        return result;
    }
    match url::scheme_of(s) {
        Some(scheme) => url::parse(s, scheme),
        None => parse_keyword_forms(s).map(|reading| ConnectionInfo {
            prefix: None,
            parsed: reading.into_facts(),
        }),
    }
}

/// Parses a connection string into the non-secret facts that would be stored for it, for
/// fuzzing and tests.
///
/// `None` when the string is refused as no connection string at all; `Some` with every field
/// `None` when it is accepted but could not be read with certainty. The facts never hold the
/// password or any part of it.
pub fn parse_connection_facts(s: &str) -> Option<ParsedConnection> {
    parse(s).ok().map(|info| info.parsed)
}

/// Reads a string that is not a URL as libpq's keyword form or as the `key=value;` form.
///
/// Without a `;` a string that is valid libpq keyword syntax (known keywords only) is read as
/// such. With one, both readings are tried: facts are reported when only one of them is
/// certain, or both are and agree.
fn parse_keyword_forms(s: &str) -> Result<Reading, ConnectionError> {
    let keywords = keyword::parse(s);
    if !s.contains(';') {
        if let Some(reading) = keywords {
            return reading;
        }
        return pairs::parse(s);
    }
    let pairs = pairs::parse(s);
    Ok(match (keywords, pairs) {
        (Some(Ok(Reading::Certain(k))), Ok(Reading::Certain(p))) => {
            if k == p {
                Reading::Certain(k)
            } else {
                Reading::Uncertain
            }
        }
        (Some(Ok(Reading::Certain(k))), _) => Reading::Certain(k),
        (_, Ok(Reading::Certain(p))) => Reading::Certain(p),
        (Some(Ok(Reading::Uncertain)), _) | (_, Ok(Reading::Uncertain)) => Reading::Uncertain,
        (_, Err(e)) => return Err(e),
    })
}

/// A port number from 1 to 65535, written in ASCII digits only.
fn parse_port(s: &str) -> Result<u16, ConnectionError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BAD_PORT);
    }
    match s.parse::<u16>() {
        Ok(0) | Err(_) => Err(BAD_PORT),
        Ok(port) => Ok(port),
    }
}

/// Whether `s` is a plain host name: letters, digits, `-._~` and `%XX` escapes, nothing that
/// could separate parts of a connection string (`@ : / ? # ; = ,`, quotes, spaces).
fn is_host_name(s: &str) -> bool {
    is_plain_name(s, |c| matches!(c, '-' | '.' | '_' | '~'))
}

/// Whether `s` is non-empty and made of letters, digits, `%XX` escapes and the characters
/// `extra` accepts.
fn is_plain_name(s: &str, extra: impl Fn(char) -> bool) -> bool {
    let bytes = s.as_bytes();
    let mut chars = s.char_indices();
    let mut any = false;
    while let Some((i, c)) = chars.next() {
        any = true;
        if c == '%' {
            let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            chars.next();
            chars.next();
        } else if !(c.is_alphanumeric() || extra(c)) {
            return false;
        }
    }
    any
}

/// Decodes `%XX` escapes; invalid escapes and invalid UTF-8 are kept as they are (lossy).
fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_owned();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(&h), Some(&l)) = (bytes.get(i + 1), bytes.get(i + 2))
            && let (Some(h), Some(l)) = (hex(h), hex(l))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
