//! A one-shot HTTP stub for tests of what a backend sends and how it takes an answer: each
//! of its replies answers one request, on a connection of its own (`connection: close`).

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One canned answer.
#[derive(Debug, Clone, Copy)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: &'static str,
}

impl Reply {
    /// A JSON answer with `status`.
    pub fn json(status: u16, body: &'static str) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body,
        }
    }
}

async fn read_request(sock: &mut tokio::net::TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = sock.read(&mut chunk).await.unwrap_or(0);
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length = text[..head_end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .and_then(|v| v.trim().parse::<usize>().ok())
                })
                .unwrap_or(0);
            if buf.len() >= head_end + 4 + length {
                break;
            }
        }
        if n == 0 {
            break;
        }
    }
    String::from_utf8_lossy(&buf).to_string()
}

/// Answers one request per reply, in order; returns the requests as they arrived.
pub async fn answer(listener: TcpListener, replies: Vec<Reply>) -> Vec<String> {
    let mut requests = Vec::new();
    for reply in replies {
        let Ok((mut sock, _)) = listener.accept().await else {
            break;
        };
        requests.push(read_request(&mut sock).await);
        let head = format!(
            "HTTP/1.1 {} Stub\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            reply.status,
            reply.content_type,
            reply.body.len()
        );
        let _ = sock.write_all(head.as_bytes()).await;
        let _ = sock.write_all(reply.body.as_bytes()).await;
        let _ = sock.shutdown().await;
    }
    requests
}
