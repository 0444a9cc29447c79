//! `secret run` and `secret inject`: references resolved at the last moment, in one
//! request, into a child's environment or a private file; nothing else written to disk.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow};
use clap::Args;
use secret_client::{ClientError, SecretClient};
use secret_core::Resolved;
use secret_core::reference::SecretReference;
use serde_json::Value;
use zeroize::Zeroizing;

/// `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// A .env file (python-dotenv's syntax) whose variables are added to the environment,
    /// over what is inherited; `secret://` values in it are resolved too.
    #[arg(long)]
    pub env_file: Option<PathBuf>,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// `inject`.
#[derive(Debug, Args)]
pub struct InjectArgs {
    /// The template: text with `{{ secret://... }}` references.
    #[arg(short, long)]
    pub input: PathBuf,
    /// The file to write (mode 0600; replaced if it exists).
    #[arg(short, long)]
    pub output: PathBuf,
}

/// Resolves `variables` in one request; a failure names every key that did not resolve.
async fn resolve(client: &SecretClient, variables: &BTreeMap<String, Value>) -> Result<Resolved> {
    if variables.is_empty() {
        return Ok(Resolved::new());
    }
    client
        .resolve_variables(variables)
        .await
        .map_err(|e| match e {
            ClientError::Unresolved { details, .. } => {
                let keys: Vec<String> = details
                    .iter()
                    .map(|d| format!("{} ({}: {})", d.key, d.code, d.message))
                    .collect();
                anyhow!("could not resolve {}", keys.join("; "))
            }
            other => anyhow!("{other}"),
        })
}

/// `secret run`: the child's exit code (128 + the signal when a signal ended it).
pub(crate) async fn run(client: &SecretClient, args: &RunArgs) -> Result<i32> {
    let mut env: BTreeMap<String, Zeroizing<String>> = std::env::vars()
        .map(|(k, v)| (k, Zeroizing::new(v)))
        .collect();
    if let Some(path) = &args.env_file {
        let text = Zeroizing::new(
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        );
        for (k, v) in secret_core::envfile::values(&text) {
            env.insert(k, Zeroizing::new(v));
        }
    }
    let references: BTreeMap<String, Value> = env
        .iter()
        .filter(|(_, v)| SecretReference::looks_like_uri(v))
        .map(|(k, v)| (k.clone(), Value::String(v.to_string())))
        .collect();
    let resolved = resolve(client, &references).await?;
    let (program, rest) = args
        .command
        .split_first()
        .ok_or_else(|| anyhow!("no command after --"))?;
    let mut command = tokio::process::Command::new(program);
    command.args(rest).env_clear();
    for (k, v) in &env {
        let value = resolved.get(k).unwrap_or(v);
        command.env(k, value.as_str());
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {program}"))?;
    drop(resolved);
    let pid = child.id();
    forward_signals(pid)?;
    let status = child.wait().await.context("waiting for the command")?;
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return Ok(128 + signal);
        }
    }
    Ok(status.code().unwrap_or(1))
}

/// Passes SIGINT, SIGTERM, SIGHUP and SIGQUIT on to the child `pid` for as long as this
/// process runs.
fn forward_signals(pid: Option<u32>) -> Result<()> {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    use tokio::signal::unix::{SignalKind, signal};
    let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) else {
        return Ok(());
    };
    for (kind, sig) in [
        (SignalKind::interrupt(), Signal::SIGINT),
        (SignalKind::terminate(), Signal::SIGTERM),
        (SignalKind::hangup(), Signal::SIGHUP),
        (SignalKind::quit(), Signal::SIGQUIT),
    ] {
        let mut stream = signal(kind).context("listening for signals")?;
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                let _ = kill(Pid::from_raw(pid), sig);
            }
        });
    }
    Ok(())
}

/// The `{{ secret://... }}` spans of `template`: (start, end, reference) in order.
fn references(template: &str) -> Result<Vec<(usize, usize, String)>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(open) = template[from..].find("{{") {
        let start = from + open;
        let Some(close) = template[start..].find("}}") else {
            break;
        };
        let end = start + close + 2;
        let inner = template[start + 2..end - 2].trim();
        if SecretReference::looks_like_uri(inner) {
            SecretReference::parse_uri(inner).map_err(|e| anyhow!("{inner}: {e}"))?;
            out.push((start, end, inner.to_string()));
        }
        from = end;
    }
    Ok(out)
}

/// `secret inject`.
pub(crate) async fn inject(client: &SecretClient, args: &InjectArgs) -> Result<()> {
    let template = Zeroizing::new(
        std::fs::read_to_string(&args.input)
            .with_context(|| format!("reading {}", args.input.display()))?,
    );
    let spans = references(&template)?;
    let mut keys: BTreeMap<String, String> = BTreeMap::new();
    for (_, _, r) in &spans {
        let next = format!("REF_{}", keys.len());
        keys.entry(r.clone()).or_insert(next);
    }
    let variables = keys
        .iter()
        .map(|(r, k)| (k.clone(), Value::String(r.clone())))
        .collect();
    let resolved = resolve(client, &variables).await?;
    let mut out = Zeroizing::new(String::with_capacity(template.len()));
    let mut at = 0;
    for (start, end, r) in &spans {
        out.push_str(&template[at..*start]);
        let key = keys.get(r).ok_or_else(|| anyhow!("{r}: not resolved"))?;
        let value = resolved
            .get(key)
            .ok_or_else(|| anyhow!("{r}: the server answered no value"))?;
        out.push_str(value);
        at = *end;
    }
    out.push_str(&template[at..]);
    let tmp = args.output.with_extension("secret-inject.tmp");
    let _ = std::fs::remove_file(&tmp);
    crate::profile::write_private(&tmp, out.as_bytes())?;
    std::fs::rename(&tmp, &args.output)
        .with_context(|| format!("writing {}", args.output.display()))?;
    Ok(())
}
