//! Profile photos: hostile-input-safe decoding, centre crop, 256×256
//! re-encode (which drops every metadata block), and the generated default.

use std::io::Cursor;

use image::imageops::FilterType;
use image::{ImageError, ImageFormat, ImageReader, Limits};
use sha2::{Digest, Sha256};

/// Largest accepted upload.
pub const MAX_UPLOAD_BYTES: usize = 5 * 1024 * 1024;
/// Side of the stored square picture.
pub const SIDE: u32 = 256;
/// Largest accepted width or height.
const MAX_SIDE: u32 = 8192;
/// Largest accepted pixel count (about 40 megapixels).
const MAX_PIXELS: u64 = 40_000_000;
/// Most memory a decoder may allocate.
const MAX_ALLOC: u64 = 256 * 1024 * 1024;

/// A processed photo: 256×256 PNG, no metadata.
#[derive(Debug, Clone)]
pub struct ProcessedAvatar {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
    /// Short content hash, used in the photo's URL.
    pub hash: String,
}

/// Why a photo was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AvatarError {
    #[error("the file is larger than 5 MiB")]
    TooLarge,
    #[error("only PNG, JPEG, WebP and GIF images are accepted")]
    UnsupportedFormat,
    #[error("the image could not be decoded")]
    Undecodable,
    #[error("the image dimensions are too large")]
    TooManyPixels,
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    limits
}

fn classify(err: ImageError) -> AvatarError {
    match err {
        ImageError::Limits(_) => AvatarError::TooManyPixels,
        ImageError::Unsupported(_) => AvatarError::UnsupportedFormat,
        _ => AvatarError::Undecodable,
    }
}

/// Validates, decodes (first frame of a GIF), crops to the centre square,
/// resizes to 256×256 and re-encodes as PNG.
pub fn process_avatar(input: &[u8]) -> Result<ProcessedAvatar, AvatarError> {
    if input.len() > MAX_UPLOAD_BYTES {
        return Err(AvatarError::TooLarge);
    }
    let format = image::guess_format(input).map_err(|_| AvatarError::UnsupportedFormat)?;
    if !matches!(
        format,
        ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP | ImageFormat::Gif
    ) {
        return Err(AvatarError::UnsupportedFormat);
    }
    // Read the header first: a bomb is refused before any pixel is allocated.
    let mut probe = ImageReader::with_format(Cursor::new(input), format);
    probe.limits(limits());
    let (width, height) = probe.into_dimensions().map_err(classify)?;
    if width == 0 || height == 0 {
        return Err(AvatarError::Undecodable);
    }
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(AvatarError::TooManyPixels);
    }
    let mut reader = ImageReader::with_format(Cursor::new(input), format);
    reader.limits(limits());
    let image = reader.decode().map_err(classify)?;

    let side = width.min(height);
    let cropped = image.crop_imm((width - side) / 2, (height - side) / 2, side, side);
    let resized = cropped
        .resize_exact(SIDE, SIDE, FilterType::Lanczos3)
        .to_rgba8();
    let mut bytes = Vec::new();
    resized
        .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
        .map_err(|_| AvatarError::Undecodable)?;
    let hash = hex_prefix(&Sha256::digest(&bytes), 8);
    Ok(ProcessedAvatar {
        bytes,
        content_type: "image/png",
        hash,
    })
}

fn hex_prefix(bytes: &[u8], count: usize) -> String {
    bytes
        .iter()
        .take(count)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// One or two initials: "john_doe" → "JD", "alice" → "A".
fn initials(username: &str) -> String {
    let mut parts = username
        .split(['_', '.', '-'])
        .filter_map(|p| p.chars().next());
    let first = parts.next();
    let second = parts.next();
    first
        .into_iter()
        .chain(second)
        .flat_map(char::to_uppercase)
        .collect()
}

/// A 256×256 SVG: the initials in white on a colour derived from the name.
pub fn default_avatar_svg(username: &str) -> String {
    let digest = Sha256::digest(username.to_lowercase().as_bytes());
    let hue = u16::from_be_bytes([digest[0], digest[1]]) % 360;
    // Lightness 38 % keeps white text above 4.5:1 for every hue.
    let name = escape_xml(username);
    let letters = escape_xml(&initials(username));
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"256\" height=\"256\" viewBox=\"0 0 256 256\" role=\"img\">\
         <title>{name}</title>\
         <rect width=\"256\" height=\"256\" fill=\"hsl({hue}, 55%, 38%)\"/>\
         <text x=\"128\" y=\"128\" dy=\".35em\" text-anchor=\"middle\" fill=\"#ffffff\" \
         font-family=\"system-ui, -apple-system, Segoe UI, Roboto, sans-serif\" font-size=\"104\" font-weight=\"600\">{letters}</text>\
         </svg>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgba, RgbaImage};

    fn encoded(format: ImageFormat, width: u32, height: u32) -> Vec<u8> {
        let img = RgbaImage::from_fn(width, height, |x, _| {
            if x < width / 3 || x >= 2 * width / 3 {
                Rgba([0, 0, 255, 255])
            } else {
                Rgba([255, 0, 0, 255])
            }
        });
        let mut out = Cursor::new(Vec::new());
        if format == ImageFormat::Jpeg {
            image::DynamicImage::ImageRgba8(img)
                .to_rgb8()
                .write_to(&mut out, format)
                .unwrap();
        } else {
            img.write_to(&mut out, format).unwrap();
        }
        out.into_inner()
    }

    #[test]
    fn every_accepted_format_becomes_a_centre_cropped_256_png() {
        for format in [
            ImageFormat::Png,
            ImageFormat::Jpeg,
            ImageFormat::Gif,
            ImageFormat::WebP,
        ] {
            let out = process_avatar(&encoded(format, 300, 100)).unwrap();
            assert_eq!(out.content_type, "image/png");
            let img = image::load_from_memory_with_format(&out.bytes, ImageFormat::Png)
                .unwrap()
                .to_rgba8();
            assert_eq!(img.dimensions(), (256, 256), "{format:?}");
            for (x, y) in [(128, 128), (3, 3), (252, 252)] {
                let p = img.get_pixel(x, y);
                assert!(p[0] > 200 && p[2] < 60, "{format:?} pixel {x},{y} = {p:?}");
            }
            assert_eq!(out.hash.len(), 16);
        }
    }

    #[test]
    fn exif_is_dropped() {
        let jpeg = encoded(ImageFormat::Jpeg, 40, 40);
        let payload = b"Exif\0\0GPSSECRET";
        let mut input = vec![0xFF, 0xD8, 0xFF, 0xE1];
        input.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        input.extend_from_slice(payload);
        input.extend_from_slice(&jpeg[2..]);
        let out = process_avatar(&input).unwrap();
        assert!(!out.bytes.windows(9).any(|w| w == b"GPSSECRET"));
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &byte in data {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn decompression_bombs_are_refused_from_the_header() {
        let mut png = encoded(ImageFormat::Png, 1, 1);
        png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(
            process_avatar(&png).unwrap_err(),
            AvatarError::TooManyPixels
        );
        // Within each side's limit, but too many pixels overall.
        png[16..20].copy_from_slice(&8000u32.to_be_bytes());
        png[20..24].copy_from_slice(&8000u32.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(
            process_avatar(&png).unwrap_err(),
            AvatarError::TooManyPixels
        );
    }

    #[test]
    fn truncated_garbage_and_other_formats_are_refused() {
        let png = encoded(ImageFormat::Png, 64, 64);
        assert_eq!(
            process_avatar(&png[..png.len() / 2]).unwrap_err(),
            AvatarError::Undecodable
        );
        assert_eq!(
            process_avatar(b"hello world").unwrap_err(),
            AvatarError::UnsupportedFormat
        );
        assert_eq!(
            process_avatar(b"BM\x00\x00\x00\x00").unwrap_err(),
            AvatarError::UnsupportedFormat
        );
        assert_eq!(
            process_avatar(b"II*\x00\x08\x00\x00\x00").unwrap_err(),
            AvatarError::UnsupportedFormat
        );
        assert_eq!(
            process_avatar(b"").unwrap_err(),
            AvatarError::UnsupportedFormat
        );
        assert_eq!(
            process_avatar(b"GIF89a").unwrap_err(),
            AvatarError::Undecodable
        );
        assert_eq!(
            process_avatar(&vec![0u8; MAX_UPLOAD_BYTES + 1]).unwrap_err(),
            AvatarError::TooLarge
        );
    }

    #[test]
    fn default_avatar_escapes_and_is_stable() {
        let svg = default_avatar_svg("a<b&c");
        assert!(svg.contains("a&lt;b&amp;c"));
        assert!(!svg.contains("a<b"));
        assert_eq!(svg, default_avatar_svg("a<b&c"));
        assert_ne!(
            default_avatar_svg("alice").split("hsl").nth(1),
            default_avatar_svg("bob").split("hsl").nth(1)
        );
        assert!(default_avatar_svg("john_doe").contains(">JD</text>"));
        assert!(default_avatar_svg("alice").contains(">A</text>"));
    }
}
