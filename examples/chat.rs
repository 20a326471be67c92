//! Group chat over posting (Flash `NetGroup.post`): every line typed is posted to the group,
//! every post received is printed once.
//!
//! Start a rendezvous server, then run the example in two or more terminals:
//!
//! ```text
//! cargo run --release -p rtmfp-node -- server --bind 127.0.0.1:1935
//! cargo run --release --example chat -- rtmfp://127.0.0.1/chat
//! ```

use rtmfp_netgroup::{GroupEvent, GroupSpecifier};
use rtmfp_node::Node;
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "rtmfp://127.0.0.1/chat".to_string());
    let node = Node::connect(&url).await?;
    let mut spec = GroupSpecifier::new("chat example")?;
    spec.set_posting_enabled(true);
    spec.set_server_channel_enabled(true);
    let mut group = node.join(&spec).await?;
    println!("joined as {}; type a line to post it", node.peer_id());
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    loop {
        tokio::select! {
            line = lines.next_line() => match line? {
                Some(text) if !text.trim().is_empty() => {
                    // A post identical to a recent one is filtered (as in Flash): add a nonce
                    // in real applications that repeat messages.
                    if let Err(e) = group.post(text.as_bytes()).await {
                        eprintln!("not posted: {e}");
                    }
                }
                Some(_) => {}
                None => break,
            },
            event = group.next_event() => match event {
                Some(GroupEvent::PostingNotify { message, .. }) => {
                    println!("> {}", String::from_utf8_lossy(&message));
                }
                Some(GroupEvent::NeighborConnect { peer_id, .. }) => println!("+ {peer_id}"),
                Some(GroupEvent::NeighborDisconnect { peer_id, .. }) => println!("- {peer_id}"),
                Some(_) => {}
                None => break,
            },
        }
    }
    group.close().await?;
    Ok(())
}
