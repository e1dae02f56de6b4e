//! Event and state proofs verified by the client alone, and refused after one byte of
//! the path, the header or the certificate is changed.

use accord_rpc::types::{EventFilter, StateTarget};
use accord_rpc::verify::{verify_event_proof, verify_state_proof, ProofError, Record};
use accord_rpc::GovApiClient;
use accord_runtime::test_utils::key;
use accord_types::{Event, Hash, Height, ProposalId};

use crate::api::history;
use crate::Fixture;

fn flip(hash: &mut Hash) {
    let mut bytes = *hash.as_bytes();
    bytes[0] ^= 1;
    *hash = Hash::from_bytes(bytes);
}

#[tokio::test]
async fn an_event_proof_verifies_alone_and_not_once_tampered_with() {
    let fixture = Fixture::new().await;
    history(&fixture);
    let client = fixture.http();
    let chain_id = fixture.node.chain_id();
    let validators = fixture.node.validators().clone();
    let filter = EventFilter {
        types: Some(vec!["vote_cast".into()]),
        ..Default::default()
    };
    let events = client.events(Some(filter), None, None).await.unwrap();
    let wanted = &events.events[1];
    let proof = client.event_proof(wanted.cursor).await.unwrap();
    let event = verify_event_proof(&proof, &chain_id, &validators).unwrap();
    assert_eq!(event, wanted.event);
    assert!(matches!(event, Event::VoteCast { .. }));

    // One changed byte anywhere: the path, the header, the certificate, the receipt.
    let mut path = proof.clone();
    flip(&mut path.path.siblings[0]);
    assert!(matches!(
        verify_event_proof(&path, &chain_id, &validators),
        Err(ProofError::ReceiptPath { .. })
    ));
    let mut header = proof.clone();
    flip(&mut header.header.receipts_root);
    assert!(matches!(
        verify_event_proof(&header, &chain_id, &validators),
        Err(ProofError::Certificate { .. })
    ));
    let mut certificate = proof.clone();
    let mut signature = *certificate.certificate.signatures[0].signature.as_bytes();
    signature[5] ^= 1;
    certificate.certificate.signatures[0].signature =
        accord_types::Signature::from_bytes(signature);
    assert!(matches!(
        verify_event_proof(&certificate, &chain_id, &validators),
        Err(ProofError::Certificate { .. })
    ));
    let mut receipt = proof.clone();
    if let Event::VoteCast { choice, .. } = &mut receipt.receipt.events[0] {
        *choice = accord_types::governance::VoteChoice::Veto;
    }
    assert!(verify_event_proof(&receipt, &chain_id, &validators).is_err());
    let mut cursor = proof.clone();
    cursor.cursor.receipt += 1;
    assert!(verify_event_proof(&cursor, &chain_id, &validators).is_err());
    // Another chain, another validator set.
    let other_chain = accord_types::ChainId::new("accord-other").unwrap();
    assert!(matches!(
        verify_event_proof(&proof, &other_chain, &validators),
        Err(ProofError::WrongChain { .. })
    ));
    let strangers = accord_types::test_utils::validator_set(
        &accord_types::test_utils::keypairs("strangers", 4)
            .iter()
            .map(|k| (k, "eu", 10))
            .collect::<Vec<_>>(),
        accord_types::QuorumRule::Global,
    )
    .unwrap();
    assert!(matches!(
        verify_event_proof(&proof, &chain_id, &strangers),
        Err(ProofError::ValidatorSet { .. })
    ));
}

#[tokio::test]
async fn a_state_proof_verifies_alone_and_not_once_tampered_with() {
    let fixture = Fixture::new().await;
    history(&fixture);
    let client = fixture.http();
    let chain_id = fixture.node.chain_id();
    let validators = fixture.node.validators().clone();

    let proof = client
        .state_proof(StateTarget::Proposal { id: ProposalId(1) })
        .await
        .unwrap();
    assert_eq!(proof.header.height, Height(3));
    match verify_state_proof(&proof, &chain_id, &validators).unwrap() {
        Record::Proposal(Some(state)) => assert_eq!(state.id, ProposalId(1)),
        other => panic!("{other:?}"),
    }
    let nonce = client
        .state_proof(StateTarget::Nonce {
            key: key("author").public(),
        })
        .await
        .unwrap();
    assert_eq!(
        verify_state_proof(&nonce, &chain_id, &validators).unwrap(),
        Record::Nonce(2)
    );
    let absent = client
        .state_proof(StateTarget::Proposal { id: ProposalId(77) })
        .await
        .unwrap();
    assert_eq!(
        verify_state_proof(&absent, &chain_id, &validators).unwrap(),
        Record::Proposal(None)
    );
    for target in [
        StateTarget::Params,
        StateTarget::Validators,
        StateTarget::Account {
            key: key("eu-voter-1").public(),
        },
    ] {
        let proof = client.state_proof(target.clone()).await.unwrap();
        verify_state_proof(&proof, &chain_id, &validators)
            .unwrap_or_else(|e| panic!("{target:?}: {e}"));
    }

    let mut path = proof.clone();
    flip(&mut path.proof.siblings[0]);
    assert!(matches!(
        verify_state_proof(&path, &chain_id, &validators),
        Err(ProofError::StatePath { .. })
    ));
    let mut header = proof.clone();
    flip(&mut header.header.state_root);
    assert!(matches!(
        verify_state_proof(&header, &chain_id, &validators),
        Err(ProofError::Certificate { .. })
    ));
    let mut certificate = proof.clone();
    certificate.certificate.signatures.truncate(2);
    assert!(matches!(
        verify_state_proof(&certificate, &chain_id, &validators),
        Err(ProofError::Certificate { .. })
    ));
    let mut target = proof.clone();
    target.target = StateTarget::Proposal { id: ProposalId(2) };
    assert!(matches!(
        verify_state_proof(&target, &chain_id, &validators),
        Err(ProofError::WrongKey { .. })
    ));
    let mut value = proof.clone();
    if let accord_state::Terminal::Value { value } = &mut value.proof.terminal {
        value[3] ^= 1;
    }
    assert!(verify_state_proof(&value, &chain_id, &validators).is_err());
}
