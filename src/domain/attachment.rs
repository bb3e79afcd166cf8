//! What an uploaded file may be called and how it is typed, and pictures
//! re-encoded by the same safe decoder as profile photos
//! (docs/attachments.md).

use std::io::Cursor;
use std::panic;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use image::{DynamicImage, ExtendedColorType, ImageEncoder, ImageFormat};

use super::avatar::{accepted_format, decode, AvatarError};

/// Longest file name kept, in characters.
pub const MAX_NAME_CHARS: usize = 255;
/// Thumbnails fit within this many pixels a side.
pub const THUMBNAIL_SIDE: u32 = 480;
/// The type of every file that is not known to be safe to label otherwise.
pub const OCTET_STREAM: &str = "application/octet-stream";

/// A file name as shown and served: the last path component only, without
/// control or bidirectional-formatting characters, trimmed, at most
/// [`MAX_NAME_CHARS`] characters; `file` when nothing is left.
pub fn sanitize_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .collect();
    let trimmed: String = cleaned.trim().chars().take(MAX_NAME_CHARS).collect();
    let trimmed = trimmed.trim();
    if trimmed.is_empty() || trimmed == "." || trimmed == ".." {
        "file".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// Characters that reorder or hide text (U+202E makes `gpj.exe` look like
/// `exe.jpg`), and zero-width ones.
fn is_bidi_control(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}'
        | '\u{061C}')
}

/// The declared type when it is a well-formed `type/subtype` (lower-cased,
/// parameters dropped), else `application/octet-stream`.
pub fn declared_type(raw: Option<&str>) -> String {
    let Some(raw) = raw else {
        return OCTET_STREAM.to_owned();
    };
    let essence = raw.split(';').next().unwrap_or_default().trim();
    let token = |part: &str| {
        !part.is_empty()
            && part.len() <= 127
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match essence.split_once('/') {
        Some((kind, sub)) if token(kind) && token(sub) => essence.to_ascii_lowercase(),
        _ => OCTET_STREAM.to_owned(),
    }
}

/// The type a file that is not a picture is served with: its own, unless a
/// browser could run it or render it as a document.
pub fn served_type(content_type: &str) -> &str {
    let t = content_type;
    let (kind, sub) = t.split_once('/').unwrap_or((t, ""));
    let risky = t.contains("html")
        || t.contains("xml")
        || t.contains("svg")
        || t.contains("script")
        || matches!(kind, "multipart" | "message")
        || (kind == "text" && !matches!(sub, "plain" | "csv"))
        || kind == "image";
    if risky {
        OCTET_STREAM
    } else {
        t
    }
}

/// `Content-Disposition` for a download of a file called `name`.
pub fn disposition(name: &str) -> String {
    let mut encoded = String::with_capacity(name.len() * 3);
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("attachment; filename*=UTF-8''{encoded}")
}

/// Whether these first bytes are those of a picture (PNG, JPEG, WebP, GIF).
pub fn looks_like_picture(head: &[u8]) -> bool {
    accepted_format(head).is_ok()
}

/// A picture re-encoded without metadata, with its thumbnail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    pub bytes: Vec<u8>,
    /// `image/png` or `image/jpeg`, for the picture and its thumbnail.
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
    pub thumbnail: Vec<u8>,
}

/// Decodes a picture under the profile photos' limits (bombs refused
/// before any pixel buffer exists), applies its EXIF orientation and
/// re-encodes it and a thumbnail: JPEG as JPEG, everything else as PNG
/// (of a GIF, its first frame). No metadata survives. CPU work: call it
/// from `spawn_blocking`. Never panics.
pub fn process_picture(input: &[u8]) -> Result<Picture, AvatarError> {
    let format = accepted_format(input)?;
    panic::catch_unwind(|| render(input, format)).unwrap_or(Err(AvatarError::Undecodable))
}

fn render(input: &[u8], format: ImageFormat) -> Result<Picture, AvatarError> {
    let (mut image, orientation) = decode(input, format)?;
    image.apply_orientation(orientation);
    let (width, height) = (image.width(), image.height());
    let thumbnail = if width > THUMBNAIL_SIDE || height > THUMBNAIL_SIDE {
        image.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE)
    } else {
        image.clone()
    };
    let (content_type, bytes, thumbnail) = if format == ImageFormat::Jpeg {
        ("image/jpeg", encode_jpeg(image)?, encode_jpeg(thumbnail)?)
    } else {
        ("image/png", encode_png(image)?, encode_png(thumbnail)?)
    };
    Ok(Picture {
        bytes,
        content_type,
        width,
        height,
        thumbnail,
    })
}

fn encode_png(image: DynamicImage) -> Result<Vec<u8>, AvatarError> {
    let image = image.into_rgba8();
    let mut bytes = Vec::new();
    PngEncoder::new_with_quality(
        Cursor::new(&mut bytes),
        CompressionType::Fast,
        PngFilter::Adaptive,
    )
    .write_image(
        image.as_raw(),
        image.width(),
        image.height(),
        ExtendedColorType::Rgba8,
    )
    .map_err(|_| AvatarError::Undecodable)?;
    Ok(bytes)
}

fn encode_jpeg(image: DynamicImage) -> Result<Vec<u8>, AvatarError> {
    let image = image.into_rgb8();
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(Cursor::new(&mut bytes), 90)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            ExtendedColorType::Rgb8,
        )
        .map_err(|_| AvatarError::Undecodable)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_paths_controls_and_bidi_overrides() {
        assert_eq!(sanitize_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_name("C:\\Users\\me\\report.pdf"), "report.pdf");
        assert_eq!(sanitize_name("a\u{0}b\nc\u{7f}.txt"), "abc.txt");
        assert_eq!(sanitize_name("invoice\u{202E}fdp.exe"), "invoicefdp.exe");
        assert_eq!(sanitize_name("  spaced  "), "spaced");
        assert_eq!(sanitize_name(""), "file");
        assert_eq!(sanitize_name("dir/"), "file");
        assert_eq!(sanitize_name(".."), "file");
        assert_eq!(sanitize_name(&"é".repeat(300)).chars().count(), 255);
    }

    #[test]
    fn declared_types_must_be_well_formed() {
        assert_eq!(declared_type(Some("application/pdf")), "application/pdf");
        assert_eq!(
            declared_type(Some("Text/Plain; charset=utf-8")),
            "text/plain"
        );
        for bad in ["", "pdf", "a/", "/b", "a/b/c", "te xt/plain", "a\u{0}/b"] {
            assert_eq!(declared_type(Some(bad)), OCTET_STREAM, "{bad:?}");
        }
        assert_eq!(declared_type(None), OCTET_STREAM);
    }

    #[test]
    fn active_types_are_served_as_octet_stream() {
        for risky in [
            "text/html",
            "application/xhtml+xml",
            "image/svg+xml",
            "text/xml",
            "application/xml",
            "application/javascript",
            "text/javascript",
            "text/css",
            "multipart/related",
            "message/rfc822",
            "image/png",
        ] {
            assert_eq!(served_type(risky), OCTET_STREAM, "{risky}");
        }
        for safe in [
            "text/plain",
            "text/csv",
            "application/pdf",
            "application/zip",
        ] {
            assert_eq!(served_type(safe), safe);
        }
    }

    #[test]
    fn disposition_percent_encodes_the_name() {
        assert_eq!(
            disposition("a b\"é;.txt"),
            "attachment; filename*=UTF-8''a%20b%22%C3%A9%3B.txt"
        );
    }
}
