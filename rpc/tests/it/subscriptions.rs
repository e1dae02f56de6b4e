//! Event subscriptions: replay then live with no gap and no duplicate while blocks
//! commit, resumed from a cursor after a disconnect; a subscriber that stops reading is
//! closed with its last cursor; finalized blocks in order.

use std::net::SocketAddr;
use std::time::Duration;

use accord_rpc::types::{EventFilter, EventView};
use accord_rpc::{ChainApiClient, GovApiClient, Limits};
use accord_types::{Event, EventCursor, Height, ProposalId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::Fixture;

/// A block of `n` events numbered from `first` (their proposal ids).
fn numbered(first: u64, n: u64) -> Vec<Event> {
    (first..first + n)
        .map(|id| Event::GovernanceChanged {
            proposal: ProposalId(id),
        })
        .collect()
}

fn number(view: &EventView) -> u64 {
    match view.event {
        Event::GovernanceChanged { proposal } => proposal.0,
        ref other => panic!("unexpected event {other:?}"),
    }
}

async fn next(sub: &mut jsonrpsee::core::client::Subscription<EventView>) -> EventView {
    tokio::time::timeout(Duration::from_secs(20), sub.next())
        .await
        .expect("an event within 20 s")
        .expect("the subscription is open")
        .expect("the event decodes")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_resumed_from_its_cursor_loses_and_repeats_nothing() {
    // A small announcement channel, so the live path also falls behind and re-reads.
    let fixture = Fixture::with_limits(Limits::default(), 4).await;
    for block in 0..20 {
        fixture.node.commit_events(numbered(1 + block * 5, 5));
    }
    let total = 350;
    let node = fixture.node.clone();
    let writer = tokio::task::spawn_blocking(move || {
        for block in 20..70 {
            node.commit_events(numbered(1 + block * 5, 5));
            std::thread::sleep(Duration::from_millis(3));
        }
    });

    let mut seen = Vec::new();
    let last = {
        let client = fixture.ws().await;
        let mut sub = client.subscribe_events(None, None).await.unwrap();
        for _ in 0..120 {
            seen.push(next(&mut sub).await);
        }
        seen.last().unwrap().cursor
        // The client goes away here, mid-stream, while blocks keep committing.
    };
    let client = fixture.ws().await;
    let mut sub = client.subscribe_events(None, Some(last)).await.unwrap();
    while seen.len() < total {
        seen.push(next(&mut sub).await);
    }
    writer.await.unwrap();
    let numbers: Vec<u64> = seen.iter().map(number).collect();
    assert_eq!(numbers, (1..=total as u64).collect::<Vec<_>>());
    assert!(seen.windows(2).all(|w| w[0].cursor < w[1].cursor));

    // Nothing more arrives: the stream was complete.
    fixture.node.commit_events(numbered(1000, 1));
    assert_eq!(number(&next(&mut sub).await), 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filtered_subscription_gets_only_its_events() {
    let fixture = Fixture::new().await;
    crate::api::history(&fixture);
    let client = fixture.ws().await;
    let filter = EventFilter {
        types: Some(vec!["vote_cast".into()]),
        proposals: Some(vec![ProposalId(1)]),
        ..Default::default()
    };
    let mut sub = client.subscribe_events(Some(filter), None).await.unwrap();
    for _ in 0..3 {
        let view = next(&mut sub).await;
        assert!(matches!(
            view.event,
            Event::VoteCast {
                proposal: ProposalId(1),
                ..
            }
        ));
        assert_eq!(view.cursor.height, Height(2));
    }
    fixture.node.commit_events(numbered(5, 2));
    let vote = fixture.node.tx(
        "us-voter-2",
        accord_types::Payload::Vote {
            proposal: ProposalId(1),
            region: accord_runtime::test_utils::region("us"),
            choice: accord_types::governance::VoteChoice::Abstain,
        },
    );
    fixture.node.commit(&[vote]);
    let live = next(&mut sub).await;
    assert!(matches!(
        live.event,
        Event::VoteCast {
            proposal: ProposalId(1),
            ..
        }
    ));
    assert_eq!(live.cursor.height, Height(5));

    // A bad filter or cursor is refused before the subscription starts.
    let bad = EventFilter {
        types: Some(vec!["nonsense".into()]),
        ..Default::default()
    };
    assert!(client.subscribe_events(Some(bad), None).await.is_err());
    let beyond: EventCursor = "999:0:0".parse().unwrap();
    assert!(client.subscribe_events(None, Some(beyond)).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finalized_blocks_arrive_in_order_even_behind_the_announcements() {
    let fixture = Fixture::with_limits(Limits::default(), 2).await;
    fixture.node.commit_events(numbered(1, 1));
    let client = fixture.ws().await;
    let mut sub = client.subscribe_finalized_blocks().await.unwrap();
    let node = fixture.node.clone();
    tokio::task::spawn_blocking(move || {
        for i in 0..30 {
            node.commit_events(numbered(10 + i, 3));
        }
    })
    .await
    .unwrap();
    let mut heights = Vec::new();
    while heights.len() < 30 {
        let block = tokio::time::timeout(Duration::from_secs(20), sub.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(block.signers.len(), 4);
        assert_eq!(block.events, 3);
        heights.push(block.header.height.0);
    }
    assert_eq!(heights, (2..=31).collect::<Vec<_>>());
}

/// A WebSocket client that writes but reads only when told: the smallest receive
/// buffer the kernel allows, so the server's buffers fill when it stops reading.
struct RawWs {
    stream: TcpStream,
    pending: Vec<u8>,
}

impl RawWs {
    async fn connect(addr: SocketAddr) -> Self {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut stream = socket.connect(addr).await.unwrap();
        let handshake = format!(
            "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(handshake.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            stream.read_exact(&mut byte).await.unwrap();
            head.push(byte[0]);
        }
        assert!(String::from_utf8_lossy(&head).starts_with("HTTP/1.1 101"));
        Self {
            stream,
            pending: Vec::new(),
        }
    }

    async fn send(&mut self, text: &str) {
        let payload = text.as_bytes();
        let mask = [7u8, 1, 9, 3];
        let mut frame = vec![0x81u8];
        if payload.len() < 126 {
            frame.push(0x80 | payload.len() as u8);
        } else {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame).await.unwrap();
    }

    /// The next text message, or `None` when the connection closes.
    async fn message(&mut self) -> Option<String> {
        let mut message = Vec::new();
        loop {
            let mut head = [0u8; 2];
            self.read_exact(&mut head).await?;
            let opcode = head[0] & 0x0f;
            let len = match head[1] & 0x7f {
                126 => {
                    let mut b = [0u8; 2];
                    self.read_exact(&mut b).await?;
                    u16::from_be_bytes(b) as usize
                }
                127 => {
                    let mut b = [0u8; 8];
                    self.read_exact(&mut b).await?;
                    u64::from_be_bytes(b) as usize
                }
                n => n as usize,
            };
            let mut payload = vec![0u8; len];
            self.read_exact(&mut payload).await?;
            match opcode {
                0x8 => return None,
                0x9 | 0xA => continue,
                _ => message.extend_from_slice(&payload),
            }
            if head[0] & 0x80 != 0 {
                return Some(String::from_utf8(message).unwrap());
            }
        }
    }

    async fn read_exact(&mut self, buf: &mut [u8]) -> Option<()> {
        while self.pending.len() < buf.len() {
            let mut chunk = [0u8; 65536];
            let n = tokio::time::timeout(Duration::from_secs(10), self.stream.read(&mut chunk))
                .await
                .ok()?
                .ok()?;
            if n == 0 {
                return None;
            }
            self.pending.extend_from_slice(&chunk[..n]);
        }
        buf.copy_from_slice(&self.pending[..buf.len()]);
        self.pending.drain(..buf.len());
        Some(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_stops_reading_is_closed_with_its_last_cursor() {
    let limits = Limits {
        message_buffer: 8,
        subscriber_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let fixture = Fixture::with_limits(limits, 64).await;
    let mut ws = RawWs::connect(fixture.addr).await;
    ws.send(r#"{"jsonrpc":"2.0","id":1,"method":"gov_subscribeEvents","params":[]}"#)
        .await;
    let accepted: serde_json::Value = serde_json::from_str(&ws.message().await.unwrap()).unwrap();
    assert!(!accepted["result"].is_null(), "{accepted}");

    // Far more than the kernel's and the server's buffers hold, while nobody reads.
    let node = fixture.node.clone();
    let blocks = 60u64;
    let per_block = 1000u64;
    tokio::task::spawn_blocking(move || {
        for block in 0..blocks {
            node.commit_events(numbered(1 + block * per_block, per_block));
        }
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Now read everything that was sent: events in order, then the closing error.
    let mut last: Option<EventCursor> = None;
    let mut received = 0u64;
    let error = loop {
        let text = ws
            .message()
            .await
            .expect("the closing error before the end");
        let message: serde_json::Value = serde_json::from_str(&text).unwrap();
        let params = &message["params"];
        if let Some(error) = params.get("error") {
            break error.clone();
        }
        let view: EventView = serde_json::from_value(params["result"].clone()).unwrap();
        assert_eq!(number(&view), received + 1, "in order, none skipped");
        assert!(last.is_none_or(|l| l < view.cursor));
        last = Some(view.cursor);
        received += 1;
    };
    assert!(
        received < blocks * per_block,
        "the subscriber was cut off early"
    );
    assert_eq!(error["code"], -32022, "{error}");
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("did not keep up"));
    let cursor: EventCursor = serde_json::from_value(error["data"]["cursor"].clone()).unwrap();
    assert_eq!(Some(cursor), last, "the error names the last event sent");

    // Resuming from it delivers the rest, exactly.
    let client = fixture.ws().await;
    let mut sub = client.subscribe_events(None, Some(cursor)).await.unwrap();
    for expected in received + 1..=blocks * per_block {
        assert_eq!(number(&next(&mut sub).await), expected);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_that_stops_reading_is_disconnected_and_a_reading_one_is_not() {
    let limits = Limits {
        ws_ping_interval: Duration::from_millis(200),
        ws_inactive_limit: Duration::from_millis(300),
        ..Limits::default()
    };
    let fixture = Fixture::with_limits(limits, 64).await;
    // A client that reads (and so answers pings) keeps its subscription.
    let client = fixture.ws().await;
    let mut sub = client.subscribe_events(None, None).await.unwrap();
    // A raw client that subscribes, then neither reads nor answers pings.
    let mut silent = RawWs::connect(fixture.addr).await;
    silent
        .send(r#"{"jsonrpc":"2.0","id":1,"method":"gov_subscribeEvents","params":[]}"#)
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    fixture.node.commit_events(numbered(1, 1));
    assert_eq!(
        number(&next(&mut sub).await),
        1,
        "the reading client is still served"
    );
    // The silent one was closed: its socket ends after the answer and the pings it never read.
    // (A connection still open would keep this read waiting past the deadline.)
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        while silent.message().await.is_some() {}
    })
    .await;
    assert!(closed.is_ok(), "the silent connection is still open");
    assert!(client.is_connected());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_from_a_node_ahead_resumes_once_this_one_catches_up() {
    let fixture = Fixture::new().await;
    for block in 0..3 {
        fixture.node.commit_events(numbered(1 + block * 2, 2));
    }
    // The head is 3; the client last saw the first event of block 5 on another node.
    let ahead: EventCursor = "5:0:0".parse().unwrap();
    let client = fixture.ws().await;
    let page = client.events(None, Some(ahead), None).await.unwrap();
    assert!(page.events.is_empty() && page.complete);
    let mut sub = client.subscribe_events(None, Some(ahead)).await.unwrap();
    for block in 3..6 {
        fixture.node.commit_events(numbered(1 + block * 2, 2));
    }
    // Block 4's events and the first of block 5 were seen elsewhere: not sent again.
    for expected in [10, 11, 12] {
        assert_eq!(number(&next(&mut sub).await), expected);
    }
}
