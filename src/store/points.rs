//! A judgment's points, stored compactly (issue 18): the `baseline` and `canary` arrays of
//! `data.metrics.*` leave the JSON and go into the `points` column as one zstd-compressed blob;
//! the rest of `data` (provenance, notes, errors, the grid's start and step) stays JSON. Reading
//! puts the arrays back where they were, so the `data` a caller reads is the `data` it wrote,
//! every number bit for bit.
//!
//! Each value is one kind byte and, for most, a few bits:
//! - a **decimal** value (what monitoring systems print: six significant digits are ~20 bits of
//!   information) is `m / 10^k` with `k` in 0..=22 and `|m| < 2^53`. Both are exact doubles, so
//!   the IEEE division is correctly rounded and gives back the very double whose shortest
//!   decimal that is; every value is checked by decoding it before it is taken as decimal. The
//!   kind byte is `k`; the mantissas of an array are bit-packed at the width their spread needs,
//!   either as they are or as deltas from the previous one (whichever is narrower: deltas win
//!   on smooth series, plain values on noisy ones).
//! - `null` (missing, NaN) is kind `NULL`, nothing else.
//! - any other double (`-0.0`, `1e308`, subnormals, 17-digit values) is kind `RAW`, its eight
//!   bytes kept as they are.
//!
//! An array is taken only when every element is `null` or a number held as a double (what
//! canaryd writes); anything else (an integer written by hand into an old row) stays in the
//! JSON as it was, so that nothing read back can differ from what was stored.
//!
//! Layout (before compression), all integers LEB128 varints: arrays count; per array the
//! metric's name (length, UTF-8), the side (0 baseline, 1 canary), the element count, the kind
//! bytes, then, when there are decimal values, mode (0 plain, 1 deltas), the zigzag base, the
//! bit width and the packed offsets, then the raw values (8 bytes each, little-endian). The
//! stored blob is a format byte ([`FORMAT`]) and the zstd frame.

use serde_json::{Map, Number, Value};
use std::cell::RefCell;

/// The first byte of every blob: the layout above. Another layout gets another number.
const FORMAT: u8 = 1;
/// zstd's level: the packed points barely compress further; the level matters little and 3
/// (zstd's default) is fast.
const ZSTD_LEVEL: i32 = 3;
/// Kind byte of a missing value.
const NULL: u8 = 0xFE;
/// Kind byte of a value kept as its eight bytes.
const RAW: u8 = 0xFF;
/// The largest decimal scale: 10^22 is the largest exact power of ten in a double.
const MAX_SCALE: usize = 22;
/// Mantissas below this are exact in a double.
const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
/// The sides of an observation, in their index order.
const SIDES: [&str; 2] = ["baseline", "canary"];

const POW10: [f64; MAX_SCALE + 1] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// `v` as `(k, m)` with `m / 10^k` bit-identical to `v`, the smallest such `k`; `None` when
/// there is none (`-0.0`, NaN, infinities, very large or small values, 17 digits).
fn decimal(v: f64) -> Option<(u8, i64)> {
    for (k, p) in POW10.iter().enumerate() {
        let scaled = (v * p).round();
        if scaled.is_nan() || scaled.abs() >= EXACT {
            return None;
        }
        // Checked on the integer that is stored: `-0.0` scales to `-0.0`, but stores as 0.
        let m = scaled as i64;
        if (m as f64 / p).to_bits() == v.to_bits() {
            return Some((k as u8, m));
        }
    }
    None
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Bits needed for `v` (0 for 0).
fn width_of(v: u64) -> u8 {
    (64 - v.leading_zeros()) as u8
}

/// The narrowest frame of reference of `seq`: (base, offsets' width).
fn frame(seq: &[i64]) -> (i64, u8) {
    let min = seq.iter().copied().min().unwrap_or(0);
    let max = seq.iter().copied().max().unwrap_or(0);
    (min, width_of(max.wrapping_sub(min) as u64))
}

fn pack(out: &mut Vec<u8>, seq: &[i64], base: i64, width: u8) {
    let (mut acc, mut bits) = (0u128, 0u32);
    for &v in seq {
        acc |= u128::from(v.wrapping_sub(base) as u64) << bits;
        bits += u32::from(width);
        while bits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        out.push(acc as u8);
    }
}

/// Appends one array of values (`None` is null): each decimal value at its own scale, or all
/// at the array's largest scale (deltas of a smooth series stay small only at one scale),
/// whichever compresses smaller.
pub(crate) fn encode_values(out: &mut Vec<u8>, values: &[Option<f64>]) {
    let own = encode_with(values, false);
    let chosen = match encode_with(values, true) {
        Some(common) if compressed_len(&common) < compressed_len(own.as_deref().unwrap_or(&[])) => {
            common
        }
        _ => own.unwrap_or_default(),
    };
    out.extend_from_slice(&chosen);
}

fn compressed_len(bytes: &[u8]) -> usize {
    zstd_compress(bytes).map_or(bytes.len(), |z| z.len())
}

thread_local! {
    /// One zstd context per thread, reused: a fresh one per call (`zstd::bulk::compress`) cost
    /// 18-32 µs against 10 µs for a 3 KB array, and a judgment compresses each array twice
    /// (choosing its encoding) and the whole blob once. The output is the same bytes.
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
}

/// `zstd::bulk::compress(bytes, ZSTD_LEVEL)` on this thread's reused context.
fn zstd_compress(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    COMPRESSOR.with(|cell| {
        let Ok(mut slot) = cell.try_borrow_mut() else {
            return zstd::bulk::compress(bytes, ZSTD_LEVEL);
        };
        if slot.is_none() {
            *slot = Some(zstd::bulk::Compressor::new(ZSTD_LEVEL)?);
        }
        match slot.as_mut() {
            Some(compressor) => compressor.compress(bytes),
            None => zstd::bulk::compress(bytes, ZSTD_LEVEL),
        }
    })
}

/// One encoding of `values`; `common`: every decimal value at the largest scale among them
/// (`None` when a mantissa would then be too large).
fn encode_with(values: &[Option<f64>], common: bool) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    put_varint(&mut out, values.len() as u64);
    let mut kinds = Vec::with_capacity(values.len());
    let mut mantissas = Vec::with_capacity(values.len());
    let mut raws = Vec::new();
    for v in values {
        match v.map(|x| (x, decimal(x))) {
            None => kinds.push(NULL),
            Some((_, Some((k, m)))) => {
                kinds.push(k);
                mantissas.push(m);
            }
            // NaN too: kept as its bits (a `Value` never holds one; the codec loses nothing).
            Some((x, None)) => {
                kinds.push(RAW);
                raws.push(x);
            }
        }
    }
    if common {
        let scale = kinds
            .iter()
            .copied()
            .filter(|&k| usize::from(k) <= MAX_SCALE)
            .max()?;
        let mut decimals = mantissas.iter_mut();
        for k in kinds.iter_mut().filter(|k| usize::from(**k) <= MAX_SCALE) {
            let m = decimals.next()?;
            let up = POW10[usize::from(scale - *k)];
            let scaled = *m as f64 * up;
            if scaled.is_nan() || scaled.abs() >= EXACT {
                return None;
            }
            *m *= up as i64;
            *k = scale;
        }
    }
    out.extend_from_slice(&kinds);
    if let Some((&first, rest)) = mantissas.split_first() {
        let deltas: Vec<i64> = mantissas.windows(2).map(|w| w[1] - w[0]).collect();
        let (plain_base, plain_width) = frame(&mantissas);
        let (delta_base, delta_width) = frame(&deltas);
        if delta_width < plain_width && !rest.is_empty() {
            out.push(1);
            put_varint(&mut out, zigzag(first));
            put_varint(&mut out, zigzag(delta_base));
            out.push(delta_width);
            pack(&mut out, &deltas, delta_base, delta_width);
        } else {
            out.push(0);
            put_varint(&mut out, zigzag(plain_base));
            out.push(plain_width);
            pack(&mut out, &mantissas, plain_base, plain_width);
        }
    }
    for r in raws {
        out.extend_from_slice(&r.to_bits().to_le_bytes());
    }
    Some(out)
}

/// Reads what [`encode_values`] wrote.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| format!("points blob ends early at byte {}", self.at))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(format!("points blob: varint too long at byte {}", self.at))
    }

    fn len(&mut self) -> Result<usize, String> {
        let n = self.varint()?;
        // Every element takes at least one byte: a longer count is corrupt, not a huge array.
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.bytes.len() - self.at)
            .ok_or_else(|| format!("points blob: count {n} past its end"))
    }

    fn values(&mut self) -> Result<Vec<Option<f64>>, String> {
        let n = self.len()?;
        let kinds = self.take(n)?;
        let decimals = kinds
            .iter()
            .filter(|&&k| usize::from(k) <= MAX_SCALE)
            .count();
        let mut mantissas = Vec::with_capacity(decimals);
        if decimals > 0 {
            let mode = self.byte()?;
            // Deltas: the first mantissa, then the `decimals - 1` differences packed.
            let (first, packed_count) = match mode {
                1 => (Some(unzigzag(self.varint()?)), decimals - 1),
                _ => (None, decimals),
            };
            let base = unzigzag(self.varint()?);
            let width = self.byte()?;
            if mode > 1 || width > 64 {
                return Err(format!("points blob: mode {mode}, width {width}"));
            }
            let bytes = (packed_count * usize::from(width)).div_ceil(8);
            let packed = self.take(bytes)?;
            let mask = if width == 64 {
                u64::MAX
            } else {
                (1u64 << width) - 1
            };
            let (mut acc, mut bits, mut next) = (0u128, 0u32, 0usize);
            let mut previous = first.unwrap_or(0);
            if let Some(first) = first {
                mantissas.push(first);
            }
            for _ in 0..packed_count {
                while bits < u32::from(width) {
                    acc |= u128::from(packed[next]) << bits;
                    next += 1;
                    bits += 8;
                }
                let v = base.wrapping_add((acc as u64 & mask) as i64);
                acc >>= width;
                bits -= u32::from(width);
                let m = if mode == 1 {
                    previous.wrapping_add(v)
                } else {
                    v
                };
                previous = m;
                mantissas.push(m);
            }
        }
        let mut mantissas = mantissas.into_iter();
        let mut out = Vec::with_capacity(n);
        for &k in kinds {
            out.push(match k {
                NULL => None,
                RAW => {
                    let b = self.take(8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    Some(f64::from_bits(u64::from_le_bytes(a)))
                }
                k if usize::from(k) <= MAX_SCALE => {
                    let m = mantissas.next().ok_or("points blob: mantissas short")?;
                    Some(m as f64 / POW10[usize::from(k)])
                }
                k => return Err(format!("points blob: unknown kind {k}")),
            });
        }
        Ok(out)
    }
}

/// The numbers of `array` when it can leave the JSON losslessly: every element `null` or a
/// number held as a double.
fn numbers_of(array: &[Value]) -> Option<Vec<Option<f64>>> {
    array
        .iter()
        .map(|v| match v {
            Value::Null => Some(None),
            Value::Number(n) if n.is_f64() => n.as_f64().map(Some),
            _ => None,
        })
        .collect()
}

fn compress(payload: &[u8]) -> Vec<u8> {
    let mut out = vec![FORMAT];
    // Compressing into memory fails only on allocation; then the payload is kept as it is.
    match zstd_compress(payload) {
        Ok(z) => out.extend_from_slice(&z),
        Err(_) => {
            out[0] = 0;
            out.extend_from_slice(payload);
        }
    }
    out
}

fn decompress(blob: &[u8]) -> Result<Vec<u8>, String> {
    match blob.split_first() {
        Some((&FORMAT, z)) => {
            zstd::stream::decode_all(z).map_err(|e| format!("points blob does not decompress: {e}"))
        }
        Some((0, payload)) => Ok(payload.to_vec()),
        Some((f, _)) => Err(format!("points blob of unknown format {f}")),
        None => Err("empty points blob".into()),
    }
}

/// `data` split into what stays JSON and the points blob.
pub(super) fn split(data: &Value) -> (Value, Vec<u8>) {
    let mut rest = data.clone();
    let mut payload = Vec::new();
    let mut taken: Vec<(String, u8, Vec<Option<f64>>)> = Vec::new();
    if let Some(metrics) = rest.get_mut("metrics").and_then(Value::as_object_mut) {
        for (name, observation) in metrics.iter_mut() {
            let Some(observation) = observation.as_object_mut() else {
                continue;
            };
            for (side, key) in SIDES.iter().enumerate() {
                let numbers = match observation.get(*key) {
                    Some(Value::Array(a)) => numbers_of(a),
                    _ => None,
                };
                if let Some(numbers) = numbers {
                    observation.remove(*key);
                    taken.push((name.clone(), side as u8, numbers));
                }
            }
        }
    }
    put_varint(&mut payload, taken.len() as u64);
    for (name, side, numbers) in &taken {
        put_varint(&mut payload, name.len() as u64);
        payload.extend_from_slice(name.as_bytes());
        payload.push(*side);
        encode_values(&mut payload, numbers);
    }
    (rest, compress(&payload))
}

/// `rest` with the arrays of `blob` put back: the `data` that [`split`] was given.
pub(super) fn merge(mut rest: Value, blob: &[u8]) -> Result<Value, String> {
    let payload = decompress(blob)?;
    let mut r = Reader {
        bytes: &payload,
        at: 0,
    };
    let count = r.len()?;
    for _ in 0..count {
        let n = r.len()?;
        let name = std::str::from_utf8(r.take(n)?)
            .map_err(|_| "points blob: a metric name is not UTF-8".to_string())?
            .to_string();
        let side = r.byte()?;
        let key = SIDES
            .get(usize::from(side))
            .ok_or_else(|| format!("points blob: unknown side {side}"))?;
        let values = r.values()?;
        let array = values
            .into_iter()
            .map(|v| match v {
                None => Ok(Value::Null),
                Some(v) => Number::from_f64(v)
                    .map(Value::Number)
                    .ok_or_else(|| format!("points blob: {v} in {name}.{key}")),
            })
            .collect::<Result<Vec<_>, String>>()?;
        let observation = rest
            .as_object_mut()
            .ok_or("data is not an object")?
            .entry("metrics")
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .ok_or("data.metrics is not an object")?
            .entry(name.clone())
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .ok_or_else(|| format!("data.metrics.{name} is not an object"))?;
        observation.insert((*key).to_string(), Value::Array(array));
    }
    Ok(rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode_values(bytes: &[u8]) -> Vec<Option<f64>> {
        Reader { bytes, at: 0 }.values().expect("decodes")
    }

    fn bits(values: &[Option<f64>]) -> Vec<Option<u64>> {
        values.iter().map(|v| v.map(f64::to_bits)).collect()
    }

    #[test]
    fn every_double_reads_back_bit_identical() {
        let tricky = [
            Some(0.0),
            Some(-0.0),
            None,
            Some(f64::NAN),
            Some(-f64::NAN),
            Some(f64::from_bits(0x7FF0_0000_0000_0001)), // a signalling NaN payload
            Some(f64::INFINITY),
            Some(f64::NEG_INFINITY),
            Some(1e308),
            Some(-1e308),
            Some(f64::MAX),
            Some(f64::MIN_POSITIVE),
            Some(5e-324),
            Some(-2.5e-320),
            Some(0.1 + 0.2),
            Some(123.456),
            Some(-0.000123456),
            Some(1e22),
            Some(1e23),
            Some(9_007_199_254_740_993.0),
            Some(0.30000000000000004),
            Some(12.0),
        ];
        let mut out = Vec::new();
        encode_values(&mut out, &tricky);
        assert_eq!(bits(&decode_values(&out)), bits(&tricky));
    }

    #[test]
    fn six_digit_points_take_about_three_bytes() {
        // 500 six-significant-digit values of a noisy series around 100.
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let values: Vec<Option<f64>> = (0..500)
            .map(|_| {
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                let u = (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
                let v: f64 = format!("{:.5e}", 60.0 + 80.0 * u).parse().unwrap();
                Some(v)
            })
            .collect();
        let mut out = Vec::new();
        encode_values(&mut out, &values);
        assert_eq!(bits(&decode_values(&out)), bits(&values));
        assert!(out.len() < 500 * 4, "{} bytes", out.len());
    }

    #[test]
    fn smooth_series_pack_as_deltas() {
        let values: Vec<Option<f64>> = (0..500)
            .map(|i| Some(f64::from(1_000_000 + i) / 1000.0))
            .collect();
        let mut out = Vec::new();
        encode_values(&mut out, &values);
        assert_eq!(bits(&decode_values(&out)), bits(&values));
        assert!(compressed_len(&out) < 100, "{} bytes", compressed_len(&out));
    }

    #[test]
    fn data_splits_and_merges_back_equal() {
        let data = json!({"metrics": {
            "a": {"baseline": [1.5, null, -0.0, 1e308, 5e-324, 0.1], "canary": [],
                  "provenance": {"baseline_query": "q", "canary_query": "q",
                                 "baseline_points": 6, "canary_points": 0},
                  "start": "2026-01-01T00:00:00Z", "step_seconds": 10},
            "b": {"baseline": [1, 2], "canary": [2.5], "notes": ["x"]},
            "c": {"error": "down", "baseline": [], "canary": []},
        }});
        let (rest, blob) = split(&data);
        assert!(rest["metrics"]["a"].get("baseline").is_none());
        // Integers are not doubles: kept in the JSON as written.
        assert_eq!(rest["metrics"]["b"]["baseline"], json!([1, 2]));
        let back = merge(rest, &blob).unwrap();
        assert_eq!(
            serde_json::to_string(&back).unwrap(),
            serde_json::to_string(&data).unwrap()
        );
    }

    #[test]
    fn corrupt_blobs_are_errors_not_panics() {
        let (rest, blob) =
            split(&json!({"metrics": {"a": {"baseline": [1.25, 2.5], "canary": [3.0]}}}));
        assert!(merge(rest.clone(), &[]).is_err());
        assert!(merge(rest.clone(), &[9, 1, 2]).is_err());
        let payload = decompress(&blob).unwrap();
        for cut in 0..payload.len() {
            let mut b = vec![0u8];
            b.extend_from_slice(&payload[..cut]);
            assert!(merge(rest.clone(), &b).is_err(), "cut at {cut}");
        }
    }
}
