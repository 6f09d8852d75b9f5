//! The encoders of mod_deflate (lighttpd src/mod_deflate.c
//! `mod_deflate_stream_init` and the per-library init functions): gzip and
//! deflate through zlib, brotli (the `brotli` crate, feature `brotli`) and
//! zstd (libzstd through the `zstd` crate, feature `zstd`), each over a
//! complete body in one call, with lighttpd's defaults and its use of
//! `deflate.compression-level`:
//!
//! - gzip/deflate: zlib level (`-1` = zlib's default 6);
//! - brotli: quality = the level when set, else 5 (lighttpd avoids the
//!   library's slow default 11); window 22; mode TEXT for text-like
//!   Content-Types, FONT for `font/*`; the body length as size hint;
//! - zstd: the library's default level 3; a configured level sets zstd's
//!   *strategy* (1.4.69 passes it as `ZSTD_c_strategy`).
//!
//! `deflate.params` ([`Params`]), when set, replaces all of that.

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

use super::params::Params;

/// Encodings this module knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gzip,
    Deflate,
    Brotli,
    Zstd,
}

impl Encoding {
    /// Built into this binary?
    pub fn available(self) -> bool {
        match self {
            Encoding::Gzip | Encoding::Deflate => true,
            Encoding::Brotli => cfg!(feature = "brotli"),
            Encoding::Zstd => cfg!(feature = "zstd"),
        }
    }
}

/// Compress a whole body. `level`: `deflate.compression-level` (None =
/// unset); `content_type` picks brotli's mode.
pub fn compress(
    enc: Encoding,
    level: Option<u32>,
    params: Option<&Params>,
    content_type: Option<&str>,
    data: &[u8],
) -> std::io::Result<Vec<u8>> {
    let p = params.copied().unwrap_or_else(|| from_level(level));
    match enc {
        Encoding::Gzip | Encoding::Deflate => zlib(enc == Encoding::Deflate, &p, data),
        Encoding::Brotli => brotli(&p, content_type, data),
        Encoding::Zstd => zstd(&p, data),
    }
}

/// What `deflate.compression-level` alone means for each encoder.
fn from_level(level: Option<u32>) -> Params {
    let mut p = Params::default();
    if let Some(l) = level {
        p.gzip_level = Some(l);
        p.brotli_quality = l.min(11);
        p.zstd_strategy = l.clamp(1, 9);
    }
    p
}

/// zlib's deflate with Z_FINISH in one call, as lighttpd does for a
/// complete response, so the output matches zlib byte for byte. gzip:
/// zlib's header (no name, mtime 0, OS unix).
fn zlib(zlib_format: bool, p: &Params, data: &[u8]) -> std::io::Result<Vec<u8>> {
    let level = p
        .gzip_level
        .map_or(Compression::default(), Compression::new);
    let mut c = Compress::new_with_window_bits(level, zlib_format, p.gzip_window_bits);
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    if !zlib_format {
        let xfl = match level.level() {
            9 => 2,
            1 => 4,
            _ => 0,
        };
        out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 3]);
    }
    loop {
        let consumed = c.total_in() as usize;
        let status = c
            .compress_vec(
                &data[consumed.min(data.len())..],
                &mut out,
                FlushCompress::Finish,
            )
            .map_err(std::io::Error::other)?;
        if status == Status::StreamEnd {
            break;
        }
        out.reserve(out.capacity().max(4096));
    }
    if !zlib_format {
        let mut crc = Crc::new();
        crc.update(data);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    }
    Ok(out)
}

/// Brotli's mode for a Content-Type (lighttpd `stream_br_init`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrotliMode {
    Generic,
    Text,
    Font,
}

pub fn brotli_mode(content_type: Option<&str>) -> BrotliMode {
    let Some(ct) = content_type else {
        return BrotliMode::Generic;
    };
    let app = ct.strip_prefix("application/").is_some_and(|rest| {
        ["javascript", "json", "xml"]
            .iter()
            .any(|t| rest.starts_with(t))
    });
    if ct.starts_with("text/")
        || app
        || (ct.len() > 4 && (ct.ends_with("+json") || ct.ends_with("+xml")))
    {
        BrotliMode::Text
    } else if ct.starts_with("font/") {
        BrotliMode::Font
    } else {
        BrotliMode::Generic
    }
}

#[cfg(feature = "brotli")]
fn brotli(p: &Params, content_type: Option<&str>, data: &[u8]) -> std::io::Result<Vec<u8>> {
    use brotli::enc::backward_references::BrotliEncoderMode;
    let mode = match p.brotli_mode {
        1 => BrotliMode::Text,
        2 => BrotliMode::Font,
        _ => brotli_mode(content_type),
    };
    let params = brotli::enc::BrotliEncoderParams {
        quality: p.brotli_quality as i32,
        lgwin: p.brotli_window as i32,
        size_hint: data.len(),
        mode: match mode {
            BrotliMode::Generic => BrotliEncoderMode::BROTLI_MODE_GENERIC,
            BrotliMode::Text => BrotliEncoderMode::BROTLI_MODE_TEXT,
            BrotliMode::Font => BrotliEncoderMode::BROTLI_MODE_FONT,
        },
        ..Default::default()
    };
    let mut out = Vec::with_capacity(data.len() / 3 + 64);
    brotli::enc::BrotliCompress(&mut &data[..], &mut out, &params)?;
    Ok(out)
}

#[cfg(not(feature = "brotli"))]
fn brotli(_: &Params, _: Option<&str>, _: &[u8]) -> std::io::Result<Vec<u8>> {
    Err(std::io::Error::other("built without brotli"))
}

#[cfg(feature = "zstd")]
fn zstd(p: &Params, data: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    use zstd::stream::raw::CParameter;
    use zstd::zstd_safe::Strategy;
    let level = if p.zstd_level == 0 { 3 } else { p.zstd_level };
    let mut enc =
        zstd::stream::write::Encoder::new(Vec::with_capacity(data.len() / 3 + 64), level)?;
    if p.zstd_window_log > 0 {
        enc.set_parameter(CParameter::WindowLog(p.zstd_window_log))?;
    }
    if p.zstd_strategy > 0 {
        let strategy = match p.zstd_strategy {
            1 => Strategy::ZSTD_fast,
            2 => Strategy::ZSTD_dfast,
            3 => Strategy::ZSTD_greedy,
            4 => Strategy::ZSTD_lazy,
            5 => Strategy::ZSTD_lazy2,
            6 => Strategy::ZSTD_btlazy2,
            7 => Strategy::ZSTD_btopt,
            8 => Strategy::ZSTD_btultra,
            _ => Strategy::ZSTD_btultra2,
        };
        enc.set_parameter(CParameter::Strategy(strategy))?;
    }
    enc.write_all(data)?;
    enc.finish()
}

#[cfg(not(feature = "zstd"))]
fn zstd(_: &Params, _: &[u8]) -> std::io::Result<Vec<u8>> {
    Err(std::io::Error::other("built without zstd"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn sample() -> Vec<u8> {
        b"hello hello hello hello hello hello hello".repeat(50)
    }

    #[test]
    fn zlib_formats_round_trip() {
        let data = sample();
        let gz = compress(Encoding::Gzip, None, None, None, &data).expect("gzip");
        assert_eq!(&gz[..2], &[0x1f, 0x8b]);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .expect("gunzip");
        assert_eq!(back, data);
        let z = compress(Encoding::Deflate, Some(9), None, None, &data).expect("zlib");
        let mut back = Vec::new();
        flate2::read::ZlibDecoder::new(&z[..])
            .read_to_end(&mut back)
            .expect("inflate");
        assert_eq!(back, data);
    }

    #[test]
    fn sizes_match_zlib() {
        // zlib.compress(data, 6) of this input is 1294 bytes (Python's zlib).
        let data =
            std::fs::read("/work/ref/lighttpd-1.4.69/tests/docroot/index.html").unwrap_or_default();
        if data.len() == 4348 {
            let len = |e| compress(e, None, None, None, &data).map(|v| v.len()).ok();
            assert_eq!(len(Encoding::Deflate), Some(1294));
            assert_eq!(len(Encoding::Gzip), Some(1306));
        }
        assert!(compress(Encoding::Gzip, None, None, None, b"").is_ok_and(|v| v.len() >= 18));
    }

    #[cfg(feature = "brotli")]
    #[test]
    fn brotli_round_trips_at_every_level() {
        let data = sample();
        for level in [None, Some(1), Some(9)] {
            let br =
                compress(Encoding::Brotli, level, None, Some("text/plain"), &data).expect("br");
            assert!(br.len() < data.len() / 4, "{level:?}: {}", br.len());
            let mut back = Vec::new();
            brotli::Decompressor::new(&br[..], 4096)
                .read_to_end(&mut back)
                .expect("unbrotli");
            assert_eq!(back, data);
        }
    }

    #[cfg(feature = "zstd")]
    #[test]
    fn zstd_round_trips_with_a_strategy() {
        let data = sample();
        for level in [None, Some(1), Some(9)] {
            let z = compress(Encoding::Zstd, level, None, None, &data).expect("zstd");
            assert_eq!(&z[..4], &[0x28, 0xb5, 0x2f, 0xfd], "zstd magic");
            assert_eq!(zstd::stream::decode_all(&z[..]).expect("unzstd"), data);
        }
    }

    #[test]
    fn brotli_modes_follow_the_content_type() {
        assert_eq!(brotli_mode(Some("text/html")), BrotliMode::Text);
        assert_eq!(brotli_mode(Some("application/json")), BrotliMode::Text);
        assert_eq!(brotli_mode(Some("application/ld+json")), BrotliMode::Text);
        assert_eq!(brotli_mode(Some("image/svg+xml")), BrotliMode::Text);
        assert_eq!(brotli_mode(Some("font/woff2")), BrotliMode::Font);
        assert_eq!(brotli_mode(Some("image/png")), BrotliMode::Generic);
        assert_eq!(brotli_mode(None), BrotliMode::Generic);
    }
}
