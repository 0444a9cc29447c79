//! A small PEM reader (RFC 7468, plus the RFC 1421 headers of legacy encrypted keys) that
//! keeps decoded bytes in zeroizing buffers, since PEM here often wraps private keys.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

/// One `-----BEGIN LABEL-----` ... `-----END LABEL-----` block, decoded.
pub(crate) struct PemBlock {
    /// The label, e.g. `CERTIFICATE` or `RSA PRIVATE KEY`.
    pub(crate) label: String,
    /// Whether an RFC 1421 header marks the body as encrypted (`Proc-Type: 4,ENCRYPTED`).
    pub(crate) proc_type_encrypted: bool,
    /// The decoded body (DER, or ciphertext for legacy encrypted keys).
    pub(crate) contents: Zeroizing<Vec<u8>>,
}

/// Why text is not PEM. Reasons are fixed strings: they never quote the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PemError {
    /// No `-----BEGIN ...-----` line at all.
    NoBlock,
    /// A block has no matching END line, or the END label differs.
    Unterminated,
    /// The body is not valid base64 (or is empty).
    BadBase64,
}

impl PemError {
    /// A reason suitable for a validation error.
    pub(crate) const fn reason(self) -> &'static str {
        match self {
            PemError::NoBlock => "is not PEM: no -----BEGIN ...----- line found",
            PemError::Unterminated => {
                "is not valid PEM: a block has no matching -----END----- line"
            }
            PemError::BadBase64 => "is not valid PEM: the body is not valid base64",
        }
    }
}

/// Reads every PEM block of `text`. Text outside blocks is ignored (RFC 7468 allows it).
pub(crate) fn parse_blocks(text: &str) -> Result<Vec<PemBlock>, PemError> {
    let mut blocks = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(label) = boundary_label(line, "-----BEGIN ") else {
            continue;
        };
        let end_line = format!("-----END {label}-----");
        // Capacity fixed up front so the base64 text (secret) is never reallocated and copied.
        let mut body = Zeroizing::new(String::with_capacity(text.len()));
        let mut proc_type_encrypted = false;
        let mut in_headers = true;
        let mut terminated = false;
        for line in lines.by_ref() {
            if line == end_line {
                terminated = true;
                break;
            }
            if line.starts_with("-----") {
                return Err(PemError::Unterminated);
            }
            if in_headers {
                if let Some((name, value)) = line.split_once(':') {
                    if name.trim().eq_ignore_ascii_case("Proc-Type")
                        && value.to_ascii_uppercase().contains("ENCRYPTED")
                    {
                        proc_type_encrypted = true;
                    }
                    continue;
                }
                in_headers = false;
            }
            body.extend(line.chars().filter(|c| !c.is_ascii_whitespace()));
        }
        if !terminated {
            return Err(PemError::Unterminated);
        }
        if body.is_empty() {
            return Err(PemError::BadBase64);
        }
        let contents = STANDARD
            .decode(body.as_bytes())
            .map_err(|_| PemError::BadBase64)?;
        blocks.push(PemBlock {
            label: label.to_owned(),
            proc_type_encrypted,
            contents: Zeroizing::new(contents),
        });
    }
    if blocks.is_empty() {
        return Err(PemError::NoBlock);
    }
    Ok(blocks)
}

/// The label of a `-----BEGIN LABEL-----` (or END) line, if `line` is one.
fn boundary_label<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    let label = line.strip_prefix(prefix)?.strip_suffix("-----")?;
    let valid = !label.is_empty()
        && label
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == ' ');
    valid.then_some(label)
}

/// The label of the first BEGIN line of `text`, without decoding anything.
pub(crate) fn first_label(text: &str) -> Option<&str> {
    text.lines()
        .map(str::trim)
        .find_map(|line| boundary_label(line, "-----BEGIN "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_blocks_with_headers_and_surrounding_text() {
        let text = "junk\n-----BEGIN TEST-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: X\n\naGVs\nbG8=\n-----END TEST-----\n";
        let blocks = parse_blocks(text).unwrap();
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].label, "TEST");
        assert!(blocks[0].proc_type_encrypted);
        assert_eq!(blocks[0].contents.as_slice(), b"hello");
    }

    #[test]
    fn rejects_unterminated_blocks_and_bad_base64() {
        assert_eq!(parse_blocks("hello").err(), Some(PemError::NoBlock));
        assert_eq!(
            parse_blocks("-----BEGIN A-----\naGVsbG8=\n").err(),
            Some(PemError::Unterminated)
        );
        assert_eq!(
            parse_blocks("-----BEGIN A-----\naGVsbG8=\n-----END B-----\n").err(),
            Some(PemError::Unterminated)
        );
        assert_eq!(
            parse_blocks("-----BEGIN A-----\n!!!!\n-----END A-----\n").err(),
            Some(PemError::BadBase64)
        );
    }
}
