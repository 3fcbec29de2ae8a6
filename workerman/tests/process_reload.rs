//! Process tests, reload: `reload` and `reload -g` replace every worker with the binary on disk
//! without refusing or dropping a request, `max_requests` retirement, a renewed TLS certificate.
//! One example at a time (the harness's examples guard); readiness polled, never slept.

use std::collections::HashSet;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::Duration;

use workerman_testkit::*;

#[test]
fn reload_replaces_every_worker_without_refusing_connections() {
    let app = App::new("tcp_hello");
    app.start_daemon();
    let before: HashSet<i32> = app.workers(4).into_iter().collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let prober = std::thread::spawn(move || {
        let (mut ok, mut refused, mut dropped) = (0, 0, 0);
        while !flag.load(Ordering::SeqCst) {
            match TcpStream::connect(("127.0.0.1", 2347)) {
                Ok(mut s) => {
                    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                    match exchange(&mut s, b"probe") {
                        Ok(r) if r == "hello probe" => ok += 1,
                        _ => dropped += 1,
                    }
                }
                Err(_) => refused += 1,
            }
        }
        (ok, refused, dropped)
    });
    let mut generations = vec![before];
    for args in [&["reload"][..], &["reload", "-g"][..]] {
        let mark = app.log().matches("reloaded").count();
        let out = app.run(args);
        assert!(out.status.success(), "{out:?}");
        wait_for("the reload to finish", || {
            (app.log().matches("reloaded").count() > mark).then_some(())
        });
        let now: HashSet<i32> = app.workers(4).into_iter().collect();
        assert!(
            generations.last().unwrap().is_disjoint(&now),
            "{args:?} replaced every worker"
        );
        generations.push(now);
    }
    stop.store(true, Ordering::SeqCst);
    let (ok, refused, dropped) = prober.join().unwrap();
    assert!(ok > 0);
    assert_eq!(
        refused, 0,
        "the listening socket stays open through reloads ({ok} ok, {dropped} dropped)"
    );
    // An old process finishes what it was asked before closing: neither reload cuts a request.
    assert_eq!(dropped, 0, "{dropped} requests dropped, {ok} ok");
    assert!(app.stop().status.success());
}

#[test]
fn reload_serves_the_new_binary_on_disk() {
    let mut app = App::new("greeting");
    let installed = app.dir.join("greeting");
    fs::copy(examples_dir().join("greeting"), &installed).unwrap();
    app.set_exe(&installed);
    app.start_daemon();
    let ask = || {
        let s = connect(2381);
        let mut r = BufReader::new(s.try_clone().unwrap());
        (&s).write_all(b"hi\n").unwrap();
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        line
    };
    assert_eq!(ask(), "v1: hi\n");
    // "Rebuild": a new binary at the same path (a new inode, as cargo and installers do).
    let staged = app.dir.join("greeting.new");
    fs::copy(examples_dir().join("greeting_v2"), &staged).unwrap();
    fs::rename(&staged, &installed).unwrap();
    let before = app.workers(2);
    assert!(app.run(&["reload"]).status.success());
    wait_for("the reload to finish", || app.log().contains("reloaded").then_some(()));
    let after = app.workers(2);
    assert!(before.iter().all(|p| !after.contains(p)));
    for _ in 0..10 {
        assert_eq!(ask(), "v2: hi\n");
    }
    assert!(app.stop().status.success());
}

#[test]
fn max_requests_replaces_the_process_without_dropping_requests() {
    let app = App::new("limits");
    app.start_daemon();
    let first = app.workers(1)[0];
    let s = connect(2382);
    let mut r = BufReader::new(s.try_clone().unwrap());
    for i in 0..130 {
        (&s).write_all(format!("r{i}\n").as_bytes()).unwrap();
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert_eq!(
            line,
            format!("{first} r{i}\n"),
            "request {i} answered by the connection's process"
        );
    }
    app.wait_log("retiring (handled");
    let second = wait_for("the replacement", || {
        children(app.master()).into_iter().find(|p| *p != first)
    });
    let n = connect(2382);
    let mut rn = BufReader::new(n.try_clone().unwrap());
    (&n).write_all(b"new\n").unwrap();
    let mut line = String::new();
    rn.read_line(&mut line).unwrap();
    assert_eq!(line, format!("{second} new\n"), "new connections go to the replacement");
    // The retired process closes the quiet connection and exits.
    let mut rest = Vec::new();
    let _ = r.read_to_end(&mut rest);
    wait_for("the retired process to exit", || (!alive(first)).then_some(()));
    assert!(app.stop().status.success());
}

#[test]
fn reloading_a_process_past_max_requests_completes_and_later_reloads_work() {
    let app = App::new("limits");
    app.start_daemon();
    let first = app.workers(1)[0];
    let s = connect(2382);
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut ask = |i: usize| {
        (&s).write_all(format!("q{i}\n").as_bytes()).unwrap();
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        line
    };
    for i in 0..90 {
        ask(i);
    }
    // A graceful reload while the connection is busy; it then crosses max_requests (100).
    assert!(app.run(&["reload", "-g"]).status.success());
    app.wait_log("reloading gracefully");
    for i in 90..120 {
        assert_eq!(ask(i), format!("{first} q{i}\n"), "the old process still answers");
    }
    drop(r);
    drop(s);
    wait_for("the reload to finish", || {
        (app.log().matches("reloaded").count() == 1).then_some(())
    });
    let second = app.workers(1)[0];
    assert_ne!(first, second);
    assert!(app.run(&["reload"]).status.success());
    wait_for("a second reload", || {
        (app.log().matches("reloaded").count() == 2).then_some(())
    });
    assert!(app.stop().status.success());
}

#[test]
fn renewed_tls_certificate_is_served_after_reload() {
    let app = App::new("text_tls");
    let (cert, key) = app.start_with_test_cert();
    app.workers(1);
    connect(2384);
    let verify = |ca: &std::path::Path| python_tls_exchange(ca, 2384, "x").as_deref() == Some("tls: x\n");
    let old_ca = app.dir.join("old-ca.pem");
    fs::copy(&cert, &old_ca).unwrap();
    assert!(verify(&old_ca));
    // Renew: a new key and certificate at the same paths; the running processes keep the old.
    let renewed = app.dir.join("renewed");
    fs::create_dir_all(&renewed).unwrap();
    let (new_cert, new_key) = test_cert(&renewed);
    fs::copy(&new_cert, &cert).unwrap();
    fs::copy(&new_key, &key).unwrap();
    assert!(verify(&old_ca), "no change before reload");
    assert!(app.run(&["reload"]).status.success());
    wait_for("the renewed certificate", || verify(&new_cert).then_some(()));
    assert!(!verify(&old_ca), "the old certificate is gone");
    assert!(app.stop().status.success());
}
