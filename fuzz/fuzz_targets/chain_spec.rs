#![no_main]

use accord_chain_spec::ChainSpec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(spec) = ChainSpec::from_json(text) else {
        return;
    };
    // What is accepted is written back as JSON that reads to the same spec and genesis.
    let again = ChainSpec::from_json(&spec.to_json_pretty()).expect("a written spec reads back");
    assert_eq!(again, spec, "chain spec JSON round trip");
    assert_eq!(again.genesis_hash(), spec.genesis_hash());
    // Borsh decoding validates again and gives the same spec.
    let bytes = borsh::to_vec(&spec).expect("encode");
    let decoded: ChainSpec = borsh::from_slice(&bytes).expect("a valid spec decodes");
    assert_eq!(decoded, spec, "chain spec borsh round trip");
});
