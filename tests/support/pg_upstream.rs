//! The real test server as the proxies in front of it reach it: TCP or a Unix socket, with
//! the user and database a URL through a proxy names.

use std::path::PathBuf;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};

/// Where the real server listens.
#[derive(Debug, Clone)]
pub enum Upstream {
    Tcp(String, u16),
    Unix(PathBuf),
}

/// A byte stream to the server, whichever kind of socket it is.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// The server `server_url` names, with its user and database.
pub struct Server {
    pub upstream: Upstream,
    pub user: String,
    pub dbname: String,
}

impl Server {
    /// The server of `server_url` (a TCP host or a Unix socket directory).
    ///
    /// # Panics
    /// When the URL does not parse or names no user.
    pub fn of(server_url: &str) -> Server {
        let config: tokio_postgres::Config = server_url
            .parse()
            .unwrap_or_else(|e| panic!("{server_url}: {e}"));
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let upstream = match config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(host)) => Upstream::Tcp(host.clone(), port),
            Some(tokio_postgres::config::Host::Unix(dir)) => {
                Upstream::Unix(dir.join(format!(".s.PGSQL.{port}")))
            }
            None => Upstream::Tcp("127.0.0.1".into(), port),
        };
        let user = config
            .get_user()
            .unwrap_or_else(|| panic!("{server_url} names no user"))
            .to_string();
        let dbname = config.get_dbname().unwrap_or(&user).to_string();
        Server {
            upstream,
            user,
            dbname,
        }
    }
}

impl Upstream {
    /// A new connection to the server.
    pub async fn connect(&self) -> std::io::Result<Box<dyn Io>> {
        Ok(match self {
            Upstream::Tcp(host, port) => {
                let s = TcpStream::connect((host.as_str(), *port)).await?;
                let _ = s.set_nodelay(true);
                Box::new(s)
            }
            Upstream::Unix(path) => Box::new(UnixStream::connect(path).await?),
        })
    }
}
