//! The single acceptance rule: ZIP-215 edge vectors through `PublicKey::verify` and
//! `crypto::verify_batch`, alone and mixed into batches of valid signatures.
//!
//! The vectors are built by hand with curve25519-dalek and sha2, so they do not
//! depend on the verifier under test:
//!
//! - every small-order point, in its 8 canonical and 6 non-canonical encodings
//!   (y ≥ p, and the sign bit set where x = 0), as public key `A` and as `R`;
//! - mixed-order public keys (`aB + T` for a torsion point `T`) with signatures
//!   computed as `R = rB`, `k = SHA-512(R ‖ A ‖ M) mod ℓ`, `s = r + k·a`;
//! - non-canonical `s` (`s + ℓ`, the top bit set), refused;
//! - public keys and `R` values that do not decompress, refused.
//!
//! Each vector carries the verdict ZIP-215 prescribes; the tests check that both
//! verification paths give exactly that verdict, wherever the vector sits in a batch.

use accord_types::crypto::{verify_batch, SignedMessage};
use accord_types::test_utils::keypairs;
use accord_types::{Error, Keypair, PublicKey, Signature};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{Identity, IsIdentity};
use sha2::{Digest, Sha512};

/// ℓ, the order of the prime-order subgroup, little-endian.
const ELL: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
];
/// p = 2^255 - 19, little-endian.
const P: [u8; 32] = [
    0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
];

/// One test vector and the verdict ZIP-215 prescribes for it.
#[derive(Debug, Clone)]
struct Vector {
    name: String,
    key: PublicKey,
    message: Vec<u8>,
    signature: Signature,
    zip215_accepts: bool,
}

impl Vector {
    fn item(&self) -> SignedMessage<'_> {
        SignedMessage {
            signer: &self.key,
            message: &self.message,
            signature: &self.signature,
        }
    }
}

/// Little-endian addition of two 256-bit numbers, wrapping.
fn add_le(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = sum as u8;
        carry = sum >> 8;
    }
    out
}

fn hash_to_scalar(parts: &[&[u8]]) -> Scalar {
    let mut h = Sha512::new();
    for part in parts {
        h.update(part);
    }
    Scalar::from_bytes_mod_order_wide(&h.finalize().into())
}

fn signature(r: &[u8; 32], s: &[u8; 32]) -> Signature {
    let mut bytes = [0u8; 64];
    bytes[..32].copy_from_slice(r);
    bytes[32..].copy_from_slice(s);
    Signature::from_bytes(bytes)
}

/// A point of order 8: the torsion component `[ℓ]P` of some curve point `P`.
fn order_eight_point() -> EdwardsPoint {
    let minus_one = Scalar::ZERO - Scalar::ONE; // ℓ - 1
    for i in 0u8..=255 {
        let Some(p) =
            CompressedEdwardsY(hash_to_scalar(&[b"torsion", &[i]]).to_bytes()).decompress()
        else {
            continue;
        };
        let t = p * minus_one + p; // [ℓ]P
        if !(t + t + t + t).is_identity() {
            return t;
        }
    }
    unreachable!("some hash decompresses to a point with an order-8 component")
}

/// The 8 small-order points, as `[i]T` for a generator `T` of the torsion subgroup.
fn torsion_points() -> Vec<EdwardsPoint> {
    let t = order_eight_point();
    let mut points = vec![EdwardsPoint::identity()];
    for _ in 1..8 {
        let next = points[points.len() - 1] + t;
        points.push(next);
    }
    points
}

/// Whether the encoding's y (without the sign bit) is at least p.
fn y_is_non_canonical(bytes: &[u8; 32]) -> bool {
    let mut y = *bytes;
    y[31] &= 0x7f;
    // Compare as little-endian integers, most significant byte first.
    for i in (0..32).rev() {
        if y[i] != P[i] {
            return y[i] > P[i];
        }
    }
    true
}

/// Every encoding of every small-order point: (encoding, canonical?).
fn small_order_encodings() -> Vec<([u8; 32], bool)> {
    let mut out = Vec::new();
    for point in torsion_points() {
        let canonical = point.compress().to_bytes();
        out.push((canonical, true));
        let x_is_zero = point == -point;
        let mut alternatives = Vec::new();
        if x_is_zero {
            // The sign bit set on an x = 0 encoding ("negative zero").
            let mut flipped = canonical;
            flipped[31] ^= 0x80;
            alternatives.push(flipped);
        }
        // y + p still fits in 255 bits only for y < 19; of the small-order points
        // that is y = 0 (the order-4 points) and y = 1 (the identity).
        let mut y = canonical;
        y[31] &= 0x7f;
        let y_plus_p = add_le(&y, &P);
        if y_plus_p[31] & 0x80 == 0 {
            let mut enc = y_plus_p;
            enc[31] |= canonical[31] & 0x80;
            alternatives.push(enc);
            if x_is_zero {
                let mut flipped = enc;
                flipped[31] ^= 0x80;
                alternatives.push(flipped);
            }
        }
        out.extend(alternatives.into_iter().map(|enc| (enc, false)));
    }
    out
}

fn non_decompressible(label: &[u8]) -> [u8; 32] {
    for i in 0u8..=255 {
        let candidate = hash_to_scalar(&[label, &[i]]).to_bytes();
        if CompressedEdwardsY(candidate).decompress().is_none() {
            return candidate;
        }
    }
    unreachable!("about half of all encodings do not decompress")
}

/// Signs by hand: `R = rB + r_torsion`, `k = H(R ‖ A ‖ M)`, `s = r + k·a`, for a
/// public key encoded as `a_bytes` whose discrete-log part is `a`.
fn sign_by_hand(
    a: Scalar,
    a_bytes: &[u8; 32],
    r: Scalar,
    r_torsion: EdwardsPoint,
    message: &[u8],
) -> Signature {
    let big_r = (EdwardsPoint::mul_base(&r) + r_torsion)
        .compress()
        .to_bytes();
    let k = hash_to_scalar(&[&big_r, a_bytes, message]);
    let s = r + k * a;
    signature(&big_r, &s.to_bytes())
}

/// Every edge vector, with its ZIP-215 verdict.
fn vectors() -> Vec<Vector> {
    let message = b"accord zip-215 vector".to_vec();
    let encodings = small_order_encodings();
    let torsion = torsion_points();
    let mut out = Vec::new();

    // 1. Small-order A and small-order R, every encoding of each, s = 0: the
    //    cofactored equation [8]R + [8k]A = [8·0]B holds, so all are accepted.
    //    The same with s = ℓ (≡ 0, but non-canonical) is refused, and with s = 1
    //    (canonical, but [8]B ≠ 0) is refused.
    let one = Scalar::ONE.to_bytes();
    for (i, (a, a_canonical)) in encodings.iter().enumerate() {
        for (j, (r, r_canonical)) in encodings.iter().enumerate() {
            let name = format!(
                "small-order A#{i}{} R#{j}{}",
                if *a_canonical { "" } else { "(non-canonical)" },
                if *r_canonical { "" } else { "(non-canonical)" }
            );
            let key = PublicKey::from_bytes(*a);
            out.push(Vector {
                name: format!("{name} s=0"),
                key,
                message: message.clone(),
                signature: signature(r, &[0; 32]),
                zip215_accepts: true,
            });
            if i == j || i == 0 || j == 0 {
                out.push(Vector {
                    name: format!("{name} s=ℓ"),
                    key,
                    message: message.clone(),
                    signature: signature(r, &ELL),
                    zip215_accepts: false,
                });
                out.push(Vector {
                    name: format!("{name} s=1"),
                    key,
                    message: message.clone(),
                    signature: signature(r, &one),
                    zip215_accepts: false,
                });
            }
        }
    }

    // 2. Small-order A with other canonical s: R = sB + T for a torsion T makes
    //    [8](sB - R - kA) = -[8]T - [8k]A = 0, accepted; s off by one is refused.
    for (i, (a, _)) in encodings.iter().enumerate() {
        for j in [i % 8, (i + 3) % 8] {
            let t = &torsion[j];
            let r = hash_to_scalar(&[b"small-order nonce", &[i as u8, j as u8]]);
            let big_r = (EdwardsPoint::mul_base(&r) + t).compress().to_bytes();
            let key = PublicKey::from_bytes(*a);
            out.push(Vector {
                name: format!("small-order A#{i} R=rB+T{j} s=r"),
                key,
                message: message.clone(),
                signature: signature(&big_r, &r.to_bytes()),
                zip215_accepts: true,
            });
            out.push(Vector {
                name: format!("small-order A#{i} R=rB+T{j} s=r+1"),
                key,
                message: message.clone(),
                signature: signature(&big_r, &(r + Scalar::ONE).to_bytes()),
                zip215_accepts: false,
            });
        }
    }

    // 3. Mixed-order keys A = aB + T with honest-looking signatures; the torsion part
    //    of kA vanishes only under the cofactor, so ZIP-215 accepts them.
    for (j, t) in torsion.iter().enumerate() {
        let a = hash_to_scalar(&[b"mixed-order key", &[j as u8]]);
        let a_bytes = (EdwardsPoint::mul_base(&a) + t).compress().to_bytes();
        let key = PublicKey::from_bytes(a_bytes);
        for (m, msg) in [b"first".as_slice(), b"second", b""].iter().enumerate() {
            let r = hash_to_scalar(&[b"mixed-order nonce", &[j as u8, m as u8]]);
            let sig = sign_by_hand(a, &a_bytes, r, EdwardsPoint::identity(), msg);
            out.push(Vector {
                name: format!("mixed-order A=aB+T{j} R=rB msg#{m}"),
                key,
                message: msg.to_vec(),
                signature: sig,
                zip215_accepts: true,
            });
            // A torsion component in R too.
            let t_r = torsion[(j + m + 1) % 8];
            let sig_tr = sign_by_hand(a, &a_bytes, r, t_r, msg);
            out.push(Vector {
                name: format!("mixed-order A=aB+T{j} R=rB+T msg#{m}"),
                key,
                message: msg.to_vec(),
                signature: sig_tr,
                zip215_accepts: true,
            });
            // The same signature with s + ℓ: same value mod ℓ, refused.
            let s: [u8; 32] = sig.as_bytes()[32..].try_into().unwrap();
            let r_bytes: [u8; 32] = sig.as_bytes()[..32].try_into().unwrap();
            out.push(Vector {
                name: format!("mixed-order A=aB+T{j} s+ℓ msg#{m}"),
                key,
                message: msg.to_vec(),
                signature: signature(&r_bytes, &add_le(&s, &ELL)),
                zip215_accepts: false,
            });
            // A different message under the same signature is refused.
            out.push(Vector {
                name: format!("mixed-order A=aB+T{j} wrong message msg#{m}"),
                key,
                message: [msg, b"!".as_slice()].concat(),
                signature: sig,
                zip215_accepts: false,
            });
        }
    }

    // 4. Ordinary keys: a valid signature, and non-canonical s variants of it.
    for (n, kp) in keypairs("zip215-ordinary", 4).iter().enumerate() {
        let sig = kp.sign(&message);
        let r: [u8; 32] = sig.as_bytes()[..32].try_into().unwrap();
        let s: [u8; 32] = sig.as_bytes()[32..].try_into().unwrap();
        out.push(Vector {
            name: format!("ordinary #{n}"),
            key: kp.public(),
            message: message.clone(),
            signature: sig,
            zip215_accepts: true,
        });
        out.push(Vector {
            name: format!("ordinary #{n} s+ℓ"),
            key: kp.public(),
            message: message.clone(),
            signature: signature(&r, &add_le(&s, &ELL)),
            zip215_accepts: false,
        });
        let mut high = s;
        high[31] |= 0x80;
        out.push(Vector {
            name: format!("ordinary #{n} s with the top bit set"),
            key: kp.public(),
            message: message.clone(),
            signature: signature(&r, &high),
            zip215_accepts: false,
        });
    }

    // 5. Encodings that are not points at all.
    let bad_key = non_decompressible(b"bad key");
    out.push(Vector {
        name: "non-decompressible key, s=0".into(),
        key: PublicKey::from_bytes(bad_key),
        message: message.clone(),
        signature: signature(&encodings[0].0, &[0; 32]),
        zip215_accepts: false,
    });
    let kp = Keypair::derive_insecure("zip215-bad-r");
    let sig = kp.sign(&message);
    let s: [u8; 32] = sig.as_bytes()[32..].try_into().unwrap();
    out.push(Vector {
        name: "non-decompressible key, real signature bytes".into(),
        key: PublicKey::from_bytes(bad_key),
        message: message.clone(),
        signature: sig,
        zip215_accepts: false,
    });
    out.push(Vector {
        name: "non-decompressible R".into(),
        key: kp.public(),
        message,
        signature: signature(&non_decompressible(b"bad R"), &s),
        zip215_accepts: false,
    });
    out
}

/// Valid signatures from distinct keys over transaction-sized messages.
fn fillers(n: usize) -> Vec<(PublicKey, Vec<u8>, Signature)> {
    keypairs("zip215-filler", n)
        .iter()
        .enumerate()
        .map(|(i, kp)| {
            let message: Vec<u8> = (0..200).map(|b| (b as u8) ^ (i as u8)).collect();
            (kp.public(), message.clone(), kp.sign(&message))
        })
        .collect()
}

fn as_items(fillers: &[(PublicKey, Vec<u8>, Signature)]) -> Vec<SignedMessage<'_>> {
    fillers
        .iter()
        .map(|(signer, message, signature)| SignedMessage {
            signer,
            message,
            signature,
        })
        .collect()
}

/// Checks a batch's result against the expected failing indices.
fn assert_batch(items: &[SignedMessage<'_>], expected_invalid: &[usize], context: &str) {
    match verify_batch(items) {
        Ok(()) => assert!(
            expected_invalid.is_empty(),
            "{context}: batch accepted, expected failures at {expected_invalid:?}"
        ),
        Err(Error::BatchInvalid { invalid, total }) => {
            assert_eq!(invalid, expected_invalid, "{context}: failing indices");
            assert_eq!(total, items.len(), "{context}: total");
        }
        Err(other) => panic!("{context}: unexpected error {other}"),
    }
}

#[test]
fn small_order_encodings_cover_all_fourteen() {
    let encodings = small_order_encodings();
    assert_eq!(encodings.len(), 14);
    let canonical: Vec<_> = encodings.iter().filter(|(_, c)| *c).collect();
    assert_eq!(canonical.len(), 8);
    let mut distinct: Vec<[u8; 32]> = encodings.iter().map(|(e, _)| *e).collect();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 14, "encodings are pairwise distinct");
    for (enc, is_canonical) in &encodings {
        let point = CompressedEdwardsY(*enc)
            .decompress()
            .expect("every small-order encoding decompresses");
        assert!(point.is_small_order(), "{enc:02x?} is small order");
        assert_eq!(point.compress().to_bytes() == *enc, *is_canonical);
        // Non-canonical encodings are y ≥ p or a sign bit on x = 0.
        if !is_canonical {
            assert!(y_is_non_canonical(enc) || point == -point);
        }
        // ZIP-215 accepts every one of them as a key.
        assert!(PublicKey::from_bytes(*enc).is_valid_point());
    }
    // The torsion subgroup: 1 identity, 1 of order 2, 2 of order 4, 4 of order 8.
    let torsion = torsion_points();
    let order = |p: &EdwardsPoint| (1u32..=8).find(|k| (p * Scalar::from(*k)).is_identity());
    let mut orders: Vec<_> = torsion.iter().map(|p| order(p).unwrap()).collect();
    orders.sort_unstable();
    assert_eq!(orders, [1, 2, 4, 4, 8, 8, 8, 8]);
}

#[test]
fn single_verification_follows_zip215() {
    let vectors = vectors();
    assert!(vectors.len() > 400, "{} vectors", vectors.len());
    assert!(vectors.iter().any(|v| v.zip215_accepts));
    assert!(vectors.iter().any(|v| !v.zip215_accepts));
    for v in &vectors {
        let verdict = v.key.verify(&v.message, &v.signature);
        assert_eq!(verdict.is_ok(), v.zip215_accepts, "{}: {verdict:?}", v.name);
        if let Err(e) = verdict {
            let expected = if v.key.is_valid_point() {
                Error::InvalidSignature { signer: v.key }
            } else {
                Error::InvalidPublicKey { key: v.key }
            };
            assert_eq!(e, expected, "{}", v.name);
        }
    }
}

#[test]
fn batch_of_one_agrees_with_single() {
    for v in vectors() {
        let single = v.key.verify(&v.message, &v.signature).is_ok();
        let expected: &[usize] = if single { &[] } else { &[0] };
        assert_batch(&[v.item()], expected, &v.name);
        assert_eq!(single, v.zip215_accepts, "{}", v.name);
    }
}

/// Every vector in batches of `size` items, `per_batch` vectors at a time among
/// valid signatures. The vectors' slots move from batch to batch and include the
/// two sides of the 256-item chunk boundary whenever the batch reaches it.
fn vectors_in_batches_of(size: usize, per_batch: usize) {
    let vectors = vectors();
    let fillers = fillers(size);
    for (batch_no, group) in vectors.chunks(per_batch).enumerate() {
        let mut slots: Vec<usize> = (0..group.len())
            .map(|n| (n * size / group.len() + batch_no * 7) % size)
            .collect();
        if size > 257 && group.len() >= 2 {
            slots[0] = 255;
            slots[1] = 256;
        }
        slots.sort_unstable();
        slots.dedup();
        // Fall back to consecutive free slots if spreading collided.
        let mut next_free = 0;
        while slots.len() < group.len() {
            while slots.contains(&next_free) {
                next_free += 1;
            }
            slots.push(next_free);
            slots.sort_unstable();
        }
        let mut items: Vec<SignedMessage<'_>> = as_items(&fillers[..size - group.len()]);
        let mut expected = Vec::new();
        for (v, &slot) in group.iter().zip(&slots) {
            items.insert(slot, v.item());
            let single = v.key.verify(&v.message, &v.signature).is_ok();
            assert_eq!(single, v.zip215_accepts, "{}", v.name);
            if !single {
                expected.push(slot);
            }
        }
        assert_eq!(items.len(), size);
        let names: Vec<&str> = group.iter().map(|v| v.name.as_str()).collect();
        assert_batch(
            &items,
            &expected,
            &format!("batch {batch_no} of size {size} with {names:?} at {slots:?}"),
        );
    }
}

#[test]
fn each_vector_in_a_batch_of_5() {
    vectors_in_batches_of(5, 1);
}

#[test]
fn each_vector_in_batches_of_300() {
    vectors_in_batches_of(300, 12);
}

#[test]
fn each_vector_in_batches_of_1000() {
    vectors_in_batches_of(1000, 40);
}

/// All vectors at once, spread through a batch of valid signatures so that some
/// chunks hold several failures, some none, and vectors sit on both sides of the
/// 256-item chunk boundary.
#[test]
fn all_vectors_in_one_batch_report_exactly_the_failures() {
    let vectors = vectors();
    for valid in [1000usize, 258, 20] {
        let fillers = fillers(valid);
        let total = valid + vectors.len();
        // Evenly spread slots for the vectors, plus the two slots around the boundary.
        let mut slots: Vec<usize> = (0..vectors.len())
            .map(|n| n * total / vectors.len())
            .collect();
        if total > 257 {
            for boundary in [255, 256] {
                if !slots.contains(&boundary) {
                    let nearest = (0..slots.len())
                        .filter(|&i| slots[i] != 255)
                        .min_by_key(|&i| slots[i].abs_diff(boundary))
                        .unwrap();
                    slots[nearest] = boundary;
                }
            }
        }
        slots.sort_unstable();
        slots.dedup();
        assert_eq!(slots.len(), vectors.len(), "distinct slots");
        let mut vector_iter = vectors.iter();
        let mut filler_iter = fillers.iter();
        let mut items = Vec::with_capacity(total);
        let mut expected = Vec::new();
        for index in 0..total {
            if slots.binary_search(&index).is_ok() {
                let v = vector_iter.next().unwrap();
                if !v.zip215_accepts {
                    expected.push(index);
                }
                items.push(v.item());
            } else {
                let (signer, message, signature) = filler_iter.next().unwrap();
                items.push(SignedMessage {
                    signer,
                    message,
                    signature,
                });
            }
        }
        assert!(!expected.is_empty());
        assert_batch(&items, &expected, &format!("all vectors in {total}"));
    }
}

#[test]
fn zip215_accepts_what_verify_strict_refuses() {
    let vectors = vectors();
    let strict = |v: &Vector| {
        ed25519_dalek::VerifyingKey::from_bytes(v.key.as_bytes())
            .and_then(|key| {
                key.verify_strict(
                    &v.message,
                    &ed25519_dalek::Signature::from_bytes(v.signature.as_bytes()),
                )
            })
            .is_ok()
    };
    // Ordinary signatures: both rules accept.
    let ordinary = vectors.iter().find(|v| v.name == "ordinary #0").unwrap();
    assert!(strict(ordinary));
    assert!(ordinary
        .key
        .verify(&ordinary.message, &ordinary.signature)
        .is_ok());

    // Small-order keys and mixed-order keys: ZIP-215 accepts, verify_strict refuses.
    for prefix in ["small-order A#0 R#0 s=0", "mixed-order A=aB+T1 R=rB msg#0"] {
        let v = vectors.iter().find(|v| v.name == prefix).unwrap();
        assert!(v.key.verify(&v.message, &v.signature).is_ok(), "{}", v.name);
        assert!(!strict(v), "verify_strict accepted {}", v.name);
    }
    let disagreements = vectors
        .iter()
        .filter(|v| v.zip215_accepts && !strict(v))
        .count();
    assert!(disagreements > 200, "{disagreements} vectors");
    // Where verify_strict accepts, ZIP-215 accepts too: it is the wider rule.
    assert!(vectors.iter().all(|v| !strict(v) || v.zip215_accepts));
}

#[test]
fn tampering_breaks_a_signature() {
    let kp = Keypair::derive_insecure("tamper");
    let message = b"change 42: deploy to production".to_vec();
    let sig = kp.sign(&message);
    assert_eq!(kp.public().verify(&message, &sig), Ok(()));

    let mut other_message = message.clone();
    other_message[0] ^= 1;
    assert!(kp.public().verify(&other_message, &sig).is_err());

    for byte in [0, 31, 32, 63] {
        let mut bytes = *sig.as_bytes();
        bytes[byte] ^= 0x01;
        assert!(
            kp.public()
                .verify(&message, &Signature::from_bytes(bytes))
                .is_err(),
            "signature byte {byte} flipped"
        );
    }

    let other = Keypair::derive_insecure("someone else").public();
    assert_eq!(
        other.verify(&message, &sig),
        Err(Error::InvalidSignature { signer: other })
    );
}

#[test]
fn empty_batch_is_ok_and_valid_batches_pass() {
    assert_eq!(verify_batch(&[]), Ok(()));
    for size in [1, 3, 4, 5, 256, 257, 513] {
        let fillers = fillers(size);
        assert_eq!(verify_batch(&as_items(&fillers)), Ok(()), "size {size}");
    }
}

#[test]
fn tampered_items_in_a_batch_are_named() {
    let mut tampered = fillers(600);
    let other = Keypair::derive_insecure("intruder").public();
    // A wrong message, a wrong signature, a wrong key, on both sides of the boundary.
    tampered[3].1.push(0);
    tampered[255].2 = tampered[256].2;
    tampered[256].0 = other;
    tampered[599].1[0] ^= 0xff;
    assert_batch(&as_items(&tampered), &[3, 255, 256, 599], "tampered");
}

/// `PublicKey::is_small_order` (the check the chain spec applies to validator and role
/// keys) against the independently built encodings: every small-order encoding is
/// weak, and so able to "sign" every message; mixed-order and ordinary keys are not.
#[test]
fn weak_key_detection_matches_the_vectors() {
    let forged = signature(&EdwardsPoint::identity().compress().to_bytes(), &[0; 32]);
    for (enc, canonical) in small_order_encodings() {
        let key = PublicKey::from_bytes(enc);
        assert!(key.is_small_order(), "{enc:02x?} (canonical: {canonical})");
        for message in [b"".as_slice(), b"any message at all"] {
            assert_eq!(key.verify(message, &forged), Ok(()));
        }
    }
    for (j, t) in torsion_points().iter().enumerate() {
        let a = hash_to_scalar(&[b"mixed-order key", &[j as u8]]);
        let mixed = PublicKey::from_bytes((EdwardsPoint::mul_base(&a) + t).compress().to_bytes());
        assert!(mixed.is_valid_point());
        assert!(!mixed.is_small_order(), "mixed-order key A = aB + T{j}");
    }
    for kp in keypairs("weak-key-control", 8) {
        assert!(!kp.public().is_small_order());
    }
    assert!(!PublicKey::from_bytes(non_decompressible(b"bad key")).is_small_order());
}
