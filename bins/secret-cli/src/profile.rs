//! The profile: the server URL and token `secret login` saved, in a file only its owner may
//! read (`$SECRETS_PROFILE`, else `$XDG_CONFIG_HOME/secret/profile.json`, else
//! `~/.config/secret/profile.json`). `--server` / `SECRETS_URL` and `SECRETS_TOKEN` win
//! over it.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// What a profile file holds.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Profile {
    pub(crate) server: String,
    pub(crate) token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) organization: Option<String>,
}

impl Drop for Profile {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.token);
    }
}

/// Where the profile lives.
pub(crate) fn path() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("SECRETS_PROFILE").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|p| !p.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(
            std::env::var_os("HOME")
                .ok_or_else(|| anyhow!("HOME is not set: set SECRETS_PROFILE"))?,
        )
        .join(".config"),
    };
    Ok(base.join("secret").join("profile.json"))
}

/// The saved profile, if there is one.
pub(crate) fn load() -> Result<Option<Profile>> {
    let path = path()?;
    let text = match std::fs::read(&path) {
        Ok(bytes) => Zeroizing::new(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let profile = serde_json::from_slice(&text).with_context(|| {
        format!(
            "{} is not a profile (run `secret login` again)",
            path.display()
        )
    })?;
    Ok(Some(profile))
}

/// Writes `profile` with mode 0600 (replacing the old one atomically).
pub(crate) fn save(profile: &Profile) -> Result<PathBuf> {
    let path = path()?;
    let dir = path
        .parent()
        .ok_or_else(|| anyhow!("{} has no directory", path.display()))?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = path.with_extension("json.tmp");
    let _ = std::fs::remove_file(&tmp);
    let body = Zeroizing::new(serde_json::to_vec_pretty(profile)?);
    write_private(&tmp, &body)?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Creates `path` readable and writable by its owner only (never following an existing
/// file) and writes `body`.
pub(crate) fn write_private(path: &std::path::Path, body: &[u8]) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(body)
        .with_context(|| format!("writing {}", path.display()))?;
    file.sync_all().ok();
    Ok(())
}

/// The server URL and token to use: flags and environment first, then the profile.
pub(crate) fn resolve(server: Option<&str>) -> Result<(String, Zeroizing<String>, Option<String>)> {
    let profile = load()?;
    let server = server
        .map(str::to_owned)
        .or_else(|| profile.as_ref().map(|p| p.server.clone()));
    let Some(server) = server else {
        bail!("no server: pass --server URL, set SECRETS_URL, or run `secret login`");
    };
    let token = match std::env::var("SECRETS_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
    {
        Some(t) => Zeroizing::new(t),
        None => match &profile {
            Some(p) => Zeroizing::new(p.token.clone()),
            None => bail!("no token: set SECRETS_TOKEN or run `secret login`"),
        },
    };
    let org = std::env::var("SECRETS_ORGANIZATION")
        .ok()
        .filter(|o| !o.is_empty())
        .or_else(|| profile.as_ref().and_then(|p| p.organization.clone()));
    Ok((server, token, org))
}
