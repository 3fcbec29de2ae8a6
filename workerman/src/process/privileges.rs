//! Dropping root privileges in a worker process (Workerman's `user` / `group`).

use std::ffi::CString;

use nix::unistd::{Gid, Group, Uid, User, getuid, initgroups, setgid, setuid};

use crate::error::{Error, Result};

/// Switches this process to `user` (and `group`, default the user's primary group) when running
/// as root; does nothing otherwise (the master already warned).
pub(crate) fn drop_to(user: Option<&str>, group: Option<&str>) -> Result<()> {
    let Some(name) = user else { return Ok(()) };
    if !getuid().is_root() {
        return Ok(());
    }
    let err = |what: String| Error::io(what, std::io::Error::from(std::io::ErrorKind::NotFound));
    let user = User::from_name(name)
        .ok()
        .flatten()
        .ok_or_else(|| err(format!("user `{name}` does not exist")))?;
    let gid: Gid = match group {
        Some(g) => {
            Group::from_name(g)
                .ok()
                .flatten()
                .ok_or_else(|| err(format!("group `{g}` does not exist")))?
                .gid
        }
        None => user.gid,
    };
    if user.uid == Uid::current() && gid == Gid::current() {
        return Ok(());
    }
    let cname = CString::new(name).map_err(|_| err(format!("bad user name `{name}`")))?;
    let io = |what: &str, e: nix::Error| Error::io(what.to_string(), e.into());
    initgroups(&cname, gid).map_err(|e| io("initgroups", e))?;
    setgid(gid).map_err(|e| io("setgid", e))?;
    setuid(user.uid).map_err(|e| io("setuid", e))?;
    Ok(())
}
