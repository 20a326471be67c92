//! Group chat over posting (Flash `NetGroup.post`): every line typed is posted to the group,
//! every post received is printed once.
//!
//! Start a rendezvous server, then run the example in two or more terminals:
//!
//! ```text
//! cargo run --release -p rtmfp-cli -- server --bind 127.0.0.1:1935
//! cargo run --release --example chat -- rtmfp://127.0.0.1/chat
//! ```

#[path = "support/chat_loop.rs"]
mod chat_loop;

use rtmfp_netgroup::GroupSpecifier;
use rtmfp_node::Node;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "rtmfp://127.0.0.1/chat".to_string());
    let node = Node::connect(&url).await?;
    let mut spec = GroupSpecifier::new("chat example")?;
    spec.set_posting_enabled(true);
    spec.set_server_channel_enabled(true);
    let group = node.join(&spec).await?;
    println!("joined as {}; type a line to post it", node.peer_id());
    chat_loop::chat(group).await
}
