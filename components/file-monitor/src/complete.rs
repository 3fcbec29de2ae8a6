//! Is a changed file complete? Its size and mtime must hold still, and an ELF executable must
//! contain every header table its first bytes announce — so a binary being written (or left
//! half-written by an interrupted copy) never becomes the code of a reloaded worker, which would
//! only crash and crash again.
//!
//! ```text
//! ELF header (64 bytes)          program headers         ...      section headers (written last)
//! ├ e_phoff, e_phnum ────────────▶┤                                 ┤
//! └ e_shoff, e_shnum ─────────────────────────────────────────────▶ ┤ ← file must reach the end
//! ```

use std::fs;
use std::io::Read;
use std::path::Path;
use std::time::SystemTime;

/// What a file looks like at one moment: size and mtime, or absent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// Size in bytes.
    pub len: u64,
    /// Last modification.
    pub modified: Option<SystemTime>,
}

/// The file's size and mtime, `None` when it does not exist (yet).
pub fn snapshot(path: &Path) -> Option<Snapshot> {
    let meta = fs::metadata(path).ok()?;
    Some(Snapshot {
        len: meta.len(),
        modified: meta.modified().ok(),
    })
}

/// Why a file is not ready to be run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incomplete {
    /// The file does not exist.
    Missing,
    /// It has no execute permission.
    NotExecutable,
    /// Shorter than the ELF header says (`needed` bytes, `len` present).
    Truncated {
        /// Bytes the headers reach to.
        needed: u64,
        /// Bytes present.
        len: u64,
    },
    /// Not an ELF file at all (an executable must be one on Linux).
    NotElf,
}

impl std::fmt::Display for Incomplete {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Incomplete::Missing => f.write_str("missing"),
            Incomplete::NotExecutable => f.write_str("not executable"),
            Incomplete::Truncated { needed, len } => write!(f, "truncated ({len} of at least {needed} bytes)"),
            Incomplete::NotElf => f.write_str("not an ELF executable"),
        }
    }
}

/// How far an ELF file's header tables reach, from its first 64 bytes; `None` if not ELF.
pub fn elf_extent(head: &[u8]) -> Option<u64> {
    if head.len() < 52 || &head[..4] != b"\x7fELF" {
        return None;
    }
    let le = match head[5] {
        1 => true,
        2 => false,
        _ => return None,
    };
    let u16_at = |o: usize| {
        let b = [head[o], head[o + 1]];
        u64::from(if le {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    };
    let u32_at = |o: usize| {
        let b = [head[o], head[o + 1], head[o + 2], head[o + 3]];
        u64::from(if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let (phoff, shoff, phentsize, phnum, shentsize, shnum, header) = match head[4] {
        1 => (
            u32_at(0x1C),
            u32_at(0x20),
            u16_at(0x2A),
            u16_at(0x2C),
            u16_at(0x2E),
            u16_at(0x30),
            52,
        ),
        2 if head.len() >= 64 => {
            let u64_at = |o: usize| {
                let mut b = [0u8; 8];
                b.copy_from_slice(&head[o..o + 8]);
                if le {
                    u64::from_le_bytes(b)
                } else {
                    u64::from_be_bytes(b)
                }
            };
            (
                u64_at(0x20),
                u64_at(0x28),
                u16_at(0x36),
                u16_at(0x38),
                u16_at(0x3A),
                u16_at(0x3C),
                64,
            )
        }
        _ => return None,
    };
    let ph_end = phoff.saturating_add(phentsize.saturating_mul(phnum));
    let sh_end = shoff.saturating_add(shentsize.saturating_mul(shnum));
    Some(ph_end.max(sh_end).max(header))
}

/// Whether `path` is an executable that can be run as it is now.
pub fn check_executable(path: &Path) -> Result<(), Incomplete> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::metadata(path).map_err(|_| Incomplete::Missing)?;
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(Incomplete::NotExecutable);
    }
    let mut head = [0u8; 64];
    let mut f = fs::File::open(path).map_err(|_| Incomplete::Missing)?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(_) => return Err(Incomplete::Missing),
        }
    }
    let needed = elf_extent(&head[..n]).ok_or(Incomplete::NotElf)?;
    if meta.len() < needed {
        return Err(Incomplete::Truncated {
            needed,
            len: meta.len(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_running_test_binary_is_complete_and_its_half_is_not() {
        let exe = std::env::current_exe().unwrap();
        assert_eq!(check_executable(&exe), Ok(()));
        let data = fs::read(&exe).unwrap();
        let needed = elf_extent(&data[..64]).unwrap();
        assert!(needed <= data.len() as u64 && needed > data.len() as u64 / 2);

        let dir = std::env::temp_dir().join(format!("wm-fm-complete-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let half = dir.join("half");
        fs::write(&half, &data[..data.len() / 2]).unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&half, fs::Permissions::from_mode(0o755)).unwrap();
        assert!(matches!(check_executable(&half), Err(Incomplete::Truncated { .. })));
        fs::write(&half, &data[..10]).unwrap();
        assert_eq!(check_executable(&half), Err(Incomplete::NotElf));
        fs::write(&half, b"#!/bin/sh\n").unwrap();
        assert_eq!(check_executable(&half), Err(Incomplete::NotElf));
        fs::set_permissions(&half, fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(check_executable(&half), Err(Incomplete::NotExecutable));
        assert_eq!(check_executable(&dir.join("absent")), Err(Incomplete::Missing));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn elf_extent_never_panics_on_short_or_odd_headers() {
        assert_eq!(elf_extent(b""), None);
        assert_eq!(elf_extent(b"\x7fELF"), None);
        let mut h = [0xffu8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 2;
        h[5] = 1;
        assert!(elf_extent(&h).is_some());
        h[4] = 1;
        assert!(elf_extent(&h[..52]).is_some());
        h[4] = 3;
        assert_eq!(elf_extent(&h), None);
    }
}
