//! The ingest load generator's HTTP/1.1 client: one keep-alive loopback
//! connection, each request written whole in one call and its answer read
//! by `Content-Length`.
//!
//! Why not a general client: the generator shares the machine's two cores
//! with the server it measures. With ureq, 128 client threads sending one
//! event per request took more CPU than the server (106% against 59% in
//! `top`), so the figure measured the client as much as the server. This
//! client does only what the measurement needs: no redirects, no TLS, no
//! chunked answers (the server answers these requests with a length).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

pub struct Connection {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    host: String,
    request: Vec<u8>,
}

/// A status and a body.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Connection {
    /// Connects to `base` (`http://host:port`).
    pub fn open(base: &str) -> Result<Connection, String> {
        let host = base
            .strip_prefix("http://")
            .ok_or_else(|| format!("the load generator speaks plain http only, not {base}"))?
            .trim_end_matches('/')
            .to_string();
        let stream =
            TcpStream::connect(&host).map_err(|e| format!("cannot connect to {host}: {e}"))?;
        // Requests are written whole; waiting to coalesce them only adds latency.
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let writer = stream.try_clone().map_err(|e| e.to_string())?;
        Ok(Connection {
            reader: BufReader::with_capacity(16 * 1024, stream),
            writer,
            host,
            request: Vec::new(),
        })
    }

    /// `POST path` with a JSON body and a bearer key; returns the answer.
    pub fn post_json(&mut self, path: &str, key: &str, body: &str) -> Result<Answer, String> {
        self.request.clear();
        write!(
            self.request,
            "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {key}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.host,
            body.len()
        )
        .map_err(|e| e.to_string())?;
        self.request.extend_from_slice(body.as_bytes());
        self.writer
            .write_all(&self.request)
            .map_err(|e| format!("POST {path}: sending failed: {e}"))?;
        self.read_answer()
            .map_err(|e| format!("POST {path}: reading the answer failed: {e}"))
    }

    fn read_answer(&mut self) -> Result<Answer, String> {
        let mut line = String::new();
        self.read_line(&mut line)?;
        // "HTTP/1.1 200 OK"
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| format!("not an HTTP status line: {:?}", line.trim_end()))?;
        let mut length = None;
        loop {
            line.clear();
            self.read_line(&mut line)?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
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
        let mut body = vec![0; length];
        self.reader
            .read_exact(&mut body)
            .map_err(|e| e.to_string())?;
        Ok(Answer { status, body })
    }

    fn read_line(&mut self, line: &mut String) -> Result<(), String> {
        match self.reader.read_line(line) {
            Ok(0) => Err("the server closed the connection".into()),
            Ok(_) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }
}
