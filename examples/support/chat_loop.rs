//! The chat loop shared by the `chat` and `lan_chat` examples: stdin lines are posted, posts
//! and neighbour changes are printed; returns when stdin closes.

use rtmfp_netgroup::GroupEvent;
use rtmfp_node::NetGroup;
use tokio::io::{AsyncBufReadExt, BufReader};

pub async fn chat(mut group: NetGroup) -> Result<(), Box<dyn std::error::Error>> {
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
