//! The node's administration socket, `DATA/admin.sock`: a Unix socket in the data
//! directory (mode 0700), itself mode 0600, so only the node's own user can use it.
//! It is how `accord backup` asks a running node for a consistent copy of its database
//! (a RocksDB checkpoint) without stopping it, and it listens on no network.
//!
//! One request per connection, a line of JSON answered by a line of JSON:
//!
//! ```text
//!   {"checkpoint":{"dir":"/backups/eu-1/db"}}   ->  {"ok":{"dir":"/backups/eu-1/db"}}
//!                                                  |  {"error":"…"}
//! ```
//!
//! Requests are bounded (4 KiB, 5 s to arrive) and served one at a time; the checkpoint
//! itself runs on the blocking pool.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;
use tracing::{info, warn};

use crate::storage::Storage;

/// The socket's file name in the data directory.
pub const SOCKET: &str = "admin.sock";

/// Largest request line.
const MAX_REQUEST_BYTES: u64 = 4096;

/// Time a client has to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Time a client waits for a checkpoint of a large database.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(600);

/// What a client asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// A checkpoint of the database into `dir`: an absolute path that does not exist
    /// yet, in a directory that does.
    Checkpoint {
        /// Where.
        dir: PathBuf,
    },
}

/// What the node answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Response {
    /// Done.
    Ok {
        /// The checkpoint's directory.
        dir: PathBuf,
    },
    /// Refused or failed, and why.
    Error(String),
}

/// The socket's path for the data directory `data_dir`.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET)
}

/// Listens on `DATA/admin.sock` and serves requests until the runtime stops. A socket
/// file left by an earlier run is replaced: the caller holds the database's lock, so no
/// other node uses this data directory.
pub fn spawn(data_dir: &Path, storage: Arc<Storage>) -> Result<tokio::task::JoinHandle<()>> {
    let path = socket_path(data_dir);
    match std::fs::symlink_metadata(&path) {
        Ok(meta) if std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()) => {
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove the old {}", path.display()))?;
        }
        Ok(_) => bail!(
            "{} exists and is not a socket; move it away (the node's administration socket goes there)",
            path.display()
        ),
        Err(_) => {}
    }
    let listener = UnixListener::bind(&path).with_context(|| {
        format!(
            "cannot listen on {} (a Unix socket path holds at most 107 bytes; a shorter data directory fixes that)",
            path.display()
        )
    })?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot set the mode of {}", path.display()))?;
    info!(socket = %path.display(), "administration socket listening");
    Ok(tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(error) => {
                    warn!(%error, "administration socket: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            serve(stream, &storage).await;
        }
    }))
}

/// Reads one request, answers it.
async fn serve(stream: tokio::net::UnixStream, storage: &Arc<Storage>) {
    let (read, mut write) = stream.into_split();
    let mut line = Vec::new();
    let mut limited = BufReader::new(read.take(MAX_REQUEST_BYTES + 1));
    let response =
        match tokio::time::timeout(REQUEST_TIMEOUT, limited.read_until(b'\n', &mut line)).await {
            Err(_) => Response::Error(format!("no request within {} s", REQUEST_TIMEOUT.as_secs())),
            Ok(Err(error)) => Response::Error(format!("reading the request: {error}")),
            Ok(Ok(_)) if line.len() as u64 > MAX_REQUEST_BYTES => {
                Response::Error(format!("the request is over {MAX_REQUEST_BYTES} bytes"))
            }
            Ok(Ok(_)) => match serde_json::from_slice::<Request>(&line) {
                Err(error) => Response::Error(format!("not a request: {error}")),
                Ok(request) => answer(request, storage).await,
            },
        };
    let mut text = serde_json::to_vec(&response).unwrap_or_default();
    text.push(b'\n');
    let _ = write.write_all(&text).await;
    let _ = write.shutdown().await;
    // What the client sent beyond the request is read and dropped (up to 64 KiB, for a
    // second at most) before the socket closes: closing with unread input would reset
    // the connection and could lose the answer on the client's side.
    let mut rest = limited.into_inner().into_inner().take(64 * 1024);
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        tokio::io::copy(&mut rest, &mut tokio::io::sink()),
    )
    .await;
}

async fn answer(request: Request, storage: &Arc<Storage>) -> Response {
    match request {
        Request::Checkpoint { dir } => {
            if !dir.is_absolute() {
                return Response::Error(format!("{} is not an absolute path", dir.display()));
            }
            if dir.exists() {
                return Response::Error(format!("{} exists already", dir.display()));
            }
            if !dir.parent().is_some_and(Path::is_dir) {
                return Response::Error(format!(
                    "the directory that is to hold {} does not exist",
                    dir.display()
                ));
            }
            let storage = Arc::clone(storage);
            let target = dir.clone();
            match tokio::task::spawn_blocking(move || storage.checkpoint(&target)).await {
                Ok(Ok(())) => {
                    info!(dir = %dir.display(), "database checkpoint written");
                    Response::Ok { dir }
                }
                Ok(Err(error)) => Response::Error(error.to_string()),
                Err(error) => Response::Error(format!("the checkpoint task failed: {error}")),
            }
        }
    }
}

/// Sends `request` to the node whose data directory is `data_dir`. `Ok(None)` when no
/// node listens there (no socket, or nobody accepting on it).
pub fn call(data_dir: &Path, request: &Request) -> Result<Option<Response>> {
    use std::io::{BufRead, Write};

    let path = socket_path(data_dir);
    let mut stream = match std::os::unix::net::UnixStream::connect(&path) {
        Ok(stream) => stream,
        Err(error)
            if matches!(
                error.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None)
        }
        Err(error) => {
            return Err(error).with_context(|| format!("cannot connect to {}", path.display()))
        }
    };
    stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
    let mut line = serde_json::to_vec(request)?;
    line.push(b'\n');
    stream
        .write_all(&line)
        .with_context(|| format!("cannot write to {}", path.display()))?;
    let mut answer = String::new();
    std::io::BufReader::new(stream)
        .read_line(&mut answer)
        .with_context(|| format!("no answer from {}", path.display()))?;
    let response = serde_json::from_str(&answer)
        .with_context(|| format!("{} answered {answer:?}, not a response", path.display()))?;
    Ok(Some(response))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A node's socket over an empty database (a checkpoint needs no chain).
    async fn serving() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let storage = Arc::new(Storage::open(&data.join("db")).unwrap());
        spawn(&data, storage).unwrap();
        (dir, data)
    }

    /// `call` is synchronous, like the command line that uses it.
    async fn ask(data: &Path, request: Request) -> Option<Response> {
        let data = data.to_path_buf();
        tokio::task::spawn_blocking(move || call(&data, &request).unwrap())
            .await
            .unwrap()
    }

    async fn raw(data: &Path, bytes: Vec<u8>) -> String {
        let path = socket_path(data);
        tokio::task::spawn_blocking(move || {
            use std::io::{Read, Write};
            let mut stream = std::os::unix::net::UnixStream::connect(path).unwrap();
            let _ = stream.write_all(&bytes);
            let _ = stream.shutdown(std::net::Shutdown::Write);
            let mut answer = String::new();
            stream.read_to_string(&mut answer).unwrap();
            answer
        })
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn a_checkpoint_is_written_where_asked_and_bad_requests_are_answered() {
        let (dir, data) = serving().await;
        let mode = std::fs::metadata(socket_path(&data))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        let target = dir.path().join("copy");
        let answer = ask(
            &data,
            Request::Checkpoint {
                dir: target.clone(),
            },
        )
        .await;
        assert_eq!(
            answer,
            Some(Response::Ok {
                dir: target.clone()
            })
        );
        assert!(target.join("CURRENT").exists());
        Storage::open(&target).unwrap();

        let refused = |answer: Option<Response>, words: &str| match answer {
            Some(Response::Error(message)) => {
                assert!(message.contains(words), "{message:?} lacks {words:?}");
            }
            other => panic!("{other:?}"),
        };
        refused(
            ask(
                &data,
                Request::Checkpoint {
                    dir: target.clone(),
                },
            )
            .await,
            "exists already",
        );
        refused(
            ask(
                &data,
                Request::Checkpoint {
                    dir: "relative/db".into(),
                },
            )
            .await,
            "not an absolute path",
        );
        refused(
            ask(
                &data,
                Request::Checkpoint {
                    dir: dir.path().join("no/such/db"),
                },
            )
            .await,
            "does not exist",
        );
        assert!(raw(&data, b"{\"shutdown\":{}}\n".to_vec())
            .await
            .contains("not a request"));
        assert!(raw(&data, vec![b'x'; 10_000])
            .await
            .contains("over 4096 bytes"));
        // Still serving after all of that.
        let again = dir.path().join("again");
        assert_eq!(
            ask(&data, Request::Checkpoint { dir: again.clone() }).await,
            Some(Response::Ok { dir: again })
        );
    }

    #[tokio::test]
    async fn no_node_is_none_and_a_foreign_file_at_the_path_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            ask(dir.path(), Request::Checkpoint { dir: "/x".into() }).await,
            None
        );
        std::fs::write(socket_path(dir.path()), b"not a socket").unwrap();
        let storage = Arc::new(Storage::open(&dir.path().join("db")).unwrap());
        let error = spawn(dir.path(), storage).unwrap_err().to_string();
        assert!(error.contains("is not a socket"), "{error}");
    }
}
