//! The options of the stream subcommands (`--group` and [`MemberArgs`]) and how they become a
//! joined [`NetGroup`].

use std::time::Duration;

use clap::Args;
use rtmfp_netgroup::{GroupConfig, GroupSpecifier};
use rtmfp_node::{NetGroup, Node};

use super::member::MemberArgs;

/// How to reach a group: its groupspec and how the member starts.
#[derive(Args)]
pub struct GroupOpts {
    /// The groupspec (`G:...`, see `rtmfp groupspec`).
    #[arg(long = "group")]
    pub groupspec: String,
    #[command(flatten)]
    pub member: MemberArgs,
}

impl GroupOpts {
    /// Starts a node as the options say (with `group` as the engine settings, `None`: the
    /// scaled defaults) and joins the group. Prints the node's identity to stderr.
    ///
    /// Errors: a bad groupspec, and those of [`MemberArgs::start`] and the join.
    pub async fn join(
        &self,
        group: Option<GroupConfig>,
    ) -> Result<(Node, NetGroup), Box<dyn std::error::Error>> {
        let spec: GroupSpecifier = self.groupspec.parse()?;
        let config = group.unwrap_or_else(|| self.member.group_config());
        let node = self.member.start(&spec, config).await?;
        eprintln!("peer-id {}", node.peer_id());
        eprintln!("local-address {}", node.local_addr());
        let group = node.join(&spec).await?;
        eprintln!("group-id {}", hex::encode(group.id().0));
        Ok((node, group))
    }
}

/// Waits until `group` has at least `want` neighbours or `limit` passes; returns the count.
pub async fn wait_neighbors(
    group: &NetGroup,
    want: usize,
    limit: Duration,
) -> Result<usize, Box<dyn std::error::Error>> {
    let end = tokio::time::Instant::now() + limit;
    loop {
        let n = group.read(|g| g.neighbor_count()).await?;
        if n >= want || tokio::time::Instant::now() >= end {
            return Ok(n);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
