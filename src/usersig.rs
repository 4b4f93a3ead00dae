//! UserSig tickets: sign and verify Tencent Cloud Chat style UserSigs
//! (the TLSSigAPIv2 format), so clients written for Tencent's SDKs can log in
//! to groupdeck with a ticket minted by `groupdeck usersig` or by Tencent's own
//! reference libraries.
//!
//! A ticket is `base64url'(zlib(JSON))`, where `base64url'` is standard
//! base64 with `+` → `*`, `/` → `-` and `=` → `_`, and the JSON object holds
//! `TLS.ver` ("2.0"), `TLS.identifier`, `TLS.sdkappid`, `TLS.time`,
//! `TLS.expire`, an optional `TLS.userbuf` (base64) and `TLS.sig`: the
//! base64 HMAC-SHA256, keyed with the app's secret key taken as raw UTF-8
//! bytes, of
//!
//! ```text
//! TLS.identifier:<identifier>\n
//! TLS.sdkappid:<sdkappid>\n
//! TLS.time:<time>\n
//! TLS.expire:<expire>\n
//! TLS.userbuf:<base64 userbuf>\n      (only when a userbuf is present)
//! ```
//!
//! Verification never panics on any input: sizes are capped before and after
//! inflating, and all arithmetic is checked.

use std::fmt;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flate2::write::ZlibEncoder;
use flate2::{Compression, Decompress, FlushDecompress, Status};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Default ticket lifetime: 180 days, as in Tencent's reference libraries.
pub const DEFAULT_EXPIRE_SECS: u64 = 15_552_000;

/// How far in the future a ticket's `TLS.time` may lie (clock skew between
/// the minting machine and this server).
pub const MAX_CLOCK_SKEW_SECS: u64 = 300;

/// Longest UserSig string accepted; real tickets are a few hundred bytes.
const MAX_USERSIG_LEN: usize = 16 * 1024;

/// Most bytes a ticket may inflate to, so a zip bomb cannot eat memory.
const MAX_INFLATED_LEN: usize = 64 * 1024;

/// SHA-256 block size, the length HMAC normalises its key to.
const SHA256_BLOCK_LEN: usize = 64;

/// Why a UserSig was refused. [`SigError::code`] gives Tencent's error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    /// 70002: no ticket at all.
    #[error("UserSig is empty")]
    Empty,
    /// 70003: not a well-formed TLSSigAPIv2 ticket.
    #[error("UserSig is malformed (not a TLSSigAPIv2 ticket, or damaged in transit)")]
    Malformed,
    /// 70009: the signature does not match this server's key.
    #[error("UserSig was not signed with this server's key")]
    WrongKey,
    /// 70001: `TLS.time + TLS.expire` has passed.
    #[error("UserSig expired; mint a new one with `groupdeck usersig`")]
    Expired,
    /// 70013: the ticket names another user.
    #[error("UserSig was issued for a different user")]
    IdentifierMismatch,
    /// 70014: the ticket names another SDKAppID.
    #[error("UserSig was issued for a different SDKAppID")]
    AppIdMismatch,
}

impl SigError {
    /// Tencent Cloud Chat's numeric error code for this failure.
    pub fn code(&self) -> u32 {
        match self {
            SigError::Expired => 70001,
            SigError::Empty => 70002,
            SigError::Malformed => 70003,
            SigError::WrongKey => 70009,
            SigError::IdentifierMismatch => 70013,
            SigError::AppIdMismatch => 70014,
        }
    }
}

/// The fields of a verified ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub identifier: String,
    pub sdkappid: u64,
    /// Unix seconds at which the ticket was minted.
    pub time: u64,
    /// Lifetime in seconds from `time`.
    pub expire: u64,
    /// Opaque bytes carried in the ticket, if any.
    pub userbuf: Option<Vec<u8>>,
}

impl Ticket {
    /// Last unix second at which the ticket is still valid.
    pub fn expires_at(&self) -> u64 {
        self.time.saturating_add(self.expire)
    }
}

/// An app's SDKAppID and secret key, able to mint and check UserSigs.
///
/// `Debug` never prints the key.
#[derive(Clone)]
pub struct SigKey {
    sdkappid: u64,
    /// HMAC-SHA256 already keyed with the secret key; cloned for each use.
    mac: Hmac<Sha256>,
}

impl fmt::Debug for SigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigKey")
            .field("sdkappid", &self.sdkappid)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl SigKey {
    /// `key` is the secret key string as shown in Tencent's console (or made
    /// by [`generate_key`]); its UTF-8 bytes are the HMAC key, it is not
    /// hex-decoded.
    pub fn new(sdkappid: u64, key: impl Into<String>) -> Self {
        let key: String = key.into();
        Self {
            sdkappid,
            mac: keyed_hmac(key.as_bytes()),
        }
    }

    pub fn sdkappid(&self) -> u64 {
        self.sdkappid
    }

    /// Mint a ticket for `identifier`, valid for `expire_secs` from now.
    pub fn sign(&self, identifier: &str, expire_secs: u64) -> String {
        self.sign_at(identifier, expire_secs, unix_now(), None)
    }

    /// Mint a ticket as if the time were `now` (unix seconds), optionally
    /// carrying `userbuf`.
    pub fn sign_at(
        &self,
        identifier: &str,
        expire_secs: u64,
        now: u64,
        userbuf: Option<&[u8]>,
    ) -> String {
        let userbuf_b64 = userbuf.map(|b| STANDARD.encode(b));
        let sig = self.hmac(identifier, now, expire_secs, userbuf_b64.as_deref());

        let mut doc = Map::new();
        doc.insert("TLS.ver".into(), Value::from("2.0"));
        doc.insert("TLS.identifier".into(), Value::from(identifier));
        doc.insert("TLS.sdkappid".into(), Value::from(self.sdkappid));
        doc.insert("TLS.expire".into(), Value::from(expire_secs));
        doc.insert("TLS.time".into(), Value::from(now));
        if let Some(b64) = userbuf_b64 {
            doc.insert("TLS.userbuf".into(), Value::from(b64));
        }
        doc.insert("TLS.sig".into(), Value::from(STANDARD.encode(sig)));
        let json = Value::Object(doc).to_string();

        let compressed = zlib_compress(json.as_bytes());
        STANDARD
            .encode(compressed)
            .chars()
            .map(|c| match c {
                '+' => '*',
                '/' => '-',
                '=' => '_',
                c => c,
            })
            .collect()
    }

    /// Verify `usersig` at the current time. With `expected_user` set, the
    /// ticket must name that user; either way the ticket's identifier is in
    /// the returned [`Ticket`].
    pub fn verify(&self, usersig: &str, expected_user: Option<&str>) -> Result<Ticket, SigError> {
        self.verify_at(usersig, expected_user, unix_now())
    }

    /// Verify `usersig` as if the time were `now` (unix seconds).
    ///
    /// Checks, in order: empty (70002); decoding and format (70003);
    /// `TLS.ver` (70003); SDKAppID (70014); identifier (70013); signature
    /// (70009); `TLS.time` more than [`MAX_CLOCK_SKEW_SECS`] ahead of `now`
    /// (70003); expiry, valid while `now <= time + expire` (70001).
    pub fn verify_at(
        &self,
        usersig: &str,
        expected_user: Option<&str>,
        now: u64,
    ) -> Result<Ticket, SigError> {
        if usersig.is_empty() {
            return Err(SigError::Empty);
        }
        let doc = decode_document(usersig).ok_or(SigError::Malformed)?;
        let fields = Fields::from_document(&doc).ok_or(SigError::Malformed)?;

        if fields.ver != "2.0" {
            return Err(SigError::Malformed);
        }
        if fields.sdkappid != self.sdkappid {
            return Err(SigError::AppIdMismatch);
        }
        if expected_user.is_some_and(|expected| fields.identifier != expected) {
            return Err(SigError::IdentifierMismatch);
        }

        let claimed = STANDARD
            .decode(fields.sig)
            .map_err(|_| SigError::Malformed)?;
        let computed = self.hmac(
            fields.identifier,
            fields.time,
            fields.expire,
            fields.userbuf_b64,
        );
        if !bool::from(computed.as_slice().ct_eq(claimed.as_slice())) {
            return Err(SigError::WrongKey);
        }

        if fields.time > now.saturating_add(MAX_CLOCK_SKEW_SECS) {
            return Err(SigError::Malformed);
        }
        let expires_at = fields
            .time
            .checked_add(fields.expire)
            .ok_or(SigError::Malformed)?;
        if now > expires_at {
            return Err(SigError::Expired);
        }

        Ok(Ticket {
            identifier: fields.identifier.to_owned(),
            sdkappid: fields.sdkappid,
            time: fields.time,
            expire: fields.expire,
            userbuf: fields.userbuf,
        })
    }

    /// HMAC-SHA256 over the TLSSigAPIv2 text to sign.
    fn hmac(&self, identifier: &str, time: u64, expire: u64, userbuf_b64: Option<&str>) -> Vec<u8> {
        let mut text = format!(
            "TLS.identifier:{identifier}\nTLS.sdkappid:{}\nTLS.time:{time}\nTLS.expire:{expire}\n",
            self.sdkappid
        );
        if let Some(b64) = userbuf_b64 {
            text.push_str("TLS.userbuf:");
            text.push_str(b64);
            text.push('\n');
        }
        let mut mac = self.mac.clone();
        mac.update(text.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

/// A new random secret key: 64 lowercase hex characters (32 random bytes),
/// shaped like the keys Tencent's console hands out.
pub fn generate_key() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes: [u8; 32] = rand::random();
    let mut out = String::with_capacity(64);
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

/// The ticket's JSON fields, borrowed from the parsed document.
struct Fields<'a> {
    ver: &'a str,
    identifier: &'a str,
    sdkappid: u64,
    time: u64,
    expire: u64,
    sig: &'a str,
    userbuf_b64: Option<&'a str>,
    userbuf: Option<Vec<u8>>,
}

impl<'a> Fields<'a> {
    fn from_document(doc: &'a Value) -> Option<Self> {
        let obj = doc.as_object()?;
        let userbuf_b64 = match obj.get("TLS.userbuf") {
            None => None,
            Some(v) => Some(v.as_str()?),
        };
        let userbuf = match userbuf_b64 {
            None => None,
            Some(b64) => Some(STANDARD.decode(b64).ok()?),
        };
        Some(Self {
            ver: obj.get("TLS.ver")?.as_str()?,
            identifier: obj.get("TLS.identifier")?.as_str()?,
            sdkappid: obj.get("TLS.sdkappid")?.as_u64()?,
            time: obj.get("TLS.time")?.as_u64()?,
            expire: obj.get("TLS.expire")?.as_u64()?,
            sig: obj.get("TLS.sig")?.as_str()?,
            userbuf_b64,
            userbuf,
        })
    }
}

/// Undo the URL substitution, base64-decode, inflate and parse.
fn decode_document(usersig: &str) -> Option<Value> {
    if usersig.len() > MAX_USERSIG_LEN {
        return None;
    }
    let b64: String = usersig
        .chars()
        .map(|c| match c {
            '*' => '+',
            '-' => '/',
            '_' => '=',
            c => c,
        })
        .collect();
    let compressed = STANDARD.decode(b64).ok()?;
    let json = inflate_capped(&compressed, MAX_INFLATED_LEN)?;
    serde_json::from_slice(&json).ok()
}

/// Inflate a complete zlib stream of at most `max` bytes. `None` when the
/// stream is corrupt, truncated (no end marker and checksum) or too large.
fn inflate_capped(input: &[u8], max: usize) -> Option<Vec<u8>> {
    let mut inflater = Decompress::new(true);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let pos = usize::try_from(inflater.total_in()).ok()?;
        let rest = input.get(pos..)?;
        let (in_before, out_before) = (inflater.total_in(), inflater.total_out());
        let status = inflater
            .decompress(rest, &mut buf, FlushDecompress::None)
            .ok()?;
        let produced = inflater.total_out().checked_sub(out_before)?;
        out.extend_from_slice(buf.get(..usize::try_from(produced).ok()?)?);
        if out.len() > max {
            return None;
        }
        if status == Status::StreamEnd {
            return Some(out);
        }
        if inflater.total_in() == in_before && produced == 0 {
            // No progress: the input ended before the stream did.
            return None;
        }
    }
}

/// zlib-compress (RFC 1950). Writing into a `Vec` cannot fail, but should
/// flate2 ever report an error, fall back to an uncompressed (stored) zlib
/// stream, which every inflater accepts.
fn zlib_compress(data: &[u8]) -> Vec<u8> {
    let mut enc = ZlibEncoder::new(Vec::new(), Compression::default());
    match enc.write_all(data).and_then(|()| enc.finish()) {
        Ok(out) => out,
        Err(_) => zlib_stored(data),
    }
}

/// A zlib stream holding `data` in stored (uncompressed) deflate blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    const MAX_BLOCK: usize = 0xffff;
    let mut out = Vec::with_capacity(data.len() + data.len() / MAX_BLOCK * 5 + 11);
    out.extend_from_slice(&[0x78, 0x01]);
    let mut chunks = data.chunks(MAX_BLOCK).peekable();
    if chunks.peek().is_none() {
        // Empty input still needs one final (empty) block.
        out.extend_from_slice(&[0x01, 0x00, 0x00, 0xff, 0xff]);
    }
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        out.push(u8::from(last));
        // chunks() never yields more than MAX_BLOCK bytes.
        let len = u16::try_from(chunk.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65_521;
    let (mut a, mut b) = (1u32, 0u32);
    // 5552 bytes is the most that can be summed before `b` could overflow.
    for chunk in data.chunks(5552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

/// HMAC-SHA256 keyed with `key`, which may be of any length. The key is
/// brought to block size here as RFC 2104 says (hashed if longer than a
/// block, then zero-padded), so constructing the MAC cannot fail.
fn keyed_hmac(key: &[u8]) -> Hmac<Sha256> {
    let mut block = [0u8; SHA256_BLOCK_LEN];
    if key.len() <= SHA256_BLOCK_LEN {
        block[..key.len()].copy_from_slice(key);
    } else {
        let digest = Sha256::digest(key);
        block[..digest.len()].copy_from_slice(&digest);
    }
    <Hmac<Sha256> as KeyInit>::new(&block.into())
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: u64 = 1_400_000_000;
    const KEY: &str = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";
    const NOW: u64 = 1_700_000_000;

    fn key() -> SigKey {
        SigKey::new(APP, KEY)
    }

    fn decode_json(usersig: &str) -> Value {
        decode_document(usersig).expect("decodes")
    }

    fn encode_json(doc: &Value) -> String {
        let compressed = zlib_compress(doc.to_string().as_bytes());
        STANDARD
            .encode(compressed)
            .replace('+', "*")
            .replace('/', "-")
            .replace('=', "_")
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn round_trip() {
        let k = key();
        let sig = k.sign_at("xiaojun", DEFAULT_EXPIRE_SECS, NOW, None);
        assert!(
            sig.chars()
                .all(|c| c.is_ascii_alphanumeric() || "*-_".contains(c))
        );
        let t = k.verify_at(&sig, Some("xiaojun"), NOW + 10).expect("valid");
        assert_eq!(
            t,
            Ticket {
                identifier: "xiaojun".into(),
                sdkappid: APP,
                time: NOW,
                expire: DEFAULT_EXPIRE_SECS,
                userbuf: None,
            }
        );
        assert_eq!(t.expires_at(), NOW + DEFAULT_EXPIRE_SECS);
        // Without an expected user the identifier comes back from the ticket.
        let t = k.verify_at(&sig, None, NOW).expect("valid");
        assert_eq!(t.identifier, "xiaojun");
    }

    #[test]
    fn round_trip_with_userbuf_and_current_time() {
        let k = key();
        let buf = [0u8, 0xff, 0xfe, b'x'];
        let sig = k.sign_at("alice", 60, NOW, Some(&buf));
        let t = k.verify_at(&sig, Some("alice"), NOW).expect("valid");
        assert_eq!(t.userbuf.as_deref(), Some(&buf[..]));

        let sig = k.sign("bob", 3600);
        let t = k.verify(&sig, Some("bob")).expect("valid now");
        assert_eq!(t.expire, 3600);
    }

    #[test]
    fn ticket_json_matches_spec() {
        let sig = key().sign_at("xiaojun", 86400, NOW, Some(b"abc"));
        let doc = decode_json(&sig);
        assert_eq!(doc["TLS.ver"], "2.0");
        assert_eq!(doc["TLS.identifier"], "xiaojun");
        assert_eq!(doc["TLS.sdkappid"], APP);
        assert_eq!(doc["TLS.time"], NOW);
        assert_eq!(doc["TLS.expire"], 86400);
        assert_eq!(doc["TLS.userbuf"], "YWJj");
        // Same text-to-sign the reference implementations use.
        let text = format!(
            "TLS.identifier:xiaojun\nTLS.sdkappid:{APP}\nTLS.time:{NOW}\nTLS.expire:86400\nTLS.userbuf:YWJj\n"
        );
        let mut mac = keyed_hmac(KEY.as_bytes());
        mac.update(text.as_bytes());
        assert_eq!(doc["TLS.sig"], STANDARD.encode(mac.finalize().into_bytes()));
        let without = decode_json(&key().sign_at("xiaojun", 86400, NOW, None));
        assert!(without.get("TLS.userbuf").is_none());
    }

    #[test]
    fn hmac_key_normalisation_matches_rfc4231() {
        // RFC 4231 test case 2: short key.
        let mut mac = keyed_hmac(b"Jefe");
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // RFC 4231 test case 6: key longer than a block gets hashed.
        let mut mac = keyed_hmac(&[0xaa; 131]);
        mac.update(b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert_eq!(
            hex(&mac.finalize().into_bytes()),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        // Exactly one block.
        let mut a = keyed_hmac(&[7; 64]);
        let mut b = <Hmac<Sha256> as KeyInit>::new_from_slice(&[7; 64]).expect("any length");
        a.update(b"x");
        b.update(b"x");
        assert_eq!(a.finalize().into_bytes(), b.finalize().into_bytes());
    }

    #[test]
    fn empty_is_70002() {
        let err = key().verify_at("", Some("x"), NOW).unwrap_err();
        assert_eq!(err, SigError::Empty);
        assert_eq!(err.code(), 70002);
    }

    #[test]
    fn garbage_is_70003() {
        let k = key();
        for bad in [
            "x",
            "not base64 !!",
            "eJyrVgrxCdYrSy1SslJQMtIzUNJRAItkpqTmlWSmZUIkKjIT87NK82",
            "AAAA",
            &STANDARD.encode(b"plain text, not zlib"),
            &encode_json(&Value::from("a string")),
            &encode_json(&serde_json::json!([1, 2, 3])),
            &"A".repeat(MAX_USERSIG_LEN + 4),
        ] {
            assert_eq!(
                k.verify_at(bad, None, NOW),
                Err(SigError::Malformed),
                "{bad}"
            );
        }
        let sig = k.sign_at("xiaojun", 100, NOW, None);
        let truncated = &sig[..sig.len() - 8];
        assert_eq!(k.verify_at(truncated, None, NOW), Err(SigError::Malformed));
        assert_eq!(SigError::Malformed.code(), 70003);
    }

    #[test]
    fn bad_fields_are_70003() {
        let k = key();
        let good = decode_json(&k.sign_at("xiaojun", 100, NOW, None));
        // (field, new value); `None` removes the field.
        let cases: [(&str, Option<Value>); 11] = [
            ("TLS.ver", Some("1.0".into())),
            ("TLS.ver", Some(2.into())),
            ("TLS.sig", None),
            ("TLS.sig", Some("%%% not base64".into())),
            ("TLS.time", Some(NOW.to_string().into())),
            ("TLS.time", Some((-1).into())),
            ("TLS.expire", Some(1.5.into())),
            ("TLS.sdkappid", Some(APP.to_string().into())),
            ("TLS.identifier", Some(7.into())),
            ("TLS.userbuf", Some("@@@".into())),
            ("TLS.userbuf", Some(Value::Null)),
        ];
        for (field, value) in cases {
            let mut doc = good.clone();
            let obj = doc.as_object_mut().expect("object");
            match &value {
                Some(v) => obj.insert(field.into(), v.clone()),
                None => obj.remove(field),
            };
            assert_eq!(
                k.verify_at(&encode_json(&doc), None, NOW),
                Err(SigError::Malformed),
                "{field} = {value:?}"
            );
        }
    }

    #[test]
    fn wrong_key_is_70009() {
        let sig = key().sign_at("xiaojun", 100, NOW, None);
        let other = SigKey::new(APP, generate_key());
        let err = other.verify_at(&sig, Some("xiaojun"), NOW).unwrap_err();
        assert_eq!(err, SigError::WrongKey);
        assert_eq!(err.code(), 70009);

        // A forged field breaks the signature too.
        let mut doc = decode_json(&sig);
        doc["TLS.expire"] = Value::from(10_u64.pow(9));
        assert_eq!(
            key().verify_at(&encode_json(&doc), None, NOW),
            Err(SigError::WrongKey)
        );
        // So does a signature of the wrong length.
        doc["TLS.sig"] = Value::from("YWJj");
        assert_eq!(
            key().verify_at(&encode_json(&doc), None, NOW),
            Err(SigError::WrongKey)
        );
    }

    #[test]
    fn expired_is_70001_and_boundary_is_inclusive() {
        let k = key();
        let sig = k.sign_at("xiaojun", 100, NOW, None);
        assert!(k.verify_at(&sig, None, NOW + 100).is_ok());
        let err = k.verify_at(&sig, None, NOW + 101).unwrap_err();
        assert_eq!(err, SigError::Expired);
        assert_eq!(err.code(), 70001);
        // Signature is checked before expiry.
        let other = SigKey::new(APP, "other");
        assert_eq!(
            other.verify_at(&sig, None, NOW + 101),
            Err(SigError::WrongKey)
        );
    }

    #[test]
    fn future_time_beyond_skew_is_70003() {
        let k = key();
        let sig = k.sign_at("xiaojun", 100, NOW + MAX_CLOCK_SKEW_SECS, None);
        assert!(k.verify_at(&sig, None, NOW).is_ok());
        let sig = k.sign_at("xiaojun", 100, NOW + MAX_CLOCK_SKEW_SECS + 1, None);
        assert_eq!(k.verify_at(&sig, None, NOW), Err(SigError::Malformed));
    }

    #[test]
    fn overflowing_expiry_is_70003() {
        let k = key();
        let sig = k.sign_at("xiaojun", u64::MAX, NOW, None);
        assert_eq!(k.verify_at(&sig, None, NOW), Err(SigError::Malformed));
        let t = Ticket {
            identifier: String::new(),
            sdkappid: 0,
            time: 5,
            expire: u64::MAX,
            userbuf: None,
        };
        assert_eq!(t.expires_at(), u64::MAX);
    }

    #[test]
    fn identifier_mismatch_is_70013() {
        let k = key();
        let sig = k.sign_at("xiaojun", 100, NOW, None);
        let err = k.verify_at(&sig, Some("alice"), NOW).unwrap_err();
        assert_eq!(err, SigError::IdentifierMismatch);
        assert_eq!(err.code(), 70013);
        // Checked before the signature.
        assert_eq!(
            SigKey::new(APP, "other").verify_at(&sig, Some("alice"), NOW),
            Err(SigError::IdentifierMismatch)
        );
    }

    #[test]
    fn app_id_mismatch_is_70014() {
        let sig = key().sign_at("xiaojun", 100, NOW, None);
        let err = SigKey::new(APP + 1, KEY)
            .verify_at(&sig, Some("alice"), NOW)
            .unwrap_err();
        assert_eq!(err, SigError::AppIdMismatch);
        assert_eq!(err.code(), 70014);
    }

    #[test]
    fn zip_bomb_is_refused() {
        // A valid, correctly signed-looking document padded with whitespace
        // that inflates past the cap.
        let doc = decode_json(&key().sign_at("xiaojun", 100, NOW, None));
        let mut json = doc.to_string().into_bytes();
        json.resize(MAX_INFLATED_LEN + 1, b' ');
        let sig = STANDARD
            .encode(zlib_compress(&json))
            .replace('+', "*")
            .replace('/', "-")
            .replace('=', "_");
        assert!(sig.len() < MAX_USERSIG_LEN);
        assert_eq!(key().verify_at(&sig, None, NOW), Err(SigError::Malformed));
        // Right at the cap is still fine.
        json.truncate(MAX_INFLATED_LEN);
        assert_eq!(
            inflate_capped(&zlib_compress(&json), MAX_INFLATED_LEN),
            Some(json)
        );
    }

    #[test]
    fn inflate_handles_growth_and_truncation() {
        let data: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let z = zlib_compress(&data);
        assert_eq!(inflate_capped(&z, MAX_INFLATED_LEN).as_ref(), Some(&data));
        assert_eq!(inflate_capped(&z[..z.len() - 1], MAX_INFLATED_LEN), None);
        assert_eq!(inflate_capped(&z[..z.len() / 2], MAX_INFLATED_LEN), None);
        assert_eq!(inflate_capped(&z, 1000), None);
        assert_eq!(inflate_capped(&[], MAX_INFLATED_LEN), None);
    }

    #[test]
    fn stored_zlib_fallback_inflates() {
        for len in [0usize, 1, 100, 0xffff, 0x10000, 0x1_2345] {
            let data: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
            let z = zlib_stored(&data);
            assert_eq!(&z[..2], &[0x78, 0x01]);
            let mut out = Vec::new();
            let mut dec = flate2::read::ZlibDecoder::new(&z[..]);
            std::io::Read::read_to_end(&mut dec, &mut out).expect("inflates");
            assert_eq!(out, data, "len {len}");
        }
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
    }

    #[test]
    fn debug_hides_key() {
        let shown = format!("{:?}", key());
        assert!(shown.contains("1400000000"));
        assert!(!shown.contains(KEY));
        assert!(!shown.contains("5bd2"));
    }

    #[test]
    fn generated_keys_are_64_lowercase_hex_and_distinct() {
        let a = generate_key();
        let b = generate_key();
        assert_eq!(a.len(), 64);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        );
        assert_ne!(a, b);
    }

    #[test]
    fn error_messages_are_for_humans() {
        assert_eq!(
            SigError::Expired.to_string(),
            "UserSig expired; mint a new one with `groupdeck usersig`"
        );
        assert_eq!(
            SigError::WrongKey.to_string(),
            "UserSig was not signed with this server's key"
        );
        assert_eq!(SigError::Empty.to_string(), "UserSig is empty");
    }
}
