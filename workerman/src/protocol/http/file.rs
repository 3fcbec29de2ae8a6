//! Static files: Content-Type by extension, conditional requests (304), ranges (206), a
//! static-directory helper that never leaves its root. Reading the files is the connection
//! side's (`crate::service::http`).

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::response::{Response, not_found};
use super::{Method, Request};

/// Bytes read from disk per step when streaming a file.
pub const STREAM_CHUNK: usize = 256 * 1024;

/// The Content-Type for `path`'s extension (nginx-like table; `application/octet-stream` when
/// unknown).
pub fn mime_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" | "shtml" => "text/html",
        "css" => "text/css",
        "xml" => "text/xml",
        "txt" | "log" => "text/plain",
        "csv" => "text/csv",
        "md" => "text/markdown",
        "js" | "mjs" => "application/javascript",
        "json" | "map" => "application/json",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        "tar" => "application/x-tar",
        "gif" => "image/gif",
        "jpeg" | "jpg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "svg" | "svgz" => "image/svg+xml",
        "ico" => "image/x-icon",
        "bmp" => "image/bmp",
        "mp3" => "audio/mpeg",
        "ogg" => "audio/ogg",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        _ => "application/octet-stream",
    }
}

fn whole_seconds(t: SystemTime) -> SystemTime {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// A response for the file at `path` answering `req`: `304 Not Modified` when
/// `If-Modified-Since` is not older than the file, `206` for a single `Range: bytes=...`, `416`
/// for an unsatisfiable range, else `200` with the whole file; `404` when the file is missing.
pub fn file_response(req: &Request, path: impl AsRef<Path>) -> Response {
    let path = path.as_ref();
    let meta = match fs::metadata(path) {
        Ok(m) if m.is_file() => m,
        _ => return not_found(),
    };
    let mtime = meta.modified().ok().map(whole_seconds);
    if let (Some(mtime), Some(since)) = (mtime, req.header("if-modified-since"))
        && let Ok(since) = httpdate::parse_http_date(since)
        && mtime <= since
    {
        return Response::new(304).with_header("Last-Modified", httpdate::fmt_http_date(mtime));
    }
    let size = meta.len();
    if let Some(range) = req.header("range") {
        match parse_range(range, size) {
            Some(Ok((start, len))) => return Response::new(200).with_file_range(path, start, len),
            Some(Err(())) => {
                return Response::new(416).with_header("Content-Range", format!("bytes */{size}"));
            }
            None => {}
        }
    }
    Response::new(200).with_file(path)
}

/// A single `bytes=` range → `(start, len)`; `None`: ignore the header (unsupported form);
/// `Some(Err)`: unsatisfiable.
fn parse_range(v: &str, size: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = v.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        if n == 0 {
            return Some(Err(()));
        }
        (size.saturating_sub(n), size.saturating_sub(1))
    } else {
        let start: u64 = a.parse().ok()?;
        let end = if b.is_empty() {
            size.saturating_sub(1)
        } else {
            b.parse::<u64>().ok()?.min(size.saturating_sub(1))
        };
        (start, end)
    };
    if size == 0 || start >= size || end < start {
        return Some(Err(()));
    }
    Some(Ok((start, end - start + 1)))
}

/// Serves a directory: `GET`/`HEAD` of a path under a URL prefix maps to a file under `root`,
/// never outside it (`..`, encoded `..`, symlinks leaving the root are all refused).
///
/// ```no_run
/// use workerman::{Worker, protocol::Http};
/// use workerman::protocol::http::{HttpConnectionExt, Response, StaticFiles};
///
/// let files = StaticFiles::new("/static", "./public").unwrap();
/// let worker = Worker::<Http>::new("http://0.0.0.0:2345").unwrap();
/// worker.on_message(move |conn, req| {
///     match files.serve(&req) {
///         Some(resp) => conn.respond(resp),
///         None => conn.respond(Response::new(404).with_body("not found")),
///     };
/// });
/// ```
#[derive(Debug, Clone)]
pub struct StaticFiles {
    prefix: String,
    root: PathBuf,
    index: Option<String>,
}

impl StaticFiles {
    /// Serves `root` (which must exist) under the URL path `prefix` (`"/static"`, or `""`/`"/"`
    /// for everything).
    pub fn new(prefix: &str, root: impl AsRef<Path>) -> io::Result<Self> {
        Ok(StaticFiles {
            prefix: prefix.trim_end_matches('/').to_string(),
            root: fs::canonicalize(root)?,
            index: Some("index.html".into()),
        })
    }

    /// The file served for a directory (default `index.html`; `None`: directories are 404).
    pub fn with_index(mut self, index: Option<&str>) -> Self {
        self.index = index.map(str::to_string);
        self
    }

    /// The file under the root that `url_path` names, if it exists and stays inside the root.
    pub fn resolve(&self, url_path: &str) -> Option<PathBuf> {
        let rest = url_path.strip_prefix(&self.prefix)?;
        if !rest.is_empty() && !rest.starts_with('/') {
            return None;
        }
        let decoded = percent_encoding::percent_decode_str(rest).decode_utf8().ok()?;
        if decoded.contains('\0') || decoded.contains('\\') {
            return None;
        }
        let mut path = self.root.clone();
        for part in Path::new(decoded.as_ref()).components() {
            match part {
                Component::Normal(p) => path.push(p),
                Component::RootDir | Component::CurDir => {}
                Component::ParentDir | Component::Prefix(_) => return None,
            }
        }
        let mut real = fs::canonicalize(&path).ok()?;
        if !real.starts_with(&self.root) {
            return None;
        }
        if real.is_dir() {
            real = fs::canonicalize(real.join(self.index.as_deref()?)).ok()?;
            if !real.starts_with(&self.root) {
                return None;
            }
        }
        real.is_file().then_some(real)
    }

    /// The response for `req` when its path is under the prefix: the file (200/206/304/416),
    /// `405` for other methods; `None` when the path is outside the prefix or names no file.
    pub fn serve(&self, req: &Request) -> Option<Response> {
        let path = self.resolve(req.path())?;
        if !matches!(req.method(), Method::Get | Method::Head) {
            return Some(Response::new(405).with_header("Allow", "GET, HEAD"));
        }
        Some(file_response(req, path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some(Ok((0, 10))));
        assert_eq!(parse_range("bytes=90-", 100), Some(Ok((90, 10))));
        assert_eq!(parse_range("bytes=-5", 100), Some(Ok((95, 5))));
        assert_eq!(parse_range("bytes=50-500", 100), Some(Ok((50, 50))));
        assert_eq!(parse_range("bytes=100-", 100), Some(Err(())));
        assert_eq!(parse_range("bytes=0-1,3-4", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }

    #[test]
    fn mime() {
        assert_eq!(mime_type(Path::new("a/b.HTML")), "text/html");
        assert_eq!(mime_type(Path::new("x.woff2")), "font/woff2");
        assert_eq!(mime_type(Path::new("noext")), "application/octet-stream");
    }

    #[test]
    fn resolve_stays_inside_root() {
        let dir = std::env::temp_dir().join(format!("wm-static-{}", std::process::id()));
        fs::create_dir_all(dir.join("sub")).unwrap();
        fs::write(dir.join("a.txt"), "a").unwrap();
        fs::write(dir.join("sub/index.html"), "i").unwrap();
        let sf = StaticFiles::new("/static", &dir).unwrap();
        assert!(sf.resolve("/static/a.txt").is_some());
        assert!(sf.resolve("/static/sub/").is_some());
        assert!(sf.resolve("/static/../Cargo.toml").is_none());
        assert!(sf.resolve("/static/%2e%2e/x").is_none());
        assert!(sf.resolve("/static/sub/%2E%2E/%2E%2E/etc/passwd").is_none());
        assert!(sf.resolve("/staticx/a.txt").is_none());
        assert!(sf.resolve("/other/a.txt").is_none());
        #[cfg(unix)]
        {
            let _ = std::os::unix::fs::symlink("/etc", dir.join("out"));
            assert!(sf.resolve("/static/out/hostname").is_none());
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}
