//! Test servers run as child processes (OpenBao, moto): finding the binary, a free port, a
//! start under a watchdog that kills the server once the test process is gone, and
//! stopping, freezing and thawing it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The binary `name`: `$env_var`, else on the `PATH`, else in `~/.local/bin` (where
/// `pip install --user` puts scripts).
pub fn find_bin(env_var: &str, name: &str) -> Option<PathBuf> {
    if let Ok(p) = std::env::var(env_var) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return Some(candidate);
        }
    }
    let home = std::env::var_os("HOME").map(PathBuf::from)?;
    let local = home.join(".local/bin").join(name);
    local.is_file().then_some(local)
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A server process started by a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerProcess {
    pub pid: u32,
    pub port: u16,
}

impl ServerProcess {
    /// Starts `bin` with `args` (a shell word list) listening on `port`, its output in a
    /// log file named after `name` and the port. A watchdog shell polls the test process
    /// and kills the server once it is gone.
    pub fn start(name: &str, bin: &Path, args: &str, port: u16) -> ServerProcess {
        let log = std::env::temp_dir().join(format!("{name}-{port}.log"));
        let script = format!(
            "\"$0\" {args} >\"{}\" 2>&1 & b=$!; echo $b; \
             while kill -0 {} 2>/dev/null && kill -0 $b 2>/dev/null; do sleep 1; done; kill $b 2>/dev/null",
            log.display(),
            std::process::id()
        );
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(bin)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("the {name} watchdog starts: {e}"));
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
            .expect("the server's pid");
        // The watchdog lives as long as the server; reap it when it ends.
        std::thread::spawn(move || child.wait());
        ServerProcess {
            pid: line.trim().parse().expect("a pid"),
            port,
        }
    }

    /// Stops the server and waits until its port is closed.
    pub fn stop(&self) {
        let _ = Command::new("kill").arg(self.pid.to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline
            && std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
        {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Freezes the server (SIGSTOP): connections open, nothing answers. Returns once the
    /// kernel reports it stopped (a signal is delivered asynchronously: a server still
    /// running for a moment could answer one more request).
    pub fn pause(&self) {
        let _ = Command::new("kill")
            .args(["-STOP", &self.pid.to_string()])
            .status();
        let stat = format!("/proc/{}/stat", self.pid);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            // The state is the field after the parenthesised command name: T when stopped.
            match std::fs::read_to_string(&stat) {
                Ok(s)
                    if s.rsplit_once(')')
                        .is_some_and(|(_, rest)| rest.trim_start().starts_with('T')) =>
                {
                    // Every thread of the process has stopped once the group stop is reported.
                    std::thread::sleep(Duration::from_millis(20));
                    return;
                }
                Ok(_) => std::thread::sleep(Duration::from_millis(5)),
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(100));
                    return;
                }
            }
        }
    }

    /// Undoes [`ServerProcess::pause`].
    pub fn resume(&self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.pid.to_string()])
            .status();
    }
}
