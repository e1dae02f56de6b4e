// Event proofs checked in the browser, trusting no node: the receipt is encoded
// (borsh) and hashed, its Merkle path walked to the header's receipts root, the header
// hashed, and the commit certificate's ed25519 signatures checked against a validator
// set given by the caller. The same checks, in the same order, as `accord_rpc::verify`;
// docs/RPC.md ("Proofs") describes the bytes.

import { blake3 } from './blake3.js';

/** A failed check: `check` names it, `message` says what differed. */
export class ProofError extends Error {
  constructor(check, message) {
    super(message);
    this.check = check;
  }
}

const utf8 = new TextEncoder();

export function fromHex(text, length) {
  const hex = String(text).replace(/^0x/, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new ProofError('encoding', `not hex: ${text}`);
  const bytes = Uint8Array.from(hex.match(/../g) || [], (b) => parseInt(b, 16));
  if (length !== undefined && bytes.length !== length) {
    throw new ProofError('encoding', `${text} is ${bytes.length} bytes, not ${length}`);
  }
  return bytes;
}

export function toHex(bytes) {
  return '0x' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** H(tag, data) = blake3(len(tag) ‖ tag ‖ data). */
export function hash(tag, ...parts) {
  const t = utf8.encode(tag);
  return blake3(concat([Uint8Array.of(t.length), t, ...parts]));
}

const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

function compareBytes(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** A borsh writer for the types proofs carry. */
class Borsh {
  constructor() {
    this.parts = [];
  }
  u8(v) {
    this.parts.push(Uint8Array.of(v));
    return this;
  }
  uint(v, bytes) {
    const out = new Uint8Array(bytes);
    let n = BigInt(v);
    if (n < 0n || n >= 1n << BigInt(bytes * 8)) throw new ProofError('encoding', `${v} is out of range`);
    for (let i = 0; i < bytes; i++, n >>= 8n) out[i] = Number(n & 0xffn);
    this.parts.push(out);
    return this;
  }
  u16(v) { return this.uint(v, 2); }
  u32(v) { return this.uint(v, 4); }
  u64(v) { return this.uint(v, 8); }
  fixed(hex, length) {
    this.parts.push(fromHex(hex, length));
    return this;
  }
  hash(hex) { return this.fixed(hex, 32); }
  string(s) {
    const bytes = utf8.encode(s);
    this.u32(bytes.length);
    this.parts.push(bytes);
    return this;
  }
  vec(items, each) {
    this.u32(items.length);
    items.forEach((item) => each(this, item));
    return this;
  }
  variant(names, name, what) {
    const index = names.indexOf(name);
    if (index < 0) throw new ProofError('encoding', `unknown ${what} ${JSON.stringify(name)}`);
    return this.u8(index);
  }
  bytes() {
    return concat(this.parts);
  }
}

// Enum variants in declaration order (their borsh index).
const KINDS = ['pipeline_action', 'infrastructure_change', 'documentation_change', 'roadmap_change', 'governance_change'];
const TIERS = ['low', 'medium', 'high', 'critical'];
const CHOICES = ['yes', 'no', 'abstain', 'veto'];
const STATUSES = ['voting', 'approved', 'queued', 'executing', 'succeeded', 'rejected', 'vetoed', 'expired',
  'cancelled', 'failed', 'rolling_back', 'rolled_back', 'emergency_executed', 'ratified', 'unratified'];
const EXECUTION_OUTCOMES = ['succeeded', 'failed', 'rolled_back'];
const ERROR_CODES = ['wrong_chain', 'bad_signature', 'bad_nonce', 'unauthorized', 'unknown_proposal',
  'invalid_status', 'invalid_payload', 'unknown_region', 'dependency_failed', 'not_claimed',
  'digest_mismatch', 'idempotency_mismatch', 'frozen', 'limit_exceeded'];
const EVENTS = ['proposal_submitted', 'vote_cast', 'status_changed', 'execution_requested',
  'execution_claimed', 'execution_reported', 'rollback_requested', 'governance_changed',
  'validator_set_change_scheduled', 'evidence_recorded'];

function encodeEvent(w, e) {
  w.variant(EVENTS, e.type, 'event type');
  switch (e.type) {
    case 'proposal_submitted':
      w.u64(e.proposal).variant(KINDS, e.kind, 'kind').variant(TIERS, e.tier, 'tier');
      w.vec(e.regions, (w, r) => w.string(r)).u64(e.voting_ends);
      break;
    case 'vote_cast':
      w.u64(e.proposal).string(e.region).hash(e.voter).variant(CHOICES, e.choice, 'vote');
      break;
    case 'status_changed':
      w.u64(e.proposal).variant(STATUSES, e.status.status, 'status');
      if (e.status.status === 'executing') w.u16(e.status.phase);
      w.string(e.reason);
      break;
    case 'execution_requested':
      w.u64(e.proposal).string(e.region).u16(e.phase).hash(e.payload_digest).hash(e.idempotency_key);
      break;
    case 'execution_claimed':
      w.u64(e.proposal).string(e.region).u16(e.phase).hash(e.agent).u64(e.lease_expires);
      break;
    case 'execution_reported':
      w.u64(e.proposal).string(e.region).u16(e.phase).hash(e.agent);
      w.variant(EXECUTION_OUTCOMES, e.outcome.type, 'execution outcome');
      if (e.outcome.type === 'failed') w.string(e.outcome.reason);
      break;
    case 'rollback_requested':
      w.u64(e.proposal).string(e.region).hash(e.idempotency_key);
      break;
    case 'governance_changed':
      w.u64(e.proposal);
      break;
    case 'validator_set_change_scheduled':
      w.u64(e.proposal).u64(e.effective_height);
      break;
    case 'evidence_recorded':
      w.hash(e.validator).u64(e.height);
      break;
  }
}

/** borsh(Receipt). */
export function encodeReceipt(r) {
  const w = new Borsh();
  w.variant(['transaction', 'end_of_block'], r.source.type, 'receipt source');
  if (r.source.type === 'transaction') w.hash(r.source.hash);
  w.variant(['success', 'failed'], r.outcome.result, 'outcome');
  if (r.outcome.result === 'failed') w.variant(ERROR_CODES, r.outcome.code, 'error code').string(r.outcome.message);
  w.vec(r.events, encodeEvent);
  return w.bytes();
}

/** borsh(Header). */
export function encodeHeader(h) {
  const w = new Borsh().string(h.chain_id).u64(h.height).hash(h.parent_hash).u64(h.timestamp);
  w.fixed(h.proposer, 32);
  for (const field of ['transactions_root', 'evidence_root', 'state_root', 'receipts_root',
    'validator_set_hash', 'last_commit_hash']) {
    w.hash(h[field]);
  }
  return w.bytes();
}

/**
 * A validator set from the shape `chain_getValidators` answers with (validators grouped
 * by region, powers as decimal strings): `{rule, validators: [{name, region, key, power}]}`
 * with the validators in key order, as the chain orders them.
 */
export function validatorSet(view) {
  const validators = view.regions.flatMap((r) =>
    r.validators.map((v) => ({ name: v.name, region: r.region, key: v.key, keyBytes: fromHex(v.key, 32), power: BigInt(v.power) })));
  validators.sort((a, b) => compareBytes(a.keyBytes, b.keyBytes));
  return { rule: view.rule, validators };
}

/** H("accord/validator-set", borsh(set)). */
export function validatorSetHash(set) {
  const w = new Borsh().vec(set.validators, (w, v) => w.string(v.name).string(v.region).fixed(v.key, 32).u64(v.power));
  w.variant(['global', 'regional'], set.rule, 'quorum rule');
  return hash('accord/validator-set', w.bytes());
}

/** The bytes a precommit signature covers (the tag is not length-prefixed here). */
export function precommitBytes(chainId, height, round, blockHash) {
  const w = new Borsh().string(chainId).u64(height).u32(round).u8(1 /* precommit */).u8(1 /* Some */).hash(blockHash);
  return concat([utf8.encode('accord/vote-signing/v1'), w.bytes()]);
}

/** Whether the Merkle path leads from `item` to `root` (merkle::Proof::verify). */
export function merkleVerify(path, root, item) {
  const index = BigInt(path.index);
  const count = BigInt(path.leaf_count);
  if (index >= count || path.siblings.length > 64) return false;
  let node = hash('accord/merkle-leaf', item);
  let position = index;
  let width = count;
  let next = 0;
  while (width > 1n) {
    if (position % 2n === 1n) {
      if (next >= path.siblings.length) return false;
      node = hash('accord/merkle-node', fromHex(path.siblings[next++], 32), node);
    } else if (position + 1n < width) {
      if (next >= path.siblings.length) return false;
      node = hash('accord/merkle-node', node, fromHex(path.siblings[next++], 32));
    }
    position /= 2n;
    width = (width + 1n) / 2n;
  }
  const top = hash('accord/merkle-root', new Borsh().u64(count).bytes(), node);
  return next === path.siblings.length && equal(top, root);
}

const exceedsTwoThirds = (part, whole) => part * 3n > whole * 2n;

/** The smallest power that exceeds two thirds of `whole`. */
const quorumPower = (whole) => (whole * 2n) / 3n + 1n;

const keys = new Map();

async function ed25519Verify(keyHex, signatureHex, message) {
  if (!globalThis.crypto || !crypto.subtle) {
    throw new ProofError('signatures', 'WebCrypto is unavailable: the page is not in a secure context (serve it over HTTPS or from localhost)');
  }
  let key = keys.get(keyHex);
  if (!key) {
    key = await crypto.subtle.importKey('raw', fromHex(keyHex, 32), { name: 'Ed25519' }, false, ['verify']);
    keys.set(keyHex, key);
  }
  return crypto.subtle.verify({ name: 'Ed25519' }, key, fromHex(signatureHex, 64), message);
}

/**
 * Checks that `certificate` decides `header` on `chainId` under `set` (from
 * `validatorSet`). Returns the block hash and how the signatures reached the quorum.
 */
export async function verifyHeader(header, certificate, chainId, set) {
  if (header.chain_id !== chainId) {
    throw new ProofError('chain', `the header is of chain ${header.chain_id}, not ${chainId}`);
  }
  const setHash = validatorSetHash(set);
  if (!equal(setHash, fromHex(header.validator_set_hash, 32))) {
    throw new ProofError('validator set', `the header names validator set ${header.validator_set_hash}, not the trusted set ${toHex(setHash)}`);
  }
  const blockHash = hash('accord/header', encodeHeader(header));
  if (certificate.height !== header.height) {
    throw new ProofError('certificate', `the certificate is for height ${certificate.height}, not ${header.height}`);
  }
  if (!equal(fromHex(certificate.block_hash, 32), blockHash)) {
    throw new ProofError('certificate', `the certificate is for block ${certificate.block_hash}, the header hashes to ${toHex(blockHash)}`);
  }
  const byKey = new Map(set.validators.map((v) => [v.key.toLowerCase(), v]));
  const total = set.validators.reduce((n, v) => n + v.power, 0n);
  const regions = new Map();
  for (const v of set.validators) regions.set(v.region, { total: (regions.get(v.region)?.total || 0n) + v.power, signed: 0n });
  let signed = 0n;
  let previous = null;
  for (const s of certificate.signatures) {
    const v = byKey.get(s.validator.toLowerCase());
    if (!v) throw new ProofError('signatures', `signer ${s.validator} is not in the validator set`);
    if (previous && compareBytes(previous, v.keyBytes) >= 0) {
      throw new ProofError('signatures', 'signatures are not in strictly increasing signer order');
    }
    previous = v.keyBytes;
    signed += v.power;
    regions.get(v.region).signed += v.power;
  }
  if (!exceedsTwoThirds(signed, total)) {
    throw new ProofError('quorum', `the signers hold ${signed} of ${total} power, not more than two thirds`);
  }
  if (set.rule === 'regional') {
    for (const [region, r] of regions) {
      if (!exceedsTwoThirds(r.signed, r.total)) {
        throw new ProofError('quorum', `region ${region}: the signers hold ${r.signed} of ${r.total} power, not more than two thirds`);
      }
    }
  }
  const message = precommitBytes(chainId, certificate.height, certificate.round, certificate.block_hash);
  for (const s of certificate.signatures) {
    if (!(await ed25519Verify(s.validator, s.signature, message))) {
      throw new ProofError('signatures', `the signature of ${byKey.get(s.validator.toLowerCase()).name} does not verify`);
    }
  }
  const equalPowers = set.validators.every((v) => v.power === set.validators[0].power);
  const quorum = quorumPower(total);
  return {
    blockHash: toHex(blockHash),
    signatures: certificate.signatures.length,
    validators: set.validators.length,
    signedPower: signed.toString(),
    totalPower: total.toString(),
    // Validators needed when every one holds the same power; else the power needed.
    quorum: equalPowers ? Number((quorum + set.validators[0].power - 1n) / set.validators[0].power) : null,
    quorumPower: quorum.toString(),
    rule: set.rule,
  };
}

export function parseCursor(text) {
  const m = /^(\d+):(\d+):(\d+)$/.exec(String(text));
  if (!m) throw new ProofError('cursor', `${text} is not a cursor height:receipt:event`);
  return { height: Number(m[1]), receipt: Number(m[2]), event: Number(m[3]) };
}

/**
 * Verifies an event proof (`gov_getEventProof`) against the chain id and the validator
 * set (`validatorSet(view)`) the caller trusts. Returns the event and the certificate's
 * figures; throws a ProofError naming the failed check.
 */
export async function verifyEventProof(proof, chainId, set) {
  const cursor = parseCursor(proof.cursor);
  if (proof.header.height !== cursor.height) {
    throw new ProofError('height', `the header is at height ${proof.header.height}, the proof claims ${cursor.height}`);
  }
  const certificate = await verifyHeader(proof.header, proof.certificate, chainId, set);
  if (Number(proof.path.index) !== cursor.receipt) {
    throw new ProofError('receipt index', `the path proves receipt ${proof.path.index}, the cursor names receipt ${cursor.receipt}`);
  }
  const receiptHash = hash('accord/receipt', encodeReceipt(proof.receipt));
  if (!merkleVerify(proof.path, fromHex(proof.header.receipts_root, 32), receiptHash)) {
    throw new ProofError('receipt path', `the receipt's Merkle path (index ${proof.path.index}) does not lead to the receipts root ${proof.header.receipts_root}`);
  }
  const event = proof.receipt.events[cursor.event];
  if (!event) {
    throw new ProofError('event', `the receipt holds ${proof.receipt.events.length} events; the cursor names event ${cursor.event}`);
  }
  return { event, receiptHash: toHex(receiptHash), ...certificate };
}

/** The words shown for a verified proof. */
export function describe(result) {
  const quorum = result.quorum !== null ? `quorum ${result.quorum}` : `quorum ${result.quorumPower} of ${result.totalPower} power`;
  return `verified ✓ (${result.signatures} of ${result.validators} signatures, ${quorum})`;
}
