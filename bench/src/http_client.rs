//! The ingest load generator's HTTP/1.1 client: many keep-alive loopback
//! connections driven by one thread over `epoll` (mio), each with one
//! request in flight, written whole and its answer read by
//! `Content-Length`.
//!
//! Why not a general client, and why not a thread per connection: the
//! generator shares the machine's two cores with the server it measures.
//! With ureq, 128 client threads sending one event per request took more
//! CPU than the server (106% against 59% in `top`); with this client's
//! earlier form, 128 blocking threads, the generator still took a quarter
//! of both cores (`perf record -a`), much of it in the kernel putting
//! threads to sleep and waking them for every answer. One thread waiting
//! on all connections at once is woken once for many answers, as load
//! generators such as `wrk` are. It does only what the measurement needs:
//! no redirects, no TLS, no chunked answers (the server answers these
//! requests with a length).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

/// A request to send: method, path, bearer key (if any) and JSON body.
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub key: Option<&'a str>,
    pub body: &'a [u8],
}

/// One connection's state: the request being written, the answer being
/// read.
struct Connection {
    stream: TcpStream,
    out: Vec<u8>,
    written: usize,
    input: Vec<u8>,
    in_flight: bool,
}

/// The resolved `host:port` of `base` (`http://host:port`).
fn address(base: &str) -> Result<(String, SocketAddr), String> {
    let host = base
        .strip_prefix("http://")
        .ok_or_else(|| format!("the load generator speaks plain http only, not {base}"))?
        .trim_end_matches('/')
        .to_string();
    let address = host
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} resolves to no address"))?;
    Ok((host, address))
}

/// Keeps `connections` requests in flight to `base` until `next` has no
/// more (it is asked once per request, and may stop by time or count),
/// then waits for the answers still due. Each answer's status and body go
/// to `answered`; an error from it, or from the connection, ends the run.
pub fn drive<'r>(
    base: &str,
    connections: usize,
    mut next: impl FnMut() -> Option<Request<'r>>,
    mut answered: impl FnMut(u16, &[u8]) -> Result<(), String>,
) -> Result<(), String> {
    let (host, address) = address(base)?;
    let mut poll = Poll::new().map_err(|e| e.to_string())?;
    let mut connections = (0..connections)
        .map(|i| {
            // Connected blocking first, so that no request is written to a
            // socket still connecting; then handed to the poll.
            let stream = std::net::TcpStream::connect(address)
                .map_err(|e| format!("cannot connect to {host}: {e}"))?;
            // Requests are written whole; waiting to coalesce them only
            // adds latency.
            stream.set_nodelay(true).map_err(|e| e.to_string())?;
            stream.set_nonblocking(true).map_err(|e| e.to_string())?;
            let mut stream = TcpStream::from_std(stream);
            // Edge-triggered: writable is reported when a full send
            // buffer drains (a large batch written in parts), not while the
            // socket idles.
            poll.registry()
                .register(
                    &mut stream,
                    Token(i),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .map_err(|e| e.to_string())?;
            Ok(Connection {
                stream,
                out: Vec::with_capacity(1024),
                written: 0,
                input: Vec::with_capacity(16 * 1024),
                in_flight: false,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;

    let mut exhausted = false;
    for c in &mut connections {
        if !c.send_next(&host, &mut next, &mut exhausted)? {
            break;
        }
    }
    let mut events = Events::with_capacity(connections.len().max(1));
    let mut chunk = vec![0u8; 64 * 1024];
    while connections.iter().any(|c| c.in_flight) {
        match poll.poll(&mut events, Some(Duration::from_secs(60))) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.to_string()),
        }
        if events.is_empty() {
            return Err("no answer from the server for 60 s".into());
        }
        for event in &events {
            let c = &mut connections[event.token().0];
            if event.is_writable() {
                c.write_pending()?;
            }
            if event.is_readable() {
                c.read_available(&mut chunk)?;
                while let Some((status, start, end)) = c.complete_answer()? {
                    answered(status, &c.input[start..end])?;
                    c.input.drain(..end);
                    c.in_flight = false;
                    c.send_next(&host, &mut next, &mut exhausted)?;
                }
            }
        }
    }
    Ok(())
}

impl Connection {
    /// Writes the next request, if `next` has one; returns whether it had.
    fn send_next<'r>(
        &mut self,
        host: &str,
        next: &mut impl FnMut() -> Option<Request<'r>>,
        exhausted: &mut bool,
    ) -> Result<bool, String> {
        if *exhausted {
            return Ok(false);
        }
        let Some(request) = next() else {
            *exhausted = true;
            return Ok(false);
        };
        self.out.clear();
        self.written = 0;
        let _ = write!(
            self.out,
            "{} {} HTTP/1.1\r\nHost: {host}\r\n",
            request.method, request.path
        );
        if let Some(key) = request.key {
            let _ = write!(self.out, "Authorization: Bearer {key}\r\n");
        }
        let _ = write!(
            self.out,
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            request.body.len()
        );
        self.out.extend_from_slice(request.body);
        self.in_flight = true;
        self.write_pending()?;
        Ok(true)
    }

    /// Writes what the socket takes of the request (the rest when it is
    /// writable again).
    fn write_pending(&mut self) -> Result<(), String> {
        while self.written < self.out.len() {
            match self.stream.write(&self.out[self.written..]) {
                Ok(0) => return Err("the server closed the connection".into()),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("sending a request failed: {e}")),
            }
        }
        Ok(())
    }

    /// Reads everything the socket has.
    fn read_available(&mut self, chunk: &mut [u8]) -> Result<(), String> {
        loop {
            match self.stream.read(chunk) {
                Ok(0) => {
                    return Err(if self.in_flight {
                        "the server closed the connection before answering".into()
                    } else {
                        "the server closed the connection".into()
                    });
                }
                Ok(n) => self.input.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("reading an answer failed: {e}")),
            }
        }
    }

    /// The status and the body's bounds of the answer at the start of the
    /// input, once all of it has arrived.
    fn complete_answer(&self) -> Result<Option<(u16, usize, usize)>, String> {
        let Some(head_end) = self.input.windows(4).position(|w| w == b"\r\n\r\n") else {
            return Ok(None);
        };
        let head = std::str::from_utf8(&self.input[..head_end])
            .map_err(|_| "an answer's head is not UTF-8".to_string())?;
        let mut lines = head.split("\r\n");
        // "HTTP/1.1 200 OK"
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| format!("not an HTTP status line: {status_line:?}"))?;
        let mut length = None;
        for header in lines {
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse::<usize>().ok();
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    return Err(format!(
                        "a {} answer; this client reads lengths only",
                        value.trim()
                    ));
                }
            }
        }
        let length = length.ok_or("an answer without Content-Length")?;
        let start = head_end + 4;
        Ok((self.input.len() >= start + length).then_some((status, start, start + length)))
    }
}

/// Sends requests on `connections` connections until `seconds` pass;
/// returns how many were answered 200 and the seconds taken (the
/// generator's ceiling against an endpoint that does no work).
pub fn answered_per_second(
    base: &str,
    connections: usize,
    path: &str,
    seconds: f64,
) -> Result<(u64, f64), String> {
    let started = Instant::now();
    let limit = Duration::from_secs_f64(seconds);
    let mut ok = 0u64;
    drive(
        base,
        connections,
        || {
            (started.elapsed() < limit).then_some(Request {
                method: "GET",
                path,
                key: None,
                body: b"",
            })
        },
        |status, body| {
            if status != 200 {
                return Err(format!(
                    "GET {path} answered {status}: {}",
                    String::from_utf8_lossy(body)
                ));
            }
            ok += 1;
            Ok(())
        },
    )?;
    Ok((ok, started.elapsed().as_secs_f64()))
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;

    use super::*;

    /// A loopback server that answers each request on each connection with
    /// its body's length and the path, in an answer written in two parts.
    fn echo_server(connections: usize) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming().take(connections) {
                let stream = stream.unwrap();
                std::thread::spawn(move || {
                    let mut writer = stream.try_clone().unwrap();
                    let mut reader = BufReader::new(stream);
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let path = line.split(' ').nth(1).unwrap().to_string();
                        let mut length = 0;
                        loop {
                            let mut header = String::new();
                            reader.read_line(&mut header).unwrap();
                            if header.trim_end().is_empty() {
                                break;
                            }
                            if let Some(v) = header.strip_prefix("Content-Length:") {
                                length = v.trim().parse().unwrap();
                            }
                        }
                        if length > 1 << 20 {
                            // Late to read a large body, so that the
                            // client's socket fills and it must wait for
                            // the socket to be writable again.
                            std::thread::sleep(std::time::Duration::from_millis(100));
                        }
                        let mut body = vec![0; length];
                        reader.read_exact(&mut body).unwrap();
                        let answer = format!("{length} {path}");
                        let status = if path == "/fail" { 500 } else { 200 };
                        let head = format!(
                            "HTTP/1.1 {status} OK\r\ncontent-length: {}\r\n\r\n",
                            answer.len()
                        );
                        writer.write_all(head.as_bytes()).unwrap();
                        writer.flush().unwrap();
                        writer.write_all(answer.as_bytes()).unwrap();
                    }
                });
            }
        });
        base
    }

    #[test]
    fn every_request_is_answered_once_whatever_its_size() {
        let base = echo_server(3);
        // 16 MB is more than a loopback socket takes at once, so it is
        // written in parts as the socket drains.
        let sizes = [0usize, 1, 16 << 20, 300, 70_000, 5, 2];
        let bodies: Vec<Vec<u8>> = sizes.iter().map(|&n| vec![b'x'; n]).collect();
        let mut sent = 0;
        let mut answers = Vec::new();
        drive(
            &base,
            3,
            || {
                let body = bodies.get(sent)?;
                sent += 1;
                Some(Request {
                    method: "POST",
                    path: "/p",
                    key: Some("k"),
                    body,
                })
            },
            |status, body| {
                answers.push((status, String::from_utf8(body.to_vec()).unwrap()));
                Ok(())
            },
        )
        .unwrap();
        let mut lengths: Vec<usize> = answers
            .iter()
            .map(|(status, text)| {
                assert_eq!(*status, 200);
                let (n, path) = text.split_once(' ').unwrap();
                assert_eq!(path, "/p");
                n.parse().unwrap()
            })
            .collect();
        lengths.sort_unstable();
        let mut expected = sizes.to_vec();
        expected.sort_unstable();
        assert_eq!(lengths, expected);
    }

    #[test]
    fn an_error_from_the_answer_handler_ends_the_run() {
        let base = echo_server(1);
        let mut sent = 0;
        let outcome = drive(
            &base,
            1,
            || {
                sent += 1;
                (sent <= 10).then_some(Request {
                    method: "GET",
                    path: "/fail",
                    key: None,
                    body: b"",
                })
            },
            |status, _| Err(format!("answered {status}")),
        );
        assert_eq!(outcome, Err("answered 500".to_string()));
        assert_eq!(sent, 1);
    }

    #[test]
    fn only_plain_http_is_spoken() {
        let e = drive("https://127.0.0.1:1", 1, || None, |_, _| Ok(())).unwrap_err();
        assert!(e.contains("plain http"), "{e}");
    }
}
