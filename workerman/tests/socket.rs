//! In-process tests over real sockets on 127.0.0.1:0: each test runs its workers with
//! `Worker::run_standalone` in a server thread and talks to them with std clients.

use std::cell::Cell;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::rc::Rc;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use bytes::Bytes;
use workerman::protocol::{Frame, Tcp, Text};
use workerman::{ConnectionError, Error, SendResult, Timer, Worker};
use workerman_testkit::{Served, TIMEOUT, connect_addr, serve};

fn lines(s: &TcpStream) -> BufReader<TcpStream> {
    BufReader::new(s.try_clone().unwrap())
}

fn read_line(r: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    line
}

/// Reads until EOF or reset; panics on timeout (the server did not close).
fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return all,
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return all,
            Err(e) => panic!("expected the server to close the connection: {e}"),
        }
    }
}

fn text_echo(_: mpsc::Sender<()>) -> Worker<Text> {
    let w = Worker::<Text>::new("text://127.0.0.1:0").unwrap();
    w.on_message(|c, line| {
        c.send(format!("echo:{line}"));
    });
    w
}

#[test]
fn tcp_delivers_each_read_and_replies() {
    let Served {
        addr,
        rx: _rx,
        thread: _s,
    } = serve(|_: mpsc::Sender<()>| {
        let w = Worker::<Tcp>::new("tcp://127.0.0.1:0").unwrap();
        w.on_message(|c, data| {
            let mut reply = b"hello ".to_vec();
            reply.extend_from_slice(&data);
            assert_eq!(
                c.send(reply),
                SendResult::Queued,
                "replies inside on_message are coalesced"
            );
        });
        w
    });
    let mut s = connect_addr(addr);
    s.write_all(b"world").unwrap();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello world");
}

#[test]
fn text_pipelined_and_split_lines_answer_in_order() {
    let Served {
        addr,
        rx: _rx,
        thread: _s,
    } = serve(text_echo);
    let s = connect_addr(addr);
    let mut r = lines(&s);
    (&s).write_all(b"one\ntwo\r\nthr").unwrap();
    assert_eq!(read_line(&mut r), "echo:one\n");
    assert_eq!(read_line(&mut r), "echo:two\n");
    (&s).write_all(b"ee\n").unwrap();
    assert_eq!(read_line(&mut r), "echo:three\n");
    // Many lines in one write, each answered.
    let batch: String = (0..500).map(|i| format!("l{i}\n")).collect();
    (&s).write_all(batch.as_bytes()).unwrap();
    for i in 0..500 {
        assert_eq!(read_line(&mut r), format!("echo:l{i}\n"));
    }
}

#[test]
fn bad_input_closes_only_that_connection() {
    let Served {
        addr,
        rx: _rx,
        thread: _s,
    } = serve(|_: mpsc::Sender<()>| {
        let w = Worker::<Frame>::new("frame://127.0.0.1:0").unwrap();
        w.set_max_package_size(1024);
        w.on_message(|c, body: Bytes| {
            c.send(&body);
        });
        w
    });
    let good = connect_addr(addr);
    let mut good_r = BufReader::new(good.try_clone().unwrap());
    let frame = |body: &[u8]| {
        let mut f = ((body.len() + 4) as u32).to_be_bytes().to_vec();
        f.extend_from_slice(body);
        f
    };
    (&good).write_all(&frame(b"first")).unwrap();
    let mut buf = [0u8; 9];
    good_r.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"\0\0\0\x09first");

    // Too big for max_package_size.
    let mut big = connect_addr(addr);
    big.write_all(&[0, 0, 0x10, 0]).unwrap();
    read_to_close(&mut big);
    // A length below the header size.
    let mut short = connect_addr(addr);
    short.write_all(&[0, 0, 0, 2, 9, 9]).unwrap();
    read_to_close(&mut short);
    // Garbage text on a text worker would be the same; the good connection is untouched.
    (&good).write_all(&frame(b"second")).unwrap();
    let mut buf = [0u8; 10];
    good_r.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"\0\0\0\x0asecond");
}

#[test]
fn oversized_text_line_closes_connection() {
    let Served {
        addr,
        rx: _rx,
        thread: _s,
    } = serve(|_: mpsc::Sender<()>| {
        let w = text_echo(mpsc::channel().0);
        w.set_max_package_size(64);
        w
    });
    let mut s = connect_addr(addr);
    s.write_all(&[b'x'; 100]).unwrap();
    read_to_close(&mut s);
    let ok = connect_addr(addr);
    let mut r = lines(&ok);
    (&ok).write_all(b"short\n").unwrap();
    assert_eq!(read_line(&mut r), "echo:short\n");
}

#[test]
fn close_with_flushes_then_closes_and_on_close_runs_once() {
    let Served { addr, rx, thread: _s } = serve(|tx: mpsc::Sender<u64>| {
        let w = Worker::<Text>::new("text://127.0.0.1:0").unwrap();
        w.on_message(|c, line| {
            if line == "bye" {
                c.close_with("goodbye");
                assert_eq!(c.send("late"), SendResult::Failed);
            }
        });
        w.on_close(move |c| tx.send(c.id()).unwrap());
        w
    });
    let mut s = connect_addr(addr);
    s.write_all(b"bye\n").unwrap();
    assert_eq!(read_to_close(&mut s), b"goodbye\n");
    let id = rx.recv_timeout(TIMEOUT).unwrap();
    assert!(id >= 1);
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "on_close ran twice"
    );
}

#[test]
fn client_disconnect_runs_on_close_and_updates_connections() {
    let Served { addr, rx, thread: _s } = serve(|tx: mpsc::Sender<(u64, usize)>| {
        let w = Worker::<Text>::new("text://127.0.0.1:0").unwrap();
        let w2 = w.clone();
        w.on_connect(move |c| assert!(w2.connection(c.id()).is_some()));
        let w3 = w.clone();
        w.on_close(move |c| tx.send((c.id(), w3.connection_count())).unwrap());
        w
    });
    let a = connect_addr(addr);
    let b = connect_addr(addr);
    drop(a);
    let (_, left) = rx.recv_timeout(TIMEOUT).unwrap();
    assert_eq!(left, 1);
    drop(b);
    let (_, left) = rx.recv_timeout(TIMEOUT).unwrap();
    assert_eq!(left, 0);
}

#[test]
fn broadcast_through_worker_connections() {
    let Served {
        addr,
        rx: _rx,
        thread: _s,
    } = serve(|_: mpsc::Sender<()>| {
        let w = Worker::<Text>::new("text://127.0.0.1:0").unwrap();
        w.on_connect(|c| {
            c.send("welcome");
        });
        let w2 = w.clone();
        w.on_message(move |c, line| {
            for other in w2.connections() {
                other.send(format!("{} said {line}", c.id()));
            }
        });
        w
    });
    let clients: Vec<TcpStream> = (0..3).map(|_| connect_addr(addr)).collect();
    let mut readers: Vec<_> = clients.iter().map(lines).collect();
    // Once each client got its welcome, all three are registered with the worker.
    for r in &mut readers {
        assert_eq!(read_line(r), "welcome\n");
    }
    for (i, c) in clients.iter().enumerate() {
        (&*c).write_all(format!("hi{i}\n").as_bytes()).unwrap();
        for r in &mut readers {
            assert!(read_line(r).ends_with(&format!("said hi{i}\n")));
        }
    }
}

#[test]
fn per_connection_data_and_callback_override() {
    #[derive(Clone, Debug, PartialEq)]
    struct Uid(u32);
    let Served {
        addr,
        rx: _rx,
        thread: _s,
    } = serve(|_: mpsc::Sender<()>| {
        let w = Worker::<Text>::new("text://127.0.0.1:0").unwrap();
        let next = Rc::new(Cell::new(0));
        w.on_connect(move |c| {
            next.set(next.get() + 1);
            assert_eq!(c.set_data(Uid(next.get())), None);
        });
        w.on_message(|c, line| {
            if line == "switch" {
                c.on_message(|c, line| {
                    let uid = c.data::<Uid>().unwrap();
                    c.send(format!("override {} {line}", uid.0));
                });
                c.send("switched");
            } else {
                let n = c.with_data(|u: &mut Uid| {
                    u.0 += 100;
                    u.0
                });
                c.send(format!("uid {}", n.unwrap()));
            }
        });
        w
    });
    let s = connect_addr(addr);
    let mut r = lines(&s);
    (&s).write_all(b"a\n").unwrap();
    assert_eq!(read_line(&mut r), "uid 101\n");
    (&s).write_all(b"switch\nb\n").unwrap();
    assert_eq!(read_line(&mut r), "switched\n");
    assert_eq!(read_line(&mut r), "override 101 b\n");
}

#[test]
fn send_buffer_limit_full_drain_and_failures() {
    #[derive(Debug)]
    enum Ev {
        Full,
        Drain,
        Error(ConnectionError),
        Results(Vec<SendResult>),
    }
    let Served { addr, rx, thread: _s } = serve(|tx: mpsc::Sender<Ev>| {
        let w = Worker::<Tcp>::new("tcp://127.0.0.1:0").unwrap();
        w.set_max_send_buffer_size(64 * 1024);
        let t = tx.clone();
        w.on_buffer_full(move |_| t.send(Ev::Full).unwrap());
        let t = tx.clone();
        w.on_buffer_drain(move |_| t.send(Ev::Drain).unwrap());
        let t = tx.clone();
        w.on_error(move |_, e| t.send(Ev::Error(e.clone())).unwrap());
        w.on_message(move |c, _| {
            // Outside the read dispatch, from a timer: sends write immediately when they can.
            let c = c.clone();
            let tx = tx.clone();
            Timer::add(Duration::ZERO, false, move || {
                let chunk = vec![b'x'; 256 * 1024];
                let results: Vec<SendResult> = (0..40).map(|_| c.send(&chunk)).collect();
                tx.send(Ev::Results(results)).unwrap();
            });
        });
        w
    });
    let mut s = connect_addr(addr);
    s.write_all(b"go").unwrap();
    let mut results = None;
    let (mut full, mut dropped) = (0, 0);
    while results.is_none() {
        match rx.recv_timeout(TIMEOUT).unwrap() {
            Ev::Full => full += 1,
            Ev::Error(ConnectionError::SendBufferFull) => dropped += 1,
            Ev::Results(r) => results = Some(r),
            other => panic!("unexpected {other:?}"),
        }
    }
    let results = results.unwrap();
    assert!(full >= 1, "on_buffer_full fired");
    assert!(
        results.contains(&SendResult::Failed),
        "sends past the limit fail: {results:?}"
    );
    assert_eq!(results.iter().filter(|r| **r == SendResult::Failed).count(), dropped);
    let accepted = results.iter().filter(|r| **r != SendResult::Failed).count();
    // Read everything that was accepted; then the buffer drains.
    let mut got = 0;
    let mut buf = vec![0u8; 1 << 16];
    while got < accepted * 256 * 1024 {
        got += s.read(&mut buf).unwrap();
    }
    assert_eq!(got, accepted * 256 * 1024);
    loop {
        match rx.recv_timeout(TIMEOUT).unwrap() {
            Ev::Drain => break,
            Ev::Full | Ev::Error(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn pause_and_resume_recv() {
    let Served {
        addr,
        rx: _rx,
        thread: _s,
    } = serve(|_: mpsc::Sender<()>| {
        let w = Worker::<Text>::new("text://127.0.0.1:0").unwrap();
        w.on_message(|c, line| {
            c.send(format!("got {line}"));
            if line == "pause" {
                c.pause_recv();
                let c = c.clone();
                Timer::add(Duration::from_millis(200), false, move || {
                    c.send("resuming");
                    c.resume_recv();
                });
            }
        });
        w
    });
    let s = connect_addr(addr);
    let mut r = lines(&s);
    // "after" arrives in the same read as "pause" and stays buffered until resume.
    (&s).write_all(b"pause\nafter\n").unwrap();
    assert_eq!(read_line(&mut r), "got pause\n");
    assert_eq!(read_line(&mut r), "resuming\n");
    assert_eq!(read_line(&mut r), "got after\n");
}

#[test]
fn pipe_connects_two_clients_with_backpressure() {
    let Served {
        addr,
        rx: _rx,
        thread: _s,
    } = serve(|_: mpsc::Sender<()>| {
        let w = Worker::<Tcp>::new("tcp://127.0.0.1:0").unwrap();
        w.set_max_send_buffer_size(16 * 1024);
        let waiting = Rc::new(std::cell::RefCell::new(None::<workerman::TcpConnection<Tcp>>));
        w.on_connect(move |c| {
            let first = waiting.borrow_mut().take();
            match first {
                // Hold the first client's bytes until its peer arrives.
                None => {
                    c.pause_recv();
                    *waiting.borrow_mut() = Some(c.clone());
                }
                Some(first) => {
                    first.pipe(c);
                    c.pipe(&first);
                    first.resume_recv();
                }
            }
        });
        w
    });
    let mut a = connect_addr(addr);
    let mut b = connect_addr(addr);
    // 8 MiB from a to b while b reads slowly: the server must not buffer it all.
    const TOTAL: usize = 8 << 20;
    let writer = thread::spawn(move || {
        let chunk = vec![7u8; 64 * 1024];
        for _ in 0..TOTAL / chunk.len() {
            a.write_all(&chunk).unwrap();
        }
        a.shutdown(Shutdown::Write).unwrap();
        a
    });
    let mut got = 0;
    let mut buf = vec![0u8; 8192];
    while got < TOTAL {
        let n = b.read(&mut buf).unwrap();
        assert!(n > 0);
        assert!(buf[..n].iter().all(|&x| x == 7));
        got += n;
        if got < TOTAL / 8 {
            thread::sleep(Duration::from_millis(1));
        }
    }
    assert_eq!(got, TOTAL);
    let _a = writer.join().unwrap();
    // a closed its side: the proxy closes b.
    read_to_close(&mut b);
}

#[test]
fn timers_add_delete_and_count() {
    let Served { addr, rx, thread: _s } = serve(|tx: mpsc::Sender<String>| {
        let w = Worker::<Text>::new("text://127.0.0.1:0").unwrap();
        w.on_worker_start(move |_| {
            let ticks = Rc::new(Cell::new(0));
            let tx2 = tx.clone();
            let id = Rc::new(Cell::new(0));
            let id2 = id.clone();
            id.set(Timer::add(Duration::from_millis(20), true, move || {
                ticks.set(ticks.get() + 1);
                if ticks.get() == 3 {
                    assert!(Timer::del(id2.get()), "a timer deletes itself");
                    tx2.send(format!("repeat done, timers={}", Timer::count())).unwrap();
                }
                assert!(ticks.get() <= 3, "deleted timer fired again");
            }));
            let tx3 = tx.clone();
            Timer::delay(Duration::from_millis(10), move || tx3.send("once".into()).unwrap());
            let never = Timer::add(Duration::from_millis(50), false, || panic!("deleted timer ran"));
            assert!(Timer::del(never));
            assert!(!Timer::del(never));
            tx.send(format!("start timers={}", Timer::count())).unwrap();
        });
        w
    });
    let _ = addr;
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "start timers=2");
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "once");
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "repeat done, timers=0");
}

#[test]
fn async_work_replies_later() {
    let Served {
        addr,
        rx: _rx,
        thread: _s,
    } = serve(|_: mpsc::Sender<()>| {
        let w = Worker::<Text>::new("text://127.0.0.1:0").unwrap();
        w.on_message(|c, line| {
            let c = c.clone();
            workerman::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                c.send(format!("later {line}"));
            });
            // The connection keeps serving while the task waits.
        });
        w
    });
    let s = connect_addr(addr);
    let mut r = lines(&s);
    (&s).write_all(b"a\nb\n").unwrap();
    assert_eq!(read_line(&mut r), "later a\n");
    assert_eq!(read_line(&mut r), "later b\n");
}

#[test]
fn error_handler_keeps_the_process_serving() {
    let Served { addr, rx, thread: _s } = serve(|tx: mpsc::Sender<String>| {
        let w = Worker::<Text>::new("text://127.0.0.1:0").unwrap();
        w.set_error_handler(move |report| {
            tx.send(format!("{} @ {}", report.message(), report.location()))
                .unwrap()
        });
        w.on_message(|c, line| {
            if line == "boom" {
                panic!("boom requested");
            }
            c.send(format!("ok {line}"));
        });
        w
    });
    let s = connect_addr(addr);
    let mut r = lines(&s);
    (&s).write_all(b"boom\nafter\n").unwrap();
    assert_eq!(read_line(&mut r), "ok after\n");
    let report = rx.recv_timeout(TIMEOUT).unwrap();
    assert!(report.starts_with("boom requested @ "), "{report}");
    assert!(report.contains("socket.rs"), "{report}");
}

#[test]
fn panic_without_handler_stops_standalone_run() {
    let Served {
        addr,
        rx: _rx,
        thread: server,
    } = serve(|_: mpsc::Sender<()>| {
        let w = Worker::<Text>::new("text://127.0.0.1:0").unwrap();
        w.on_message(|_, _| panic!("unhandled"));
        w
    });
    let mut s = connect_addr(addr);
    s.write_all(b"x\n").unwrap();
    read_to_close(&mut s);
    match server.join().unwrap() {
        Err(Error::Panicked(report)) => assert_eq!(report.message(), "unhandled"),
        other => panic!("expected Panicked, got {other:?}"),
    }
}

#[test]
fn stop_all_closes_connections_and_returns() {
    let Served {
        addr,
        rx,
        thread: server,
    } = serve(|tx: mpsc::Sender<&'static str>| {
        let w = Worker::<Text>::new("text://127.0.0.1:0").unwrap();
        let t = tx.clone();
        w.on_worker_stop(move |_| t.send("stopping").unwrap());
        w.on_message(|c, line| {
            if line == "stop" {
                c.send("bye");
                Worker::stop_all();
            }
        });
        w
    });
    let mut idle = connect_addr(addr);
    let mut s = connect_addr(addr);
    s.write_all(b"stop\n").unwrap();
    assert_eq!(read_to_close(&mut s), b"bye\n");
    read_to_close(&mut idle);
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "stopping");
    server.join().unwrap().unwrap();
    assert!(TcpStream::connect(addr).is_err(), "listener closed");
}

#[test]
fn listen_from_on_worker_start() {
    let Served { addr, rx, thread: _s } = serve(|tx: mpsc::Sender<SocketAddr>| {
        let w = Worker::without_listener();
        w.on_worker_start(move |_| {
            let inner = Worker::<Text>::new("text://127.0.0.1:0").unwrap();
            inner.on_message(|c, line| {
                c.send(format!("inner {line}"));
            });
            inner.listen().unwrap();
            tx.send(inner.local_addrs()[0]).unwrap();
        });
        // Give the probe something to report.
        let outer = Worker::<Text>::new("text://127.0.0.1:0").unwrap();
        outer.on_message(|c, line| {
            c.send(line);
        });
        outer
    });
    let _ = addr;
    let inner = rx.recv_timeout(TIMEOUT).unwrap();
    let s = connect_addr(inner);
    let mut r = lines(&s);
    (&s).write_all(b"hi\n").unwrap();
    assert_eq!(read_line(&mut r), "inner hi\n");
}

#[test]
fn scheme_must_match_protocol() {
    assert!(Worker::<Text>::new("frame://127.0.0.1:0").is_err());
    assert!(
        Worker::<Text>::new("tcp://127.0.0.1:0").is_ok(),
        "transport schemes take any protocol"
    );
    assert_eq!(
        Worker::<Text>::new("udp://127.0.0.1:0").unwrap().transport(),
        workerman::Transport::Udp
    );
    assert!(matches!(Worker::<Text>::new("text//x"), Err(Error::Address { .. })));
}

#[test]
fn busy_timers_do_not_starve_connections() {
    let Served {
        addr,
        rx,
        thread: server,
    } = serve(|tx: mpsc::Sender<u64>| {
        let w = text_echo(mpsc::channel().0);
        let spins = Rc::new(Cell::new(0u64));
        let s = spins.clone();
        // A zero-interval timer runs as often as it can, yet I/O still gets its turn.
        w.on_worker_start(move |_| {
            let s = s.clone();
            Timer::repeat(Duration::ZERO, move || s.set(s.get() + 1));
        });
        w.on_worker_stop(move |_| tx.send(spins.get()).unwrap());
        let w2 = w.clone();
        w.on_message(move |c, line| {
            if line == "stop" {
                Worker::stop_all();
            } else {
                c.send(format!("echo:{line}"));
            }
            let _ = &w2;
        });
        w
    });
    let s = connect_addr(addr);
    let mut r = lines(&s);
    for i in 0..50 {
        (&s).write_all(format!("{i}\n").as_bytes()).unwrap();
        assert_eq!(read_line(&mut r), format!("echo:{i}\n"));
    }
    (&s).write_all(b"stop\n").unwrap();
    let spins = rx.recv_timeout(TIMEOUT).unwrap();
    assert!(spins > 50, "the timer ran meanwhile ({spins} times)");
    server.join().unwrap().unwrap();
}

#[test]
fn a_peer_that_does_not_read_is_not_read_either() {
    // An echo server and a client that writes without ever reading: the server's send buffer
    // must stop growing near its limit (reading pauses), not absorb everything.
    let Served { addr, rx, thread: _s } = serve(|tx: mpsc::Sender<usize>| {
        let w = Worker::<Tcp>::new("tcp://127.0.0.1:0").unwrap();
        w.set_max_send_buffer_size(64 * 1024);
        w.on_message(move |c, data| {
            c.send(data);
            let _ = tx.send(c.send_buffer_len());
        });
        w
    });
    let mut s = connect_addr(addr);
    let writer = thread::spawn(move || {
        s.set_write_timeout(Some(Duration::from_millis(500))).unwrap();
        let chunk = vec![1u8; 64 * 1024];
        let mut sent = 0usize;
        // Stops when the kernel buffers on both sides are full (the write times out).
        while sent < 256 << 20 && s.write_all(&chunk).is_ok() {
            sent += chunk.len();
        }
        (s, sent)
    });
    let (_s, sent) = writer.join().unwrap();
    let mut peak = 0;
    while let Ok(len) = rx.recv_timeout(Duration::from_millis(200)) {
        peak = peak.max(len);
    }
    assert!(
        sent < 256 << 20,
        "the client could write everything: nothing pushed back"
    );
    assert!(peak <= 64 * 1024 + 64 * 1024, "send buffer grew to {peak} bytes");
}
