//! The chain behind the `rpc_request` target, shared with the seed generator so the
//! seeds can name its real block hashes, transactions, keys and event cursors.
//!
//! Three blocks on `accord_rpc::memory::MemoryNode` (the runtime's test genesis):
//! two proposals by `author` (eu+us, then ap); three votes on the first; a block of
//! end-of-block events only. Nothing is left in the pool.

use std::sync::Arc;

use accord_rpc::memory::MemoryNode;
use accord_rpc::{Limits, RpcApi};
use accord_runtime::test_utils::{documentation, draft, region};
use accord_types::governance::{ProposalStatus, VoteChoice};
use accord_types::{Event, Payload, ProposalId};
use jsonrpsee::RpcModule;

/// Longest input the target sends (the server's own limit is 1 MiB; the fuzzer's
/// inputs stay far below either).
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// A proposal of a documentation change for `regions`.
pub fn submit(path: &str, regions: &[&str]) -> Payload {
    Payload::SubmitProposal {
        draft: Box::new(draft(regions, documentation(path))),
    }
}

/// The node with its three blocks.
pub fn node() -> Arc<MemoryNode> {
    let node = MemoryNode::new(16);
    let a = node.tx("author", submit("/docs/a.md", &["eu", "us"]));
    let b = node.tx("author", submit("/docs/b.md", &["ap"]));
    node.commit(&[a, b]);
    let votes: Vec<_> = [
        ("eu-voter-1", "eu", VoteChoice::Yes),
        ("eu-voter-2", "eu", VoteChoice::No),
        ("us-voter-1", "us", VoteChoice::Yes),
    ]
    .into_iter()
    .map(|(voter, r, choice)| {
        node.tx(
            voter,
            Payload::Vote {
                proposal: ProposalId(1),
                region: region(r),
                choice,
            },
        )
    })
    .collect();
    node.commit(&votes);
    node.commit_events(vec![
        Event::GovernanceChanged {
            proposal: ProposalId(2),
        },
        Event::StatusChanged {
            proposal: ProposalId(2),
            status: ProposalStatus::Cancelled,
            reason: "fuzz fixture".into(),
        },
    ]);
    node
}

/// Every method over `node`, with the default limits, as the server registers them.
pub fn module(node: &Arc<MemoryNode>) -> RpcModule<()> {
    RpcApi::new(node.backend(), Limits::default()).into_module()
}
