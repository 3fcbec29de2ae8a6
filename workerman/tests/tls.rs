//! TLS options over real sockets, with certificates made by rcgen at test time: certificates
//! chosen by SNI, client certificates (mutual TLS, required and optional), ALPN, and client
//! verification turned off on purpose.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use workerman::protocol::Text;
use workerman::tls::ClientAuth;
use workerman::{AsyncTcpConnection, Transport, Worker};

const TIMEOUT: Duration = Duration::from_secs(10);

/// A scratch directory of PEM files.
fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wm-tlsopt-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A CA; writes `NAME.pem`.
fn make_ca(d: &Path, name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("{name} test CA"));
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    std::fs::write(d.join(format!("{name}.pem")), ca.pem()).unwrap();
    ca
}

/// A leaf certificate for `names` signed by `ca`; writes `FILE.pem` and `FILE.key`, returns
/// their paths and the certificate's DER.
fn leaf(d: &Path, file: &str, names: &[&str], ca: &CertifiedIssuer<'static, KeyPair>) -> (PathBuf, PathBuf, Vec<u8>) {
    let params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, ca).unwrap();
    let (c, k) = (d.join(format!("{file}.pem")), d.join(format!("{file}.key")));
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (c, k, cert.der().to_vec())
}

/// A TLS `text` worker on 127.0.0.1:0 answering each line with what its handshake settled:
/// `sni=NAME alpn=PROTO client_certs=N`.
fn tls_info_server(configure: impl FnOnce(&Worker<Text>)) -> Worker<Text> {
    let w = Worker::<Text>::new("text://127.0.0.1:0").unwrap();
    w.set_transport(Transport::Ssl);
    configure(&w);
    w.on_message(|c, _| {
        let info = c.tls_info().expect("a TLS connection");
        c.send(format!(
            "sni={} alpn={} client_certs={}",
            info.server_name.unwrap_or_default(),
            String::from_utf8_lossy(&info.alpn.unwrap_or_default()),
            info.peer_certificates.len()
        ));
    });
    w
}

/// Configures one client before it connects.
type Setup = Box<dyn Fn(&AsyncTcpConnection<Text>) + Send>;

/// What a client saw: its first reply line (with the server's leaf certificate), or why not.
#[derive(Debug)]
enum Seen {
    Reply {
        line: String,
        server_cert: Vec<u8>,
        alpn: Option<Vec<u8>>,
    },
    Error(String),
    Closed,
}

/// Runs `server` in a thread of its own; for each client set-up, connects to it with TLS on
/// `127.0.0.1`, sends one line, and reports what happened, in order.
fn run(server: impl FnOnce() -> Worker<Text> + Send + 'static, clients: Vec<Setup>) -> Vec<Seen> {
    let (tx, rx) = mpsc::channel::<(usize, Seen)>();
    let n = clients.len();
    thread::spawn(move || {
        let w = server();
        let probe = Worker::without_listener();
        probe.on_worker_start(move |_| {
            let addr: SocketAddr = w.local_addrs()[0];
            for (i, setup) in clients.iter().enumerate() {
                let conn = AsyncTcpConnection::<Text>::new(&format!("text://127.0.0.1:{}", addr.port())).unwrap();
                conn.set_transport(Transport::Ssl);
                setup(&conn);
                conn.on_connect(|c| {
                    c.send("hi");
                });
                let t = tx.clone();
                conn.on_message(move |c, line| {
                    let info = c.tls_info().expect("a TLS connection");
                    let _ = t.send((
                        i,
                        Seen::Reply {
                            line,
                            server_cert: info.peer_certificates[0].clone(),
                            alpn: info.alpn,
                        },
                    ));
                    c.close();
                });
                let t = tx.clone();
                conn.on_error(move |_, e| {
                    let _ = t.send((i, Seen::Error(e.to_string())));
                });
                let t = tx.clone();
                conn.on_close(move |_| {
                    let _ = t.send((i, Seen::Closed));
                });
                conn.connect();
            }
        });
        Worker::run_standalone()
    });
    // The first event of each client decides.
    let mut seen: Vec<Option<Seen>> = (0..n).map(|_| None).collect();
    while seen.iter().any(Option::is_none) {
        let (i, s) = rx.recv_timeout(TIMEOUT).expect("every client reports");
        if seen[i].is_none() {
            seen[i] = Some(s);
        }
    }
    seen.into_iter().map(Option::unwrap).collect()
}

fn reply(s: &Seen) -> &str {
    match s {
        Seen::Reply { line, .. } => line,
        other => panic!("expected a reply, got {other:?}"),
    }
}

#[test]
fn server_picks_its_certificate_by_the_name_the_client_sends() {
    let d = dir("sni");
    let ca = make_ca(&d, "ca");
    let (dc, dk, default_der) = leaf(&d, "default", &["default.test"], &ca);
    let (ac, ak, a_der) = leaf(&d, "a", &["a.test"], &ca);
    let (bc, bk, b_der) = leaf(&d, "b", &["x.b.test"], &ca);
    let ca_file = d.join("ca.pem");
    let client = |name: &'static str| -> Setup {
        let ca_file = ca_file.clone();
        Box::new(move |c| {
            c.set_tls_ca(&ca_file);
            c.set_tls_server_name(name);
        })
    };
    let seen = run(
        move || {
            tls_info_server(|w| {
                w.set_tls(&dc, &dk);
                w.add_tls_sni("A.test", &ac, &ak);
                w.add_tls_sni("*.b.test", &bc, &bk);
            })
        },
        vec![client("a.test"), client("x.b.test"), client("default.test")],
    );
    // Each client verified the certificate against the name it sent: each got its own.
    assert_eq!(reply(&seen[0]), "sni=a.test alpn= client_certs=0");
    assert!(matches!(&seen[0], Seen::Reply { server_cert, .. } if *server_cert == a_der));
    assert_eq!(reply(&seen[1]), "sni=x.b.test alpn= client_certs=0");
    assert!(matches!(&seen[1], Seen::Reply { server_cert, .. } if *server_cert == b_der));
    assert_eq!(reply(&seen[2]), "sni=default.test alpn= client_certs=0");
    assert!(matches!(&seen[2], Seen::Reply { server_cert, .. } if *server_cert == default_der));
}

#[test]
fn sni_only_server_refuses_unknown_names() {
    let d = dir("sni-only");
    let ca = make_ca(&d, "ca");
    let (ac, ak, _) = leaf(&d, "a", &["a.test"], &ca);
    let ca_file = d.join("ca.pem");
    let (ca1, ca2) = (ca_file.clone(), ca_file);
    let seen = run(
        move || tls_info_server(|w| w.add_tls_sni("a.test", &ac, &ak)),
        vec![
            Box::new(move |c| {
                c.set_tls_ca(&ca1);
                c.set_tls_server_name("a.test");
            }),
            Box::new(move |c| {
                c.set_tls_ca(&ca2);
                c.set_tls_server_name("other.test");
            }),
        ],
    );
    assert_eq!(reply(&seen[0]), "sni=a.test alpn= client_certs=0");
    assert!(
        matches!(&seen[1], Seen::Error(e) if e.contains("TLS handshake")),
        "{:?}",
        seen[1]
    );
}

#[test]
fn mutual_tls_required_accepts_only_clients_with_a_certificate_from_the_ca() {
    let d = dir("mtls");
    let ca = make_ca(&d, "ca");
    let other = make_ca(&d, "other");
    let (sc, sk, _) = leaf(&d, "server", &["localhost"], &ca);
    let (cc, ck, _) = leaf(&d, "client", &["client.test"], &ca);
    let (oc, ok, _) = leaf(&d, "stranger", &["client.test"], &other);
    let ca_file = d.join("ca.pem");
    let trust = ca_file.clone();
    let with_cert = move |cert: PathBuf, key: PathBuf| -> Setup {
        let trust = trust.clone();
        Box::new(move |c| {
            c.set_tls_ca(&trust);
            c.set_tls_server_name("localhost");
            c.set_tls_client_cert(&cert, &key);
        })
    };
    let trust = ca_file.clone();
    let without_cert: Setup = Box::new(move |c| {
        c.set_tls_ca(&trust);
        c.set_tls_server_name("localhost");
    });
    let client_ca = ca_file.clone();
    let seen = run(
        move || {
            tls_info_server(|w| {
                w.set_tls(&sc, &sk);
                w.set_tls_client_auth(&client_ca, ClientAuth::Required);
            })
        },
        vec![with_cert(cc, ck), without_cert, with_cert(oc, ok)],
    );
    assert_eq!(reply(&seen[0]), "sni=localhost alpn= client_certs=1");
    // TLS 1.3: the client learns of the refusal after its side of the handshake, from the
    // server's alert: an error or a close, never a reply.
    assert!(!matches!(seen[1], Seen::Reply { .. }), "{:?}", seen[1]);
    assert!(!matches!(seen[2], Seen::Reply { .. }), "{:?}", seen[2]);
}

#[test]
fn optional_client_certificates_serve_everyone_and_tell_who_presented_one() {
    let d = dir("mtls-opt");
    let ca = make_ca(&d, "ca");
    let (sc, sk, _) = leaf(&d, "server", &["localhost"], &ca);
    let (cc, ck, _) = leaf(&d, "client", &["client.test"], &ca);
    let ca_file = d.join("ca.pem");
    let (t1, t2, client_ca) = (ca_file.clone(), ca_file.clone(), ca_file);
    let seen = run(
        move || {
            tls_info_server(|w| {
                w.set_tls(&sc, &sk);
                w.set_tls_client_auth(&client_ca, ClientAuth::Optional);
            })
        },
        vec![
            Box::new(move |c| {
                c.set_tls_ca(&t1);
                c.set_tls_server_name("localhost");
                c.set_tls_client_cert(&cc, &ck);
            }),
            Box::new(move |c| {
                c.set_tls_ca(&t2);
                c.set_tls_server_name("localhost");
            }),
        ],
    );
    assert_eq!(reply(&seen[0]), "sni=localhost alpn= client_certs=1");
    assert_eq!(reply(&seen[1]), "sni=localhost alpn= client_certs=0");
}

#[test]
fn alpn_agrees_on_a_protocol_both_offer_or_fails() {
    let d = dir("alpn");
    let ca = make_ca(&d, "ca");
    let (sc, sk, _) = leaf(&d, "server", &["localhost"], &ca);
    let ca_file = d.join("ca.pem");
    let offer = |protocols: &'static [&'static str]| -> Setup {
        let ca_file = ca_file.clone();
        Box::new(move |c| {
            c.set_tls_ca(&ca_file);
            c.set_tls_server_name("localhost");
            if !protocols.is_empty() {
                c.set_tls_alpn(protocols);
            }
        })
    };
    let seen = run(
        move || {
            tls_info_server(|w| {
                w.set_tls(&sc, &sk);
                w.set_tls_alpn(&["h2", "http/1.1"]);
            })
        },
        vec![
            offer(&["spdy/1", "http/1.1"]),
            offer(&["h2", "http/1.1"]),
            offer(&["spdy/1"]),
            offer(&[]),
        ],
    );
    assert_eq!(reply(&seen[0]), "sni=localhost alpn=http/1.1 client_certs=0");
    assert!(matches!(&seen[0], Seen::Reply { alpn: Some(a), .. } if a == b"http/1.1"));
    assert_eq!(reply(&seen[1]), "sni=localhost alpn=h2 client_certs=0");
    assert!(
        matches!(&seen[2], Seen::Error(e) if e.contains("TLS handshake")),
        "{:?}",
        seen[2]
    );
    assert_eq!(reply(&seen[3]), "sni=localhost alpn= client_certs=0");
}

#[test]
fn verification_off_accepts_a_certificate_nobody_vouches_for() {
    let d = dir("insecure");
    let stranger = make_ca(&d, "stranger");
    let (sc, sk, der) = leaf(&d, "server", &["somewhere.else"], &stranger);
    let seen = run(
        move || tls_info_server(|w| w.set_tls(&sc, &sk)),
        vec![
            // Untrusted CA, wrong name: refused by default...
            Box::new(|_| {}),
            // ...accepted when verification is turned off.
            Box::new(|c| c.danger_accept_invalid_certs()),
        ],
    );
    assert!(
        matches!(&seen[0], Seen::Error(e) if e.contains("TLS handshake")),
        "{:?}",
        seen[0]
    );
    assert_eq!(reply(&seen[1]), "sni= alpn= client_certs=0");
    assert!(matches!(&seen[1], Seen::Reply { server_cert, .. } if *server_cert == der));
}
