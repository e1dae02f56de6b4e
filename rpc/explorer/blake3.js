// BLAKE3 (hash mode, 32-byte output) over a whole input held in memory.
// The algorithm of the BLAKE3 specification: 1 KiB chunks of 64-byte blocks, each
// compressed in 7 rounds; chunks are the leaves of a binary tree whose left subtrees
// hold the largest power of two of chunks; the root is compressed with the ROOT flag.

const IV = new Uint32Array([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);
const PERMUTATION = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];
const CHUNK_START = 1;
const CHUNK_END = 2;
const PARENT = 4;
const ROOT = 8;
const BLOCK_LEN = 64;
const CHUNK_LEN = 1024;

const rotr = (x, n) => (x >>> n) | (x << (32 - n));

function g(s, a, b, c, d, x, y) {
  s[a] = (s[a] + s[b] + x) | 0;
  s[d] = rotr(s[d] ^ s[a], 16);
  s[c] = (s[c] + s[d]) | 0;
  s[b] = rotr(s[b] ^ s[c], 12);
  s[a] = (s[a] + s[b] + y) | 0;
  s[d] = rotr(s[d] ^ s[a], 8);
  s[c] = (s[c] + s[d]) | 0;
  s[b] = rotr(s[b] ^ s[c], 7);
}

/** The 16-word output of the compression function. */
function compress(cv, block, counter, blockLen, flags) {
  const s = new Uint32Array(16);
  s.set(cv, 0);
  s.set(IV.subarray(0, 4), 8);
  s[12] = counter % 0x100000000;
  s[13] = Math.floor(counter / 0x100000000);
  s[14] = blockLen;
  s[15] = flags;
  let m = block;
  for (let round = 0; round < 7; round++) {
    g(s, 0, 4, 8, 12, m[0], m[1]);
    g(s, 1, 5, 9, 13, m[2], m[3]);
    g(s, 2, 6, 10, 14, m[4], m[5]);
    g(s, 3, 7, 11, 15, m[6], m[7]);
    g(s, 0, 5, 10, 15, m[8], m[9]);
    g(s, 1, 6, 11, 12, m[10], m[11]);
    g(s, 2, 7, 8, 13, m[12], m[13]);
    g(s, 3, 4, 9, 14, m[14], m[15]);
    m = Uint32Array.from(PERMUTATION, (i) => m[i]);
  }
  for (let i = 0; i < 8; i++) {
    s[i] ^= s[i + 8];
    s[i + 8] ^= cv[i];
  }
  return s;
}

/** A block of up to 64 bytes as 16 little-endian words, zero-padded. */
function words(bytes) {
  const padded = new Uint8Array(BLOCK_LEN);
  padded.set(bytes);
  const view = new DataView(padded.buffer);
  return Uint32Array.from({ length: 16 }, (_, i) => view.getUint32(i * 4, true));
}

/** What a node compresses last: finalized as a chaining value, or as the root. */
class Output {
  constructor(cv, block, counter, blockLen, flags) {
    Object.assign(this, { cv, block, counter, blockLen, flags });
  }
  chainingValue() {
    return compress(this.cv, this.block, this.counter, this.blockLen, this.flags).subarray(0, 8);
  }
  rootBytes() {
    const s = compress(this.cv, this.block, 0, this.blockLen, this.flags | ROOT);
    const out = new Uint8Array(32);
    const view = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) view.setUint32(i * 4, s[i], true);
    return out;
  }
}

/** One chunk (at most 1 KiB) with its index: every block but the last compressed. */
function chunkOutput(chunk, index) {
  let cv = IV;
  const blocks = Math.max(1, Math.ceil(chunk.length / BLOCK_LEN));
  for (let b = 0; b < blocks; b++) {
    const block = chunk.subarray(b * BLOCK_LEN, (b + 1) * BLOCK_LEN);
    const flags = (b === 0 ? CHUNK_START : 0) | (b === blocks - 1 ? CHUNK_END : 0);
    if (b === blocks - 1) return new Output(cv, words(block), index, block.length, flags);
    cv = compress(cv, words(block), index, BLOCK_LEN, flags).subarray(0, 8);
  }
  throw new Error('unreachable');
}

/** The subtree over `input`, whose first chunk has index `first`. */
function subtree(input, first) {
  if (input.length <= CHUNK_LEN) return chunkOutput(input, first);
  // The left subtree: the largest power of two of whole chunks that leaves some input.
  let leftChunks = 1;
  while ((leftChunks * 2) * CHUNK_LEN < input.length) leftChunks *= 2;
  const split = leftChunks * CHUNK_LEN;
  const left = subtree(input.subarray(0, split), first).chainingValue();
  const right = subtree(input.subarray(split), first + leftChunks).chainingValue();
  const block = new Uint32Array(16);
  block.set(left, 0);
  block.set(right, 8);
  return new Output(IV, block, 0, BLOCK_LEN, PARENT);
}

/** The 32-byte BLAKE3 hash of `input` (a Uint8Array). */
export function blake3(input) {
  return subtree(input, 0).rootBytes();
}
