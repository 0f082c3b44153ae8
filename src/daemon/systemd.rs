//! The systemd notification protocol (`sd_notify`): READY, STATUS, RELOADING, STOPPING and
//! WATCHDOG pings, sent as datagrams to `$NOTIFY_SOCKET`.
//!
//! Hand-written rather than taken from a crate because it is a few lines, and because taking
//! the socket address as a value (instead of reading the environment inside every call) lets
//! the tests bind a socket of their own without touching process-global state.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::Duration;

/// Where notifications go; `None` when not started by systemd (every call is then a no-op).
#[derive(Debug, Clone, Default)]
pub(crate) struct Notifier {
    socket: Option<NotifySocket>,
}

#[derive(Debug, Clone)]
enum NotifySocket {
    Path(PathBuf),
    /// A Linux abstract-namespace socket, written `@name` in `$NOTIFY_SOCKET`.
    Abstract(Vec<u8>),
}

impl Notifier {
    /// The notifier described by `$NOTIFY_SOCKET`, if set.
    pub(crate) fn from_env() -> Notifier {
        Notifier::new(std::env::var_os("NOTIFY_SOCKET").map(PathBuf::from))
    }

    /// A notifier sending to `socket` (a path, or `@name` for an abstract socket).
    pub(crate) fn new(socket: Option<PathBuf>) -> Notifier {
        let socket = socket.map(|p| {
            use std::os::unix::ffi::OsStrExt;
            match p.as_os_str().as_bytes().strip_prefix(b"@") {
                Some(name) => NotifySocket::Abstract(name.to_vec()),
                None => NotifySocket::Path(p),
            }
        });
        Notifier { socket }
    }

    /// Whether a service manager is listening.
    pub(crate) fn enabled(&self) -> bool {
        self.socket.is_some()
    }

    fn send(&self, message: &str) -> io::Result<()> {
        let Some(socket) = &self.socket else {
            return Ok(());
        };
        let sender = UnixDatagram::unbound()?;
        match socket {
            NotifySocket::Path(path) => sender.send_to(message.as_bytes(), path)?,
            NotifySocket::Abstract(name) => send_abstract(&sender, name, message)?,
        };
        Ok(())
    }

    /// `READY=1` with a status line: every channel has been initialised.
    pub(crate) fn ready(&self, status: &str) -> io::Result<()> {
        self.send(&format!("READY=1\nSTATUS={}", one_line(status)))
    }

    /// `STATUS=...`: the one-line summary `systemctl status` shows.
    pub(crate) fn status(&self, status: &str) -> io::Result<()> {
        self.send(&format!("STATUS={}", one_line(status)))
    }

    /// `RELOADING=1`, with the monotonic timestamp systemd 253+ requires beside it.
    pub(crate) fn reloading(&self) -> io::Result<()> {
        self.send(&format!(
            "RELOADING=1\nMONOTONIC_USEC={}",
            monotonic_usec().unwrap_or(0)
        ))
    }

    /// `STOPPING=1`.
    pub(crate) fn stopping(&self) -> io::Result<()> {
        self.send("STOPPING=1")
    }

    /// `WATCHDOG=1`.
    pub(crate) fn watchdog(&self) -> io::Result<()> {
        self.send("WATCHDOG=1")
    }
}

#[cfg(target_os = "linux")]
fn send_abstract(sender: &UnixDatagram, name: &[u8], message: &str) -> io::Result<usize> {
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    sender.send_to_addr(message.as_bytes(), &addr)
}

#[cfg(not(target_os = "linux"))]
fn send_abstract(_: &UnixDatagram, _: &[u8], _: &str) -> io::Result<usize> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "abstract sockets need Linux",
    ))
}

/// A status must stay on one line: a newline would start a new assignment.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// A monotonic timestamp in microseconds for `MONOTONIC_USEC`, read from `/proc/uptime` because
/// std's `Instant` does not expose its raw value and this crate forbids unsafe code. That clock
/// (CLOCK_BOOTTIME) never runs behind CLOCK_MONOTONIC, and systemd only needs the stamp to be
/// no earlier than the moment it asked for the reload.
fn monotonic_usec() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/uptime").ok()?;
    let secs: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some((secs * 1_000_000.0) as u64)
}

/// How often to ping: half of `$WATCHDOG_USEC` when the watchdog is on for this process.
pub(crate) fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Some(pid) = std::env::var("WATCHDOG_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
    {
        if pid != std::process::id() {
            return None;
        }
    }
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

/// Pings the watchdog from a tokio task every `interval`: a ping proves that the runtime still
/// schedules tasks, which is what a hung daemon would stop doing.
pub(crate) fn spawn_watchdog(
    notifier: Notifier,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        loop {
            tick.tick().await;
            if let Err(e) = notifier.watchdog() {
                tracing::warn!(event = "watchdog_failed", error = %e, "cannot ping the systemd watchdog");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_ready_status_and_watchdog() {
        let dir = std::env::temp_dir().join(format!("smppd-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let receiver = UnixDatagram::bind(&path).unwrap();
        receiver
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let n = Notifier::new(Some(path.clone()));
        assert!(n.enabled());
        let mut buf = [0u8; 256];
        let mut recv = || {
            let len = receiver.recv(&mut buf).unwrap();
            String::from_utf8_lossy(&buf[..len]).into_owned()
        };
        n.ready("2 of 2 channels bound\nsecond line").unwrap();
        assert_eq!(recv(), "READY=1\nSTATUS=2 of 2 channels bound second line");
        n.watchdog().unwrap();
        assert_eq!(recv(), "WATCHDOG=1");
        n.stopping().unwrap();
        assert_eq!(recv(), "STOPPING=1");
        n.reloading().unwrap();
        assert!(recv().starts_with("RELOADING=1\nMONOTONIC_USEC="));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn without_socket_everything_is_a_no_op() {
        let n = Notifier::new(None);
        assert!(!n.enabled());
        n.ready("x").unwrap();
        n.watchdog().unwrap();
    }
}
