//! The `user` setting seen from the master: is it usable, and handing it the files its worker
//! processes need (the log file, unix socket files) when the master runs as root.

use nix::unistd::{User, getuid};

/// The current user's name.
pub(super) fn current_user() -> String {
    User::from_uid(getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| getuid().to_string())
}

/// Why a configured user cannot be applied, or `None` if it can (or none is configured).
pub(super) fn check_user(user: Option<&str>) -> Option<String> {
    let user = user?;
    if current_user() == user {
        return None;
    }
    if !getuid().is_root() {
        return Some(format!(
            "Warning: You must have the root privileges to change uid and gid (user `{user}` ignored)."
        ));
    }
    match User::from_name(user) {
        Ok(Some(_)) => None,
        _ => Some(format!("Warning: user `{user}` does not exist")),
    }
}

/// Makes the log file writable by `user` (when running as root), creating it if needed.
pub(super) fn give_log_file_to(user: &str) {
    if !getuid().is_root() {
        return;
    }
    let path = crate::settings::log_file();
    if path.as_os_str() == "/dev/null" {
        return;
    }
    let _ = std::fs::OpenOptions::new().create(true).append(true).open(&path);
    if let Ok(Some(u)) = User::from_name(user) {
        let _ = nix::unistd::chown(&path, Some(u.uid), Some(u.gid));
    }
}

/// Hands a unix socket file to the worker user (when running as root), so it can be used by
/// processes of that user.
pub(super) fn give_socket_to(path: &std::path::Path, user: &str) {
    if !getuid().is_root() {
        return;
    }
    if let Ok(Some(u)) = User::from_name(user) {
        let _ = nix::unistd::chown(path, Some(u.uid), Some(u.gid));
    }
}
