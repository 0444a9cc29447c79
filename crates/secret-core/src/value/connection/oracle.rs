//! Oracle's JDBC form: `jdbc:oracle:<driver>:[user/password]@<target>`, where the target is
//! `//host[:port][/service]` (EZConnect, maybe `tcp://`/`tcps://` and `?parameters`),
//! `host:port:SID`, `host[:port]/service`, a TNS alias or a `(DESCRIPTION=...)`.
//!
//! The target follows the last `@`: a password may hold `@` and `/`, a target holds no `@`
//! except inside a descriptor, and a descriptor never reads as a plain target. Facts are
//! reported only for a plain target; aliases, descriptors and anything else read for none.

use super::{
    BAD_URL, ConnectionError, ConnectionInfo, ParsedConnection, is_host_name, is_plain_name,
    parse_port,
};

/// What every Oracle JDBC URL starts with.
const PREFIX: &str = "jdbc:oracle:";

/// Reads `s` if it is an Oracle JDBC URL; `None` when it does not start with `jdbc:oracle:`.
pub(super) fn parse(s: &str) -> Option<Result<ConnectionInfo, ConnectionError>> {
    let head = s.get(..PREFIX.len())?;
    if !head.eq_ignore_ascii_case(PREFIX) {
        return None;
    }
    Some(read(&s[PREFIX.len()..]))
}

/// Reads what follows `jdbc:oracle:`.
fn read(after_prefix: &str) -> Result<ConnectionInfo, ConnectionError> {
    let (driver, rest) = after_prefix.split_once(':').ok_or(BAD_URL)?;
    if driver.is_empty() || !driver.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(BAD_URL);
    }
    let (user_part, target) = rest.rsplit_once('@').ok_or(BAD_URL)?;
    if target.trim().is_empty() {
        return Err(BAD_URL);
    }
    let prefix = Some(format!("jdbc:oracle:{}:@//", driver.to_ascii_lowercase()));
    // A `(` or `)` before the last `@` means that `@` may be inside a descriptor.
    let parsed = if user_part.contains(['(', ')']) {
        None
    } else {
        read_target(target).map(|(host, port, database)| ParsedConnection {
            host: Some(host),
            port,
            database,
            username: user_part
                .split_once('/')
                .map(|(user, _)| user)
                .filter(|user| is_plain_name(user, |c| matches!(c, '_' | '$' | '#' | '.')))
                .map(str::to_owned),
        })
    };
    Ok(ConnectionInfo {
        prefix,
        parsed: parsed.unwrap_or_default(),
    })
}

/// Host, port and service (or SID) of a plain target; `None` for anything else.
fn read_target(target: &str) -> Option<(String, Option<u16>, Option<String>)> {
    let mut t = target;
    let mut ezconnect = false;
    for protocol in ["//", "tcp://", "tcps://"] {
        if let Some(head) = t.get(..protocol.len())
            && head.eq_ignore_ascii_case(protocol)
        {
            t = &t[protocol.len()..];
            ezconnect = true;
            break;
        }
    }
    if ezconnect && let Some((before, _parameters)) = t.split_once('?') {
        t = before;
    }
    let (host, after_host) = if let Some(after) = t.strip_prefix('[') {
        let (ip, after) = after.split_once(']')?;
        let ip: std::net::Ipv6Addr = ip.parse().ok()?;
        (ip.to_string(), after)
    } else {
        let end = t.find([':', '/']).unwrap_or(t.len());
        let host = &t[..end];
        if !is_host_name(host) || host.contains('%') {
            return None;
        }
        (host.to_owned(), &t[end..])
    };
    let (port, after_port) = match after_host.strip_prefix(':') {
        Some(after) => {
            let end = after
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after.len());
            (Some(parse_port(&after[..end]).ok()?), &after[end..])
        }
        None => (None, after_host),
    };
    let is_name = |s: &str| is_plain_name(s, |c| matches!(c, '_' | '$' | '#' | '.' | '-'));
    let database = if after_port.is_empty() {
        None
    } else if let Some(sid) = after_port.strip_prefix(':') {
        // host:port:SID, the old form, never with `//`.
        if ezconnect || port.is_none() || !is_name(sid) {
            return None;
        }
        Some(sid.to_owned())
    } else {
        // /service[:server][/instance]
        let path = after_port.strip_prefix('/')?;
        let mut parts = path.splitn(2, [':', '/']);
        let service = parts.next().unwrap_or_default();
        let tail = parts.next().unwrap_or_default();
        if !is_name(service) || !tail.split([':', '/']).all(|p| p.is_empty() || is_name(p)) {
            return None;
        }
        Some(service.to_owned())
    };
    Some((host, port, database))
}
