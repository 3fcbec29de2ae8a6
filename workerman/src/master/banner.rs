//! The start banner (Workerman 5's layout, with Rust values).
//!
//! ```text
//! ---------------------------------------- WORKERMAN-RS ----------------------------------------
//! workerman-rs/0.1.0      rustc/1.95.0                  Linux/6.1.0
//! ------------------------------------------ WORKERS -------------------------------------------
//! event-loop  proto       user        worker      listen                    count       state
//! tokio       tcp         root        tcp_hello   tcp://0.0.0.0:2347        4            [OK]
//! ----------------------------------------------------------------------------------------------
//! Press Ctrl+C to stop. Start success.
//! ```

use super::users::{check_user, current_user};
use crate::worker::Spec;

fn centered(title: &str, width: usize) -> String {
    let fill = width.saturating_sub(title.len());
    let left = fill / 2;
    format!("{}{title}{}", "-".repeat(left), "-".repeat(fill - left))
}

/// The banner text; `stop_hint` is the last line.
pub(super) fn render(specs: &[Spec], stop_hint: &str) -> String {
    let os = std::fs::read_to_string("/proc/sys/kernel/ostype").unwrap_or_else(|_| "Linux".into());
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let version = format!(
        "{:<24}{:<30}{}/{}\n",
        format!("workerman-rs/{}", crate::VERSION),
        format!("rustc/{}", crate::RUSTC_VERSION),
        os.trim(),
        release.trim()
    );
    let me = current_user();
    let rows: Vec<[String; 6]> = specs
        .iter()
        .map(|s| {
            let user = s
                .user
                .clone()
                .filter(|u| check_user(Some(u)).is_none())
                .unwrap_or_else(|| me.clone());
            [
                "tokio".to_string(),
                s.transport.as_str().to_string(),
                user,
                s.name.clone(),
                s.address
                    .as_ref()
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| "none".into()),
                s.count.to_string(),
            ]
        })
        .collect();
    let headers = ["event-loop", "proto", "user", "worker", "listen", "count"];
    let mut widths: Vec<usize> = (0..6)
        .map(|i| rows.iter().map(|r| r[i].len()).chain([8]).max().unwrap_or(8) + 4)
        .collect();
    // The state cell: " [OK] " counted as 13 characters, as Workerman does.
    widths.push(13 + 4);
    let mut total: usize = widths.iter().sum();
    if total <= version.len() {
        total = version.len();
    }
    let mut out = String::new();
    out.push_str(&centered(" WORKERMAN-RS ", total));
    out.push('\n');
    out.push_str(&version);
    out.push_str(&centered(" WORKERS ", total));
    out.push('\n');
    for (i, h) in headers.iter().chain(["state"].iter()).enumerate() {
        out.push_str(&format!("{h:<w$}", w = widths[i]));
    }
    out.push('\n');
    for r in &rows {
        for (i, v) in r.iter().enumerate() {
            out.push_str(&format!("{v:<w$}", w = widths[i]));
        }
        out.push_str(&format!("{:<w$}\n", " [OK] ", w = widths[6]));
    }
    out.push_str(&"-".repeat(total));
    out.push('\n');
    out.push_str(stop_hint);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::Address;

    #[test]
    fn layout() {
        let spec = Spec {
            name: "web".into(),
            count: 2,
            address: Some(Address::parse("http://127.0.0.1:18080").unwrap()),
            reuse_port: false,
            reloadable: true,
            backlog: 1,
            max_requests: None,
            max_memory: None,
            user: None,
            group: None,
            transport: crate::address::Transport::Tcp,
            tls: None,
            misfit: None,
            graceful_stop: crate::worker::GracefulStop::DEFAULT,
        };
        let mut tls = spec.clone();
        tls.transport = crate::address::Transport::Ssl;
        assert!(
            render(&[tls], "")
                .lines()
                .nth(4)
                .unwrap()
                .starts_with("tokio       ssl "),
            "the transport in use"
        );
        let text = render(&[spec], "Press Ctrl+C to stop. Start success.");
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains(" WORKERMAN-RS ") && lines[0].starts_with('-'));
        assert!(lines[1].starts_with("workerman-rs/"));
        assert!(lines[3].starts_with("event-loop  proto       user"));
        assert!(lines[4].starts_with("tokio       tcp         "));
        assert!(
            lines[4].contains("web         http://127.0.0.1:18080    2            [OK]"),
            "{}",
            lines[4]
        );
        assert_eq!(lines[0].len(), lines[2].len());
        assert_eq!(lines[0].len(), lines[5].len());
        assert_eq!(lines[6], "Press Ctrl+C to stop. Start success.");
    }
}
