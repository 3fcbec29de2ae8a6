//! Test certificates and scratch directories.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A new empty directory under the system temp dir, unique to this process and call
/// (`wm-test-NAME-PID-N`).
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "wm-test-{name}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// Writes a new self-signed certificate for `localhost` and `127.0.0.1` (it is its own CA) and
/// its key to `dir/cert.pem` and `dir/key.pem`; returns (certificate, key) paths.
pub fn test_cert(dir: &Path) -> (PathBuf, PathBuf) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    fs::write(&c, cert.cert.pem()).unwrap();
    fs::write(&k, cert.signing_key.serialize_pem()).unwrap();
    (c, k)
}

/// Sends `line` and a newline over TLS to `127.0.0.1:port` with Python's ssl module, verifying
/// the server as `localhost` against `ca`; the first reply (up to 100 bytes), or `None` when the
/// handshake or verification failed.
pub fn python_tls_exchange(ca: &Path, port: u16, line: &str) -> Option<String> {
    let py = format!(
        "import socket, ssl\nctx = ssl.create_default_context(cafile={ca:?})\ns = ctx.wrap_socket(socket.create_connection(('127.0.0.1', {port})), server_hostname='localhost')\ns.sendall({line:?}.encode() + b'\\n')\nprint(s.recv(100).decode(), end='')\n",
        ca = ca.display().to_string()
    );
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(&py)
        .output()
        .expect("python3 is required (scripts/test installs it)");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}
