//! `multipart/form-data` bodies: fields and uploaded files.
//!
//! ```text
//! --BOUNDARY\r\n
//! Content-Disposition: form-data; name="field"\r\n      a field: goes to post()
//! \r\n
//! value\r\n
//! --BOUNDARY\r\n
//! Content-Disposition: form-data; name="f"; filename="a.txt"\r\n
//! Content-Type: text/plain\r\n                           a file: goes to files()
//! \r\n
//! <bytes>\r\n
//! --BOUNDARY--
//! ```
//! Files above [`HttpConfig::upload_spill_size`](super::HttpConfig) are written to temporary files
//! (`workerman.upload.*` in the upload directory), removed when the request is dropped.

use std::cell::Cell;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::HttpConfig;
use super::request::Form;

/// PHP's `UPLOAD_ERR_*` codes, as Workerman reports them.
pub mod upload_error {
    /// No error.
    pub const OK: u8 = 0;
    /// No file was sent for this field (empty name and content).
    pub const NO_FILE: u8 = 4;
    /// The upload directory is missing.
    pub const NO_TMP_DIR: u8 = 6;
    /// The temporary file could not be written.
    pub const CANT_WRITE: u8 = 7;
}

/// One uploaded file.
#[derive(Debug)]
pub struct UploadedFile {
    field: String,
    name: String,
    content_type: String,
    full_path: String,
    size: u64,
    error: u8,
    data: Stored,
}

#[derive(Debug)]
enum Stored {
    Memory(Bytes),
    Temp(PathBuf),
    None,
}

impl UploadedFile {
    /// The form field name.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// The client's file name (`filename="..."`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The part's `Content-Type` (empty when not sent).
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// The relative path a browser sent for directory uploads (`webkitrelativepath`), else the name.
    pub fn full_path(&self) -> &str {
        &self.full_path
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// A PHP `UPLOAD_ERR_*` code ([`upload_error`]); 0 when the file is there.
    pub fn error(&self) -> u8 {
        self.error
    }

    /// Where the file was spilled to disk (`tmp_name`), for large files.
    pub fn tmp_path(&self) -> Option<&Path> {
        match &self.data {
            Stored::Temp(p) => Some(p),
            _ => None,
        }
    }

    /// The contents (read from the temporary file for large uploads).
    pub fn bytes(&self) -> io::Result<Bytes> {
        match &self.data {
            Stored::Memory(b) => Ok(b.clone()),
            Stored::Temp(p) => fs::read(p).map(Bytes::from),
            Stored::None => Ok(Bytes::new()),
        }
    }

    /// Moves or copies the file to `dest` (PHP's `move_uploaded_file`).
    pub fn save_to(&self, dest: impl AsRef<Path>) -> io::Result<()> {
        match &self.data {
            Stored::Memory(b) => fs::write(dest, b),
            Stored::Temp(p) => fs::copy(p, dest).map(|_| ()),
            Stored::None => Err(io::Error::new(io::ErrorKind::NotFound, "no file was uploaded")),
        }
    }
}

impl Drop for UploadedFile {
    fn drop(&mut self) {
        if let Stored::Temp(p) = &self.data {
            let _ = fs::remove_file(p);
        }
    }
}

/// The boundary of a `multipart/form-data` Content-Type, if it has one.
pub(crate) fn boundary(content_type: &str) -> Option<&str> {
    let lower = content_type.to_ascii_lowercase();
    let at = lower.find("boundary=")? + "boundary=".len();
    let rest = &content_type[at..];
    let b = if let Some(q) = rest.strip_prefix('"') {
        q.split('"').next()?
    } else {
        rest.split(';').next()?.trim()
    };
    (!b.is_empty() && b.len() <= 200).then_some(b)
}

/// Parses a multipart body; malformed parts end the parse (what was read so far is kept).
pub(crate) fn parse(body: &Bytes, boundary: &str, cfg: &HttpConfig) -> Form {
    let mut form = Form::default();
    let delim = format!("--{boundary}");
    let finder = memchr::memmem::Finder::new(delim.as_bytes());
    let Some(first) = finder.find(body) else {
        return form;
    };
    let mut pos = first + delim.len();
    let next_delim = format!("\r\n--{boundary}");
    let next = memchr::memmem::Finder::new(next_delim.as_bytes());
    let mut parts = 0;
    loop {
        let rest = &body[pos..];
        if rest.starts_with(b"--") || !rest.starts_with(b"\r\n") {
            break;
        }
        pos += 2;
        let Some(head_end) = memchr::memmem::find(&body[pos..], b"\r\n\r\n") else {
            break;
        };
        let head = &body[pos..pos + head_end];
        let data_start = pos + head_end + 4;
        let Some(data_len) = next.find(&body[data_start..]) else {
            break;
        };
        let data = body.slice(data_start..data_start + data_len);
        pos = data_start + data_len + next_delim.len();
        parts += 1;
        if parts > cfg.max_file_uploads {
            break;
        }
        let head = String::from_utf8_lossy(head);
        let mut field = None;
        let mut filename = None;
        let mut content_type = String::new();
        let mut full_path = None;
        for line in head.split("\r\n") {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "content-disposition" => {
                    field = param(value, "name");
                    filename = param(value, "filename");
                }
                "content-type" => content_type = value.to_string(),
                "webkitrelativepath" => full_path = Some(value.to_string()),
                _ => {}
            }
        }
        let Some(field) = field else { continue };
        let Some(name) = filename else {
            form.fields.push((field, String::from_utf8_lossy(&data).into_owned()));
            continue;
        };
        let size = data.len() as u64;
        let (error, stored) = if name.is_empty() && data.is_empty() {
            (upload_error::NO_FILE, Stored::None)
        } else if data.len() > cfg.upload_spill_size {
            match spill(&data, cfg) {
                Ok(path) => (upload_error::OK, Stored::Temp(path)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => (upload_error::NO_TMP_DIR, Stored::None),
                Err(_) => (upload_error::CANT_WRITE, Stored::None),
            }
        } else {
            (upload_error::OK, Stored::Memory(data))
        };
        form.files.push(UploadedFile {
            field,
            full_path: full_path.unwrap_or_else(|| name.clone()),
            name,
            content_type,
            size,
            error,
            data: stored,
        });
    }
    form
}

/// `name="value"` (or unquoted) from a Content-Disposition value.
fn param(value: &str, key: &str) -> Option<String> {
    for piece in value.split(';').skip(1) {
        let Some((k, v)) = piece.split_once('=') else {
            continue;
        };
        if k.trim().eq_ignore_ascii_case(key) {
            let v = v.trim();
            let v = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v);
            return Some(v.replace("\\\"", "\""));
        }
    }
    None
}

thread_local! {
    static SEQ: Cell<u64> = const { Cell::new(0) };
}

fn spill(data: &[u8], cfg: &HttpConfig) -> io::Result<PathBuf> {
    let dir = cfg.upload_tmp_dir.clone().unwrap_or_else(std::env::temp_dir);
    let pid = std::process::id();
    loop {
        let seq = SEQ.with(|s| {
            let v = s.get() + 1;
            s.set(v);
            v
        });
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = dir.join(format!("workerman.upload.{pid}.{seq}.{nanos:x}"));
        // Owner-only: uploads are private to the service.
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut f) => {
                if let Err(e) = f.write_all(data) {
                    let _ = fs::remove_file(&path);
                    return Err(e);
                }
                return Ok(path);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundary_forms() {
        assert_eq!(boundary("multipart/form-data; boundary=abc"), Some("abc"));
        assert_eq!(boundary("multipart/form-data; boundary=\"a b\"; x=y"), Some("a b"));
        assert_eq!(boundary("text/plain"), None);
    }

    #[test]
    fn fields_and_files() {
        let body = Bytes::from_static(
            b"--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n\
              --XX\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n\
              --XX\r\nContent-Disposition: form-data; name=\"big\"; filename=\"b.bin\"\r\n\r\n0123456789\r\n\
              --XX\r\nContent-Disposition: form-data; name=\"none\"; filename=\"\"\r\n\r\n\r\n\
              --XX--\r\n",
        );
        let cfg = HttpConfig {
            upload_spill_size: 8,
            ..HttpConfig::default()
        };
        let form = parse(&body, "XX", &cfg);
        assert_eq!(form.fields, vec![("a".to_string(), "1".to_string())]);
        assert_eq!(form.files.len(), 3);
        let f = &form.files[0];
        assert_eq!(
            (f.field(), f.name(), f.content_type(), f.size()),
            ("f", "x.txt", "text/plain", 5)
        );
        assert_eq!(&f.bytes().unwrap()[..], b"hello");
        let big = &form.files[1];
        let tmp = big.tmp_path().unwrap().to_path_buf();
        assert!(
            tmp.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("workerman.upload.")
        );
        assert_eq!(&big.bytes().unwrap()[..], b"0123456789");
        assert_eq!(form.files[2].error(), upload_error::NO_FILE);
        drop(form);
        assert!(!tmp.exists(), "temporary upload removed with the request");
    }
}
