//! Block-sync messages and their request-response codec.
//!
//! One request and one response travel on their own stream of the protocol
//! `/accord/<chain-id>/sync/1`, each as its borsh encoding followed by the end of the
//! stream. Readers stop one byte past their cap, so a peer cannot make a node buffer
//! more than the cap, and decode strictly (no trailing bytes, validated ids) through
//! [`accord_types::codec::decode`]. A responder whose answer would exceed its cap sends
//! [`SyncResponse::Error`] instead, naming the cap.

use std::io;

use accord_types::codec;
use accord_types::{Block, CommitCertificate, Hash, Height};
use borsh::{BorshDeserialize, BorshSerialize};
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;

/// Most blocks one [`SyncRequest::Blocks`] may ask for.
pub const MAX_BLOCKS_PER_REQUEST: u64 = 64;

/// Largest encoded sync request (requests are a few dozen bytes).
pub const MAX_REQUEST_BYTES: usize = 1024;

/// Default cap on an encoded sync response: room for a range of full blocks with
/// their certificates.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// Smallest response cap a node accepts, so that status answers and error messages
/// always fit.
pub const MIN_RESPONSE_BYTES: usize = 1024;

/// Longest error text carried in [`SyncResponse::Error`]; longer texts are cut.
pub const MAX_ERROR_TEXT: usize = 512;

/// A question one node asks another while catching up.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum SyncRequest {
    /// The peer's latest finalized height and block hash.
    Status,
    /// The finalized blocks `from..=to` with their commit certificates, in height
    /// order; at most [`MAX_BLOCKS_PER_REQUEST`] of them.
    Blocks {
        /// First height wanted.
        from: Height,
        /// Last height wanted (inclusive).
        to: Height,
    },
    /// One block by its hash.
    BlockByHash(Hash),
}

/// The answer to a [`SyncRequest`].
// A response is built once per request and moved a few times on its way to the
// wire; boxing the block would cost more in every match than it saves.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum SyncResponse {
    /// Answers [`SyncRequest::Status`].
    Status {
        /// The latest finalized height.
        height: Height,
        /// Its block hash.
        hash: Hash,
    },
    /// Answers [`SyncRequest::Blocks`]: a prefix of the range (possibly empty, when
    /// the responder has fewer blocks or they would not fit in one response).
    Blocks(Vec<(Block, CommitCertificate)>),
    /// Answers [`SyncRequest::BlockByHash`]; `None` when the block is unknown.
    Block(Option<Block>),
    /// The responder could not answer; the text says why.
    Error(String),
}

impl SyncRequest {
    /// Checks the request's shape: a block range must be non-empty and at most
    /// [`MAX_BLOCKS_PER_REQUEST`] long.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Self::Blocks { from, to } => {
                let (from, to) = (from.get(), to.get());
                if from > to {
                    return Err(format!(
                        "block range {from}..={to} is empty; `from` must not exceed `to`"
                    ));
                }
                let count = (to - from).saturating_add(1);
                if count > MAX_BLOCKS_PER_REQUEST {
                    return Err(format!(
                        "block range {from}..={to} asks for {count} blocks; at most {MAX_BLOCKS_PER_REQUEST} per request"
                    ));
                }
                Ok(())
            }
            Self::Status | Self::BlockByHash(_) => Ok(()),
        }
    }

    /// Checks that `response` answers this request: the right variant, blocks inside
    /// the range in increasing height order each with its own certificate, a block
    /// with the hash asked for. Certificates' signatures are block sync's to verify.
    pub fn check_response(&self, response: &SyncResponse) -> Result<(), String> {
        match (self, response) {
            (_, SyncResponse::Error(_)) | (Self::Status, SyncResponse::Status { .. }) => Ok(()),
            (Self::Blocks { from, to }, SyncResponse::Blocks(blocks)) => {
                let mut previous: Option<Height> = None;
                for (block, certificate) in blocks {
                    let height = block.header.height;
                    if height < *from || height > *to {
                        return Err(format!(
                            "block at height {height} is outside the requested range {from}..={to}"
                        ));
                    }
                    if previous.is_some_and(|p| height <= p) {
                        return Err(format!(
                            "block at height {height} is out of order; heights must increase"
                        ));
                    }
                    previous = Some(height);
                    let hash = block.hash();
                    if certificate.height != height || certificate.block_hash != hash {
                        return Err(format!(
                            "the certificate sent with block {hash} at height {height} is for block {} at height {}",
                            certificate.block_hash, certificate.height
                        ));
                    }
                }
                Ok(())
            }
            (Self::BlockByHash(wanted), SyncResponse::Block(block)) => match block {
                Some(block) if block.hash() != *wanted => Err(format!(
                    "asked for block {wanted}, received block {}",
                    block.hash()
                )),
                _ => Ok(()),
            },
            (request, response) => Err(format!(
                "a {} response does not answer a {} request",
                response.kind(),
                request.kind()
            )),
        }
    }

    /// The variant's name, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Status => "status",
            Self::Blocks { .. } => "blocks",
            Self::BlockByHash(_) => "block-by-hash",
        }
    }
}

impl SyncResponse {
    /// An error response whose text is cut to [`MAX_ERROR_TEXT`] bytes.
    pub fn error(text: impl Into<String>) -> Self {
        let mut text = text.into();
        if text.len() > MAX_ERROR_TEXT {
            let mut end = MAX_ERROR_TEXT;
            while !text.is_char_boundary(end) {
                end = end.saturating_sub(1);
            }
            text.truncate(end);
        }
        Self::Error(text)
    }

    /// The variant's name, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Status { .. } => "status",
            Self::Blocks(_) => "blocks",
            Self::Block(_) => "block",
            Self::Error(_) => "error",
        }
    }
}

/// The name of the sync protocol of `chain`.
pub(crate) fn protocol_name(chain: &accord_types::ChainId) -> Result<StreamProtocol, String> {
    StreamProtocol::try_from_owned(format!("/accord/{chain}/sync/1")).map_err(|e| e.to_string())
}

/// Decodes a request strictly, within [`MAX_REQUEST_BYTES`].
pub fn decode_request(bytes: &[u8]) -> Result<SyncRequest, accord_types::Error> {
    codec::decode("sync request", bytes, MAX_REQUEST_BYTES)
}

/// Decodes a response strictly, within `max` bytes.
pub fn decode_response(bytes: &[u8], max: usize) -> Result<SyncResponse, accord_types::Error> {
    codec::decode("sync response", bytes, max)
}

/// The borsh codec of the sync protocol, with size caps in both directions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SyncCodec {
    /// Cap on responses read and written.
    pub(crate) max_response_bytes: usize,
}

/// Reads the whole stream, failing once more than `max` bytes arrive.
async fn read_capped<T>(io: &mut T, what: &str, max: usize) -> io::Result<Vec<u8>>
where
    T: AsyncRead + Unpin + Send,
{
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    let mut bytes = Vec::new();
    io.take(limit).read_to_end(&mut bytes).await?;
    if bytes.len() > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{what} exceeds the limit of {max} bytes"),
        ));
    }
    Ok(bytes)
}

fn invalid_data(error: &accord_types::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error.to_string())
}

impl libp2p::request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = SyncRequest;
    type Response = SyncResponse;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SyncRequest>
    where
        T: AsyncRead + Unpin + Send,
    {
        let bytes = read_capped(io, "sync request", MAX_REQUEST_BYTES).await?;
        decode_request(&bytes).map_err(|e| invalid_data(&e))
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SyncResponse>
    where
        T: AsyncRead + Unpin + Send,
    {
        let bytes = read_capped(io, "sync response", self.max_response_bytes).await?;
        decode_response(&bytes, self.max_response_bytes).map_err(|e| invalid_data(&e))
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: SyncRequest,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        // The protocol handler closes the stream after the write.
        io.write_all(&codec::encode(&request)).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: SyncResponse,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let mut bytes = codec::encode(&response);
        if bytes.len() > self.max_response_bytes {
            bytes = codec::encode(&SyncResponse::error(format!(
                "the {} response of {} bytes exceeds the limit of {} bytes; ask for fewer blocks",
                response.kind(),
                bytes.len(),
                self.max_response_bytes
            )));
        }
        io.write_all(&bytes).await
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use accord_types::{ChainId, Header, PublicKey, Round, Timestamp};

    pub(crate) fn block(height: u64) -> Block {
        Block {
            header: Header {
                chain_id: ChainId::new("test").unwrap(),
                height: Height(height),
                parent_hash: Hash::ZERO,
                timestamp: Timestamp(height * 1000),
                proposer: PublicKey::from_bytes([7; 32]),
                transactions_root: Hash::ZERO,
                evidence_root: Hash::ZERO,
                state_root: Hash::ZERO,
                receipts_root: Hash::ZERO,
                validator_set_hash: Hash::ZERO,
                last_commit_hash: Hash::ZERO,
            },
            transactions: vec![],
            evidence: vec![],
            last_commit: None,
        }
    }

    pub(crate) fn certified(height: u64) -> (Block, CommitCertificate) {
        let block = block(height);
        let certificate = CommitCertificate {
            height: block.header.height,
            round: Round(0),
            block_hash: block.hash(),
            signatures: vec![],
        };
        (block, certificate)
    }

    fn range(from: u64, to: u64) -> SyncRequest {
        SyncRequest::Blocks {
            from: Height(from),
            to: Height(to),
        }
    }

    #[test]
    fn block_ranges_are_checked() {
        assert!(range(1, 1).check().is_ok());
        assert!(range(1, MAX_BLOCKS_PER_REQUEST).check().is_ok());
        assert!(range(2, 1).check().unwrap_err().contains("empty"));
        assert!(range(1, MAX_BLOCKS_PER_REQUEST + 1)
            .check()
            .unwrap_err()
            .contains("at most"));
        assert!(range(0, u64::MAX).check().is_err());
        assert!(SyncRequest::Status.check().is_ok());
    }

    #[test]
    fn responses_must_answer_their_request() {
        let blocks = SyncResponse::Blocks(vec![certified(3), certified(4)]);
        assert!(range(3, 5).check_response(&blocks).is_ok());
        assert!(range(4, 5)
            .check_response(&blocks)
            .unwrap_err()
            .contains("outside"));
        let reversed = SyncResponse::Blocks(vec![certified(4), certified(3)]);
        assert!(range(3, 5)
            .check_response(&reversed)
            .unwrap_err()
            .contains("order"));
        let (third, mut certificate) = certified(3);
        certificate.block_hash = Hash::ZERO;
        let mismatched = SyncResponse::Blocks(vec![(third, certificate)]);
        assert!(range(3, 3)
            .check_response(&mismatched)
            .unwrap_err()
            .contains("certificate"));
        assert!(SyncRequest::Status
            .check_response(&blocks)
            .unwrap_err()
            .contains("does not answer"));
        let wanted = block(9).hash();
        let by_hash = SyncRequest::BlockByHash(wanted);
        assert!(by_hash
            .check_response(&SyncResponse::Block(Some(block(9))))
            .is_ok());
        assert!(by_hash.check_response(&SyncResponse::Block(None)).is_ok());
        assert!(by_hash
            .check_response(&SyncResponse::Block(Some(block(8))))
            .is_err());
        assert!(by_hash.check_response(&SyncResponse::error("busy")).is_ok());
    }

    #[test]
    fn decoding_is_strict_and_capped() {
        let response = SyncResponse::Blocks(vec![certified(1)]);
        let bytes = codec::encode(&response);
        assert_eq!(decode_response(&bytes, bytes.len()), Ok(response));
        assert!(matches!(
            decode_response(&bytes, bytes.len() - 1),
            Err(accord_types::Error::TooLarge { .. })
        ));
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(decode_response(&trailing, usize::MAX).is_err());
        assert!(decode_response(&bytes[..bytes.len() - 1], usize::MAX).is_err());
        assert!(decode_response(&[0xff, 1, 2, 3], usize::MAX).is_err());
        // A vector length far beyond the bytes present is refused, not allocated.
        assert!(decode_response(&[1, 0xff, 0xff, 0xff, 0xff], usize::MAX).is_err());
        assert!(decode_request(&vec![0; MAX_REQUEST_BYTES + 1]).is_err());
        assert_eq!(
            decode_request(&codec::encode(&SyncRequest::Status)),
            Ok(SyncRequest::Status)
        );
    }

    #[test]
    fn error_text_is_cut_on_a_character_boundary() {
        let SyncResponse::Error(text) = SyncResponse::error("é".repeat(MAX_ERROR_TEXT)) else {
            panic!("not an error response");
        };
        assert!(text.len() <= MAX_ERROR_TEXT);
        assert!(text.chars().all(|c| c == 'é'));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_the_decoders(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = decode_response(&bytes, 1 << 20);
            let _ = decode_request(&bytes);
        }
    }
}
