//! Codec tests: framing whole, split at every byte and pipelined; strict rejections; encoding.

use super::*;
use crate::protocol::testing::feed;

fn reqs(wire: &[u8]) -> Vec<Request> {
    feed(&Http::default(), &[wire], 1 << 20).unwrap()
}

/// (method, uri, body) of each request, for comparing across splits.
fn summary(rs: &[Request]) -> Vec<(String, String, Vec<u8>)> {
    rs.iter()
        .map(|r| (r.method().to_string(), r.uri().to_string(), r.raw_body().to_vec()))
        .collect()
}

fn check_splits(wire: &[u8], expected: &[(&str, &str, &[u8])]) {
    let expected: Vec<_> = expected
        .iter()
        .map(|(m, u, b)| (m.to_string(), u.to_string(), b.to_vec()))
        .collect();
    let p = Http::default();
    assert_eq!(summary(&feed(&p, &[wire], 1 << 20).unwrap()), expected, "whole");
    for i in 0..=wire.len() {
        let (a, b) = wire.split_at(i);
        assert_eq!(summary(&feed(&p, &[a, b], 1 << 20).unwrap()), expected, "split at {i}");
    }
    let bytes: Vec<&[u8]> = wire.chunks(1).collect();
    assert_eq!(summary(&feed(&p, &bytes, 1 << 20).unwrap()), expected, "byte by byte");
}

#[test]
fn pipelined_requests_whole_and_split() {
    check_splits(
        b"GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n\
          POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello\
          PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n\
          GET /d HTTP/1.0\r\n\r\n",
        &[
            ("GET", "/a?x=1", b""),
            ("POST", "/b", b"hello"),
            ("PUT", "/c", b"abcde"),
            ("GET", "/d", b""),
        ],
    );
}

#[test]
fn request_api() {
    let r = &reqs(
        b"POST /p/a%20b?x=1&x=2&y=%C3%A9+z&a[]=1 HTTP/1.1\r\nHost: example.com:8080\r\n\
          Cookie: a=1; b = %20x;c\r\nX-Multi: 1\r\nx-multi: 2\r\n\
          Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 13\r\n\r\nname=Jo&age=3",
    )[0];
    assert_eq!(r.method(), Method::Post);
    assert_eq!(r.path(), "/p/a%20b");
    assert_eq!(r.query_string(), "x=1&x=2&y=%C3%A9+z&a[]=1");
    assert_eq!(r.get("x"), Some("2"));
    assert_eq!(r.get_all("x").collect::<Vec<_>>(), ["1", "2"]);
    assert_eq!(r.get("y"), Some("é z"));
    assert_eq!(r.get("a[]"), Some("1"));
    assert_eq!(r.host(false), Some("example.com:8080"));
    assert_eq!(r.host(true), Some("example.com"));
    assert_eq!(r.header("X-MULTI"), Some("1"));
    assert_eq!(r.header_all("x-multi").collect::<Vec<_>>(), ["1", "2"]);
    assert_eq!(r.cookie("a"), Some("1"));
    assert_eq!(r.cookie("b"), Some(" %20x"));
    assert_eq!(r.cookie("c"), Some(""));
    assert_eq!(r.post("name"), Some("Jo"));
    assert_eq!(r.post("age"), Some("3"));
    assert_eq!(r.protocol_version(), "1.1");
    assert!(r.keep_alive());
}

#[cfg(feature = "json")]
#[test]
fn json_body() {
    let r = &reqs(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 21\r\n\r\n{\"a\":\"x\",\"b\":[1,2]}  ")[0];
    assert_eq!(r.post("a"), Some("x"));
    assert_eq!(r.post("b"), Some("[1,2]"));
    assert_eq!(r.json().unwrap()["b"][1], 2);
}

#[test]
fn chunked_trailers() {
    let r =
        &reqs(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nA\r\n0\r\nX-Sum:  9 \r\n\r\n")[0];
    assert_eq!(r.raw_body(), b"A");
    assert_eq!(r.trailer("X-SUM"), Some("9"));
}

/// Feeds `wire` and returns the bytes the protocol wrote back and whether it failed.
fn reply_to(wire: &[u8], max: usize) -> (String, bool) {
    let p = Http::default();
    let mut state = HttpState::default();
    let mut out = BytesMut::new();
    let mut buf = BytesMut::from(wire);
    let mut want = None;
    let mut failed = false;
    loop {
        let mut cx = Context::new(&mut state, &mut out, max);
        match crate::protocol::cut_packet(&p, &mut buf, &mut want, &mut cx, &mut None) {
            crate::protocol::Cut::Delivered if !buf.is_empty() => continue,
            crate::protocol::Cut::Fail(_) => {
                failed = true;
                break;
            }
            _ => break,
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), failed)
}

#[test]
fn rejections_carry_the_right_status() {
    let table: &[(&[u8], &str)] = &[
        (b"BREW / HTTP/1.1\r\nHost: h\r\n\r\n", "400"),
        (b"GET / HTTP/1.1\r\n\r\n", "400"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "400"),
        (
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            "400",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "400",
        ),
        (b"GET / HTTP/1.1\nHost: h\n\n", "400"),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2000\r\n\r\n", "413"),
        (
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n",
            "413",
        ),
    ];
    for (wire, code) in table {
        let (out, failed) = reply_to(wire, 1000);
        assert!(failed, "{:?} accepted", String::from_utf8_lossy(wire));
        assert!(
            out.starts_with(&format!("HTTP/1.1 {code} ")) && out.contains("Connection: close"),
            "{:?} -> {out:?}",
            String::from_utf8_lossy(wire)
        );
    }
    let big = format!("GET / HTTP/1.1\r\nHost: h\r\nX: {}\r\n\r\n", "a".repeat(17000));
    let (out, failed) = reply_to(big.as_bytes(), 1 << 20);
    assert!(failed && out.starts_with("HTTP/1.1 431 "), "{out}");
}

#[test]
fn smuggling_attempts_yield_no_second_request() {
    let p = Http::default();
    for wire in [
        &b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: h\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nContent-Length: 40\r\n\r\nGET /admin HTTP/1.1\r\nHost: h\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: h\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: h\r\n\r\n",
    ] {
        assert!(feed(&p, &[wire], 1 << 20).is_err(), "{:?}", String::from_utf8_lossy(wire));
    }
}

fn encode_all(reqs_wire: &[u8], replies: Vec<Reply<'static>>, stopping_close: bool) -> (String, bool) {
    let p = Http::default();
    let mut state = HttpState::default();
    let mut out = BytesMut::new();
    let mut buf = BytesMut::from(reqs_wire);
    let mut want = None;
    loop {
        let mut cx = Context::new(&mut state, &mut out, 1 << 20);
        match crate::protocol::cut_packet(&p, &mut buf, &mut want, &mut cx, &mut None) {
            crate::protocol::Cut::Delivered if !buf.is_empty() => continue,
            _ => break,
        }
    }
    let _ = stopping_close;
    let mut closed = false;
    for r in replies {
        let mut cx = Context::new(&mut state, &mut out, 1 << 20);
        p.encode(r, &mut cx);
        closed |= cx.close_requested();
    }
    (String::from_utf8_lossy(&out).into_owned(), closed)
}

#[test]
fn connection_close_and_http10_close_after_the_response() {
    let (out, closed) = encode_all(
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        vec!["x".into()],
        false,
    );
    assert!(closed && out.contains("Connection: close\r\n"), "{out}");
    let (out, closed) = encode_all(b"GET / HTTP/1.0\r\n\r\n", vec![Response::from("x").into()], false);
    assert!(closed && out.contains("Connection: close\r\n"), "{out}");
    let (out, closed) = encode_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", vec!["x".into()], false);
    assert!(!closed && out.contains("Connection: keep-alive\r\n"), "{out}");
    // Only the response to the request that asked closes.
    let (out, closed) = encode_all(
        b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /3 HTTP/1.1\r\nHost: h\r\n\r\n",
        vec!["a".into(), "b".into()],
        false,
    );
    assert!(closed);
    assert_eq!(out.matches("keep-alive").count(), 1);
    assert_eq!(out.matches("Connection: close").count(), 1);
}

#[test]
fn head_requests_get_no_body() {
    let (out, _) = encode_all(b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n", vec!["hello".into()], false);
    assert!(out.ends_with("Content-Length: 5\r\n\r\n"), "{out}");
}

#[test]
fn chunked_response_closes_at_its_end() {
    let (out, closed) = encode_all(
        b"GET / HTTP/1.0\r\n\r\n",
        vec![
            Response::new(200).with_header("Transfer-Encoding", "chunked").into(),
            Chunk::new("abc").into(),
            Chunk::end().into(),
        ],
        false,
    );
    assert!(closed);
    assert!(out.ends_with("\r\n\r\n3\r\nabc\r\n0\r\n\r\n"), "{out}");
}

#[test]
fn queued_headers_go_into_the_next_response() {
    let p = Http::default();
    let mut state = HttpState::default();
    let mut out = BytesMut::new();
    let mut cx = Context::new(&mut state, &mut out, 1 << 20);
    let len = p.input(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", &mut cx).unwrap().unwrap();
    let req = p
        .decode(
            Bytes::from_static(&b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"[..len]),
            &mut cx,
        )
        .unwrap()
        .unwrap();
    // The request shares its connection's pending headers with the codec state (no connection
    // needed): what it queues, and what is queued on the state, go into the next response.
    req.queue_response_header("Set-Cookie", "PHPSID=abc; Path=/".into());
    cx.state.queue_header("X-State", "1".into());
    p.encode("ok".into(), &mut cx);
    let s = String::from_utf8_lossy(cx.out()).into_owned();
    assert!(
        s.starts_with("HTTP/1.1 200 OK\r\nSet-Cookie: PHPSID=abc; Path=/\r\nX-State: 1\r\n"),
        "{s}"
    );
    // Sent once: the next response carries none of them.
    cx.out().clear();
    p.encode("again".into(), &mut cx);
    let s = String::from_utf8_lossy(cx.out()).into_owned();
    assert!(!s.contains("Set-Cookie") && !s.contains("X-State"), "{s}");
}

#[test]
fn http_crate_round_trip() {
    let r = &reqs(b"PUT /x?y=1 HTTP/1.1\r\nHost: h\r\nX-A: b\r\nContent-Length: 2\r\n\r\nhi")[0];
    let h: http::Request<Bytes> = r.into();
    assert_eq!(h.method(), http::Method::PUT);
    assert_eq!(h.uri(), "/x?y=1");
    assert_eq!(h.headers()["x-a"], "b");
    assert_eq!(&h.body()[..], b"hi");
    let back = Request::try_from(h).unwrap();
    assert_eq!(
        (back.method(), back.uri(), back.raw_body()),
        (Method::Put, "/x?y=1", &b"hi"[..])
    );
}

#[test]
fn review_fixes_framing() {
    // Transfer-Encoding in HTTP/1.0 is refused.
    let err = feed(
        &Http::default(),
        &[b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"],
        1 << 20,
    );
    assert!(err.is_err());
    // 204 and 304: no body, no Content-Length, no default Content-Type.
    for status in [204u16, 304] {
        let wire = to_bytes(&Response::new(status).with_body("must not be sent"));
        let text = String::from_utf8_lossy(&wire);
        assert!(text.ends_with("\r\n\r\n"), "{text}");
        assert!(
            !text.contains("must not") && !text.contains("Content-Length") && !text.contains("Content-Type"),
            "{text}"
        );
    }
    // A reason phrase cannot inject header lines.
    let wire = to_bytes(&Response::new(200).with_status(200, Some("OK\r\nSet-Cookie: pwn=1")));
    let text = String::from_utf8_lossy(&wire);
    assert!(!text.contains("\r\nSet-Cookie"), "{text}");
    // Too many trailer fields: refused like too many header fields.
    let mut body = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n".to_vec();
    for _ in 0..200 {
        body.extend_from_slice(b"a: b\r\n");
    }
    body.extend_from_slice(b"\r\n");
    assert!(feed(&Http::default(), &[&body], 1 << 20).is_err());
}
