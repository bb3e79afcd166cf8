//! Profile photos: decoding that is safe against hostile input, a centre
//! crop, a 256×256 PNG re-encode (which drops every metadata block such as
//! EXIF/GPS, XMP and text chunks), and the generated default picture.
//!
//! [`process_avatar`] is CPU-bound; async callers should run it inside
//! `tokio::task::spawn_blocking`.

use std::io::Cursor;
use std::panic;

use image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use image::imageops::{self, FilterType};
use image::metadata::Orientation;
use image::{
    DynamicImage, ExtendedColorType, GenericImageView, ImageDecoder, ImageEncoder, ImageError,
    ImageFormat, ImageReader, Limits, RgbaImage,
};
use sha2::{Digest, Sha256};

/// Largest accepted upload, in bytes (5 MiB).
pub const MAX_UPLOAD_BYTES: usize = 5 * 1024 * 1024;
/// Width and height of every processed avatar, in pixels.
pub const SIDE: u32 = 256;
/// Largest accepted width or height of an uploaded image, in pixels.
pub const MAX_SIDE: u32 = 8192;
/// Largest accepted pixel count of an uploaded image (40 megapixels).
pub const MAX_PIXELS: u64 = 40_000_000;
/// Most memory the decoded image (and the decoder's own buffers, where the
/// decoder honours the limit) may take. Images whose decoded form would be
/// larger are refused as [`AvatarError::TooManyPixels`].
pub const MAX_DECODE_BYTES: u64 = 128 * 1024 * 1024;
/// Crops larger than this are first shrunk with a fast area average, so the
/// (expensive) Lanczos pass always works on a small image.
const PRESHRINK_SIDE: u32 = SIDE * 4;
/// Number of hex digits of the SHA-256 kept in [`ProcessedAvatar::hash`].
const HASH_HEX_DIGITS: usize = 16;
/// MIME type of every processed avatar.
const OUTPUT_CONTENT_TYPE: &str = "image/png";

/// A processed avatar: 256×256, re-encoded as PNG, metadata stripped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessedAvatar {
    /// The PNG file.
    pub bytes: Vec<u8>,
    /// MIME type of `bytes`; always `image/png`.
    pub content_type: &'static str,
    /// The first 16 lowercase hex digits of the SHA-256 of `bytes`, usable
    /// as a cache-busting version in the avatar's URL.
    pub hash: String,
}

/// Why an uploaded image was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AvatarError {
    /// The upload exceeds [`MAX_UPLOAD_BYTES`].
    #[error("the file is larger than 5 MiB")]
    TooLarge,
    /// The bytes are not a PNG, JPEG, WebP or GIF file.
    #[error("only PNG, JPEG, WebP and GIF images are accepted")]
    UnsupportedFormat,
    /// The file claims an accepted format but is corrupt or truncated.
    #[error("the image could not be decoded")]
    Undecodable,
    /// The declared dimensions exceed the decoding limits.
    #[error("the image dimensions are too large")]
    TooManyPixels,
}

/// Turns an uploaded image into a 256×256 PNG avatar.
///
/// The format is detected from the bytes (never from a file name); only PNG,
/// JPEG, WebP and GIF are accepted, and of a GIF only the first frame is
/// used. The image header is checked against [`MAX_SIDE`], [`MAX_PIXELS`] and
/// [`MAX_DECODE_BYTES`] before any pixel buffer is allocated, so a
/// decompression bomb is refused cheaply. An EXIF orientation is applied, the
/// centre square is cut out, scaled to 256×256 and re-encoded as an RGBA PNG,
/// which keeps no metadata of the original.
///
/// This is CPU work; call it from `tokio::task::spawn_blocking`. It does not
/// panic on any input.
pub fn process_avatar(input: &[u8]) -> Result<ProcessedAvatar, AvatarError> {
    if input.len() > MAX_UPLOAD_BYTES {
        return Err(AvatarError::TooLarge);
    }
    let format = accepted_format(input)?;
    // The decoders are written never to panic, but they parse hostile bytes:
    // should one ever do so anyway, refuse the file rather than unwind into
    // the caller.
    let bytes =
        panic::catch_unwind(|| render(input, format)).unwrap_or(Err(AvatarError::Undecodable))?;
    let hash = short_hash(&bytes);
    Ok(ProcessedAvatar {
        bytes,
        content_type: OUTPUT_CONTENT_TYPE,
        hash,
    })
}

/// The format named by the file's magic number, if it is one we accept.
pub(crate) fn accepted_format(input: &[u8]) -> Result<ImageFormat, AvatarError> {
    match image::guess_format(input) {
        Ok(
            format @ (ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP | ImageFormat::Gif),
        ) => Ok(format),
        _ => Err(AvatarError::UnsupportedFormat),
    }
}

fn decode_limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    limits
}

fn classify(err: ImageError) -> AvatarError {
    match err {
        ImageError::Limits(_) => AvatarError::TooManyPixels,
        // Truncation, corruption, and variants of an accepted format that the
        // decoder does not implement: the file cannot be used either way.
        _ => AvatarError::Undecodable,
    }
}

/// Decode, crop, scale, orient and encode; returns the PNG file.
fn render(input: &[u8], format: ImageFormat) -> Result<Vec<u8>, AvatarError> {
    let (image, orientation) = decode(input, format)?;
    let square = centre_square(&image);
    drop(image);
    // Orienting the small result is equivalent to orienting the original
    // before cropping (the centre square maps onto itself) and much cheaper.
    let mut square = DynamicImage::ImageRgba8(square);
    square.apply_orientation(orientation);
    encode_png(&square.into_rgba8())
}

/// Reads the header, enforces the limits, then decodes the (first) frame.
pub(crate) fn decode(
    input: &[u8],
    format: ImageFormat,
) -> Result<(DynamicImage, Orientation), AvatarError> {
    let mut reader = ImageReader::with_format(Cursor::new(input), format);
    reader.limits(decode_limits());
    // Only the header has been parsed at this point; no pixel buffer exists.
    let mut decoder = reader.into_decoder().map_err(classify)?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(AvatarError::Undecodable);
    }
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(AvatarError::TooManyPixels);
    }
    // As `ImageReader::decode` does: the output buffer counts against the
    // allocation budget, and what is left is the decoder's own.
    let mut limits = decode_limits();
    limits
        .reserve(decoder.total_bytes())
        .map_err(|_| AvatarError::TooManyPixels)?;
    decoder.set_limits(limits).map_err(classify)?;
    // A broken EXIF block is no reason to refuse an otherwise good picture.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let image = DynamicImage::from_decoder(decoder).map_err(classify)?;
    Ok((image, orientation))
}

/// The centre square of `image`, scaled to `SIDE`×`SIDE`.
fn centre_square(image: &DynamicImage) -> RgbaImage {
    let (width, height) = image.dimensions();
    let side = width.min(height);
    let crop = imageops::crop_imm(image, (width - side) / 2, (height - side) / 2, side, side);
    if side > PRESHRINK_SIDE {
        let smaller = imageops::thumbnail(&*crop, PRESHRINK_SIDE, PRESHRINK_SIDE);
        imageops::resize(&smaller, SIDE, SIDE, FilterType::Lanczos3)
    } else {
        imageops::resize(&*crop, SIDE, SIDE, FilterType::Lanczos3)
    }
}

fn encode_png(image: &RgbaImage) -> Result<Vec<u8>, AvatarError> {
    let mut bytes = Vec::new();
    PngEncoder::new_with_quality(&mut bytes, CompressionType::Best, PngFilter::Adaptive)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            ExtendedColorType::Rgba8,
        )
        // Encoding a well-formed 256×256 buffer into memory does not fail.
        .map_err(|_| AvatarError::Undecodable)?;
    Ok(bytes)
}

fn short_hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .take(HASH_HEX_DIGITS / 2)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The generated picture for users without a photo: a 256×256 SVG with the
/// user's initials in white, centred on a background colour derived from the
/// username (the same name always gets the same colour, and every colour
/// gives the white text at least WCAG AA contrast).
///
/// Initials are the first characters of the first two parts of the name split
/// on `_`, `.` and `-` ("john_doe" → "JD"), or its first character ("alice" →
/// "A"). The username and initials are XML-escaped; the SVG has a `<title>`
/// and contains no scripts and no external references.
pub fn default_avatar_svg(username: &str) -> String {
    let [red, green, blue] = background_colour(username);
    let title = escape_xml(username);
    let letters = escape_xml(&initials(username));
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"256\" height=\"256\" \
         viewBox=\"0 0 256 256\" role=\"img\">\
         <title>{title}</title>\
         <rect width=\"256\" height=\"256\" fill=\"#{red:02x}{green:02x}{blue:02x}\"/>\
         <text x=\"128\" y=\"128\" dy=\"0.35em\" text-anchor=\"middle\" fill=\"#ffffff\" \
         font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif\" \
         font-size=\"104\" font-weight=\"600\">{letters}</text>\
         </svg>"
    )
}

/// "john_doe" → "JD", "alice" → "A"; "?" when the name has no letters.
fn initials(username: &str) -> String {
    let letters: String = username
        .split(['_', '.', '-'])
        .filter_map(|part| part.chars().next())
        .take(2)
        .flat_map(char::to_uppercase)
        .collect();
    if letters.is_empty() {
        "?".to_owned()
    } else {
        letters
    }
}

/// Escapes text for XML content and attribute values, and replaces the
/// characters XML 1.0 does not allow at all.
fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                out.push(char::REPLACEMENT_CHARACTER);
            }
            c => out.push(c),
        }
    }
    out
}

/// Contrast ratio white text must reach on the background (WCAG AA is 4.5;
/// the margin absorbs colour-management differences).
const MIN_CONTRAST: f64 = 4.6;

/// A colour from the username's hash; case-insensitive so "Alice" and
/// "alice" look alike.
fn background_colour(username: &str) -> [u8; 3] {
    let digest = Sha256::digest(username.to_lowercase().as_bytes());
    let hue = u16::from_be_bytes([digest[0], digest[1]]) % 360;
    colour_for_hue(hue)
}

/// The lightest shade of `hue` (at 60 % saturation, from 60 % lightness
/// down) on which white text has at least [`MIN_CONTRAST`].
fn colour_for_hue(hue: u16) -> [u8; 3] {
    // Yellows and greens must be much darker than blues to keep the contrast.
    let hue = f64::from(hue % 360);
    for percent in (20..=60u8).rev() {
        let rgb = hsl_to_rgb(hue, 0.6, f64::from(percent) / 100.0);
        if contrast_with_white(rgb) >= MIN_CONTRAST {
            return rgb;
        }
    }
    hsl_to_rgb(hue, 0.6, 0.2)
}

/// HSL (hue in degrees, saturation and lightness in 0..=1) to 8-bit sRGB.
fn hsl_to_rgb(hue: f64, saturation: f64, lightness: f64) -> [u8; 3] {
    let chroma = (1.0 - (2.0 * lightness - 1.0).abs()) * saturation;
    let sector = hue / 60.0;
    let second = chroma * (1.0 - (sector % 2.0 - 1.0).abs());
    let (r, g, b) = match sector as u8 {
        0 => (chroma, second, 0.0),
        1 => (second, chroma, 0.0),
        2 => (0.0, chroma, second),
        3 => (0.0, second, chroma),
        4 => (second, 0.0, chroma),
        _ => (chroma, 0.0, second),
    };
    let offset = lightness - chroma / 2.0;
    let to_byte = |channel: f64| ((channel + offset) * 255.0).round().clamp(0.0, 255.0) as u8;
    [to_byte(r), to_byte(g), to_byte(b)]
}

/// WCAG 2 contrast ratio between white and the given sRGB colour.
fn contrast_with_white([red, green, blue]: [u8; 3]) -> f64 {
    let linear = |channel: u8| {
        let c = f64::from(channel) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let luminance = 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue);
    1.05 / (luminance + 0.05)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::codecs::gif::GifEncoder;
    use image::codecs::webp::WebPEncoder;
    use image::{Delay, Frame, Rgba};

    const RED: Rgba<u8> = Rgba([255, 0, 0, 255]);
    const BLUE: Rgba<u8> = Rgba([0, 0, 255, 255]);

    /// Red in the middle third along the longer side, blue at both ends.
    fn banded(width: u32, height: u32) -> RgbaImage {
        RgbaImage::from_fn(width, height, |x, y| {
            let (pos, len) = if width >= height {
                (x, width)
            } else {
                (y, height)
            };
            if pos < len / 3 || pos >= 2 * len / 3 {
                BLUE
            } else {
                RED
            }
        })
    }

    fn encode(image: &RgbaImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Vec::new();
        let (w, h) = image.dimensions();
        match format {
            ImageFormat::Jpeg => {
                let rgb = DynamicImage::ImageRgba8(image.clone()).to_rgb8();
                rgb.write_to(&mut Cursor::new(&mut out), ImageFormat::Jpeg)
                    .unwrap();
            }
            ImageFormat::WebP => WebPEncoder::new_lossless(&mut out)
                .write_image(image.as_raw(), w, h, ExtendedColorType::Rgba8)
                .unwrap(),
            ImageFormat::Gif => {
                let mut encoder = GifEncoder::new(&mut out);
                encoder.encode_frame(Frame::new(image.clone())).unwrap();
            }
            _ => PngEncoder::new(&mut out)
                .write_image(image.as_raw(), w, h, ExtendedColorType::Rgba8)
                .unwrap(),
        }
        assert_eq!(image::guess_format(&out).unwrap(), format);
        out
    }

    fn decode_output(avatar: &ProcessedAvatar) -> RgbaImage {
        assert_eq!(avatar.content_type, "image/png");
        assert_eq!(
            image::guess_format(&avatar.bytes).unwrap(),
            ImageFormat::Png
        );
        let img = image::load_from_memory_with_format(&avatar.bytes, ImageFormat::Png)
            .unwrap()
            .to_rgba8();
        assert_eq!(img.dimensions(), (SIDE, SIDE));
        img
    }

    fn is_red(p: &Rgba<u8>) -> bool {
        p[0] > 200 && p[1] < 60 && p[2] < 60 && p[3] > 250
    }

    fn is_blue(p: &Rgba<u8>) -> bool {
        p[0] < 60 && p[1] < 60 && p[2] > 200 && p[3] > 250
    }

    const ACCEPTED: [ImageFormat; 4] = [
        ImageFormat::Png,
        ImageFormat::Jpeg,
        ImageFormat::Gif,
        ImageFormat::WebP,
    ];

    #[test]
    fn every_accepted_format_becomes_a_centre_cropped_256_png() {
        for format in ACCEPTED {
            for (w, h) in [(300, 100), (100, 300)] {
                let out = process_avatar(&encode(&banded(w, h), format))
                    .unwrap_or_else(|e| panic!("{format:?} {w}x{h}: {e}"));
                let img = decode_output(&out);
                for (x, y) in [(128, 128), (2, 2), (253, 2), (2, 253), (253, 253)] {
                    let p = img.get_pixel(x, y);
                    assert!(is_red(p), "{format:?} {w}x{h} pixel {x},{y} = {p:?}");
                }
            }
        }
    }

    #[test]
    fn hash_is_a_short_sha256_of_the_output_and_deterministic() {
        let input = encode(&banded(90, 60), ImageFormat::Png);
        let out = process_avatar(&input).unwrap();
        assert_eq!(out.hash.len(), 16);
        let full: String = Sha256::digest(&out.bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(out.hash, full[..16]);
        assert_eq!(process_avatar(&input).unwrap(), out);
        let other = process_avatar(&encode(&banded(60, 90), ImageFormat::Png)).unwrap();
        assert_ne!(other.hash, out.hash);
    }

    #[test]
    fn large_images_are_shrunk_through_the_fast_path() {
        // The centre square (1100 px, above PRESHRINK_SIDE) is the red third.
        let out = process_avatar(&encode(&banded(3300, 1100), ImageFormat::Png)).unwrap();
        let img = decode_output(&out);
        for (x, y) in [(128, 128), (2, 2), (253, 253)] {
            assert!(is_red(img.get_pixel(x, y)), "pixel {x},{y}");
        }
    }

    #[test]
    fn small_and_greyscale_images_are_accepted() {
        let tiny = encode(&RgbaImage::from_pixel(1, 1, RED), ImageFormat::Png);
        let img = decode_output(&process_avatar(&tiny).unwrap());
        assert!(is_red(img.get_pixel(128, 128)));

        let grey = image::GrayImage::from_pixel(20, 30, image::Luma([128]));
        let mut png = Vec::new();
        grey.write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        let img = decode_output(&process_avatar(&png).unwrap());
        assert_eq!(img.get_pixel(10, 10), &Rgba([128, 128, 128, 255]));
    }

    #[test]
    fn only_the_first_gif_frame_is_used() {
        let mut gif = Vec::new();
        {
            let mut encoder = GifEncoder::new(&mut gif);
            for colour in [RED, BLUE, BLUE] {
                let frame = Frame::from_parts(
                    RgbaImage::from_pixel(32, 32, colour),
                    0,
                    0,
                    Delay::from_numer_denom_ms(100, 1),
                );
                encoder.encode_frame(frame).unwrap();
            }
        }
        let img = decode_output(&process_avatar(&gif).unwrap());
        assert!(is_red(img.get_pixel(128, 128)));
        assert!(is_red(img.get_pixel(3, 250)));
    }

    /// A JPEG whose APP1 segment holds a big-endian EXIF block with the given
    /// orientation and an ImageDescription of "GPSSECRET".
    fn jpeg_with_exif(image: &RgbaImage, orientation: u16) -> Vec<u8> {
        let jpeg = encode(image, ImageFormat::Jpeg);
        let mut tiff = Vec::new();
        tiff.extend_from_slice(b"MM\x00\x2a\x00\x00\x00\x08"); // header, IFD at 8
        tiff.extend_from_slice(&2u16.to_be_bytes()); // two entries
        tiff.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1]); // Orientation, SHORT ×1
        tiff.extend_from_slice(&orientation.to_be_bytes());
        tiff.extend_from_slice(&[0, 0]);
        tiff.extend_from_slice(&[0x01, 0x0e, 0x00, 0x02, 0, 0, 0, 10]); // ImageDescription, ASCII ×10
        tiff.extend_from_slice(&38u32.to_be_bytes()); // value offset
        tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
        assert_eq!(tiff.len(), 38);
        tiff.extend_from_slice(b"GPSSECRET\0");

        let mut segment = b"Exif\0\0".to_vec();
        segment.extend_from_slice(&tiff);
        let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
        out.extend_from_slice(&u16::try_from(segment.len() + 2).unwrap().to_be_bytes());
        out.extend_from_slice(&segment);
        out.extend_from_slice(&jpeg[2..]); // everything after the original SOI
        out
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    /// The chunk types of a PNG file, in order.
    fn png_chunks(png: &[u8]) -> Vec<String> {
        let mut chunks = Vec::new();
        let mut at = 8;
        while at + 8 <= png.len() {
            let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
            chunks.push(String::from_utf8_lossy(&png[at + 4..at + 8]).into_owned());
            at += 12 + len;
        }
        chunks
    }

    #[test]
    fn exif_metadata_is_dropped() {
        let input = jpeg_with_exif(&banded(40, 40), 1);
        assert!(contains(&input, b"GPSSECRET"));
        let out = process_avatar(&input).unwrap();
        assert!(!contains(&out.bytes, b"GPSSECRET"));
        assert!(!contains(&out.bytes, b"Exif"));
        for chunk in png_chunks(&out.bytes) {
            assert!(
                ["IHDR", "IDAT", "IEND"].contains(&chunk.as_str()),
                "unexpected chunk {chunk}"
            );
        }
    }

    #[test]
    fn exif_orientation_is_applied() {
        // Left half red, right half blue; orientation 6 means "rotate 90°
        // clockwise to display", which puts the red half on top.
        let image = RgbaImage::from_fn(200, 100, |x, _| if x < 100 { RED } else { BLUE });
        let upright = decode_output(&process_avatar(&jpeg_with_exif(&image, 1)).unwrap());
        assert!(is_red(upright.get_pixel(20, 128)));
        assert!(is_blue(upright.get_pixel(235, 128)));

        let rotated = decode_output(&process_avatar(&jpeg_with_exif(&image, 6)).unwrap());
        assert!(is_red(rotated.get_pixel(128, 20)));
        assert!(is_blue(rotated.get_pixel(128, 235)));
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

    /// A valid 1×1 RGBA PNG whose IHDR (with a correct CRC) claims other
    /// dimensions.
    fn png_claiming(width: u32, height: u32) -> Vec<u8> {
        let png = encode(&RgbaImage::from_pixel(1, 1, RED), ImageFormat::Png);
        patch_ihdr(png, width, height)
    }

    fn patch_ihdr(mut png: Vec<u8>, width: u32, height: u32) -> Vec<u8> {
        assert_eq!(&png[12..16], b"IHDR");
        png[16..20].copy_from_slice(&width.to_be_bytes());
        png[20..24].copy_from_slice(&height.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        png
    }

    #[test]
    fn crc32_matches_the_encoders() {
        let png = encode(&RgbaImage::from_pixel(1, 1, RED), ImageFormat::Png);
        assert_eq!(
            crc32(&png[12..29]).to_be_bytes(),
            png[29..33],
            "the test CRC must agree with the PNG encoder's"
        );
    }

    #[test]
    fn decompression_bombs_are_refused_from_the_header() {
        let started = std::time::Instant::now();
        // Far beyond the per-side limit.
        assert_eq!(
            process_avatar(&png_claiming(100_000, 100_000)),
            Err(AvatarError::TooManyPixels)
        );
        // Each side within MAX_SIDE, but 64 megapixels in all.
        assert_eq!(
            process_avatar(&png_claiming(8000, 8000)),
            Err(AvatarError::TooManyPixels)
        );
        // 64 megapixels of 8-bit grey: within the memory budget, but too many
        // pixels.
        let mut grey = Vec::new();
        image::GrayImage::from_pixel(1, 1, image::Luma([7]))
            .write_to(&mut Cursor::new(&mut grey), ImageFormat::Png)
            .unwrap();
        assert_eq!(
            process_avatar(&patch_ihdr(grey, 8000, 8000)),
            Err(AvatarError::TooManyPixels)
        );
        // 32 megapixels of RGBA: fewer than MAX_PIXELS, more than the budget.
        assert_eq!(
            process_avatar(&png_claiming(8192, 4100)),
            Err(AvatarError::TooManyPixels)
        );

        // A JPEG frame header claiming 60000×60000.
        let mut jpeg = encode(&banded(16, 16), ImageFormat::Jpeg);
        let sof = jpeg
            .windows(2)
            .position(|w| w == [0xFF, 0xC0])
            .expect("baseline SOF0 marker");
        jpeg[sof + 5..sof + 7].copy_from_slice(&60_000u16.to_be_bytes());
        jpeg[sof + 7..sof + 9].copy_from_slice(&60_000u16.to_be_bytes());
        assert_eq!(process_avatar(&jpeg), Err(AvatarError::TooManyPixels));

        // A GIF logical screen of 65535×65535 around a small frame.
        let mut gif = encode(&banded(16, 16), ImageFormat::Gif);
        gif[6..10].copy_from_slice(&[0xFF; 4]);
        assert_eq!(process_avatar(&gif), Err(AvatarError::TooManyPixels));

        // Refused from the header alone: no multi-gigabyte buffer was filled.
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn truncated_files_are_undecodable() {
        let png = encode(&banded(64, 64), ImageFormat::Png);
        assert_eq!(
            process_avatar(&png[..png.len() / 2]),
            Err(AvatarError::Undecodable)
        );
        assert_eq!(process_avatar(&png[..20]), Err(AvatarError::Undecodable));
        assert_eq!(process_avatar(b"GIF89a"), Err(AvatarError::Undecodable));
        assert_eq!(
            process_avatar(b"\x89PNG\r\n\x1a\n"),
            Err(AvatarError::Undecodable)
        );
        let webp = encode(&banded(64, 64), ImageFormat::WebP);
        assert_eq!(
            process_avatar(&webp[..webp.len() / 2]),
            Err(AvatarError::Undecodable)
        );
    }

    #[test]
    fn other_formats_and_garbage_are_unsupported() {
        let mut noise = vec![0u8; 4096];
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        for byte in &mut noise {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *byte = state as u8;
        }
        let inputs: [&[u8]; 9] = [
            &noise,
            b"",
            b"hello world, this is a text file\n",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>",
            b"BM\x3a\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00",
            b"II*\x00\x08\x00\x00\x00\x00\x00",
            b"MM\x00*\x00\x00\x00\x08\x00\x00",
            b"\x00\x00\x01\x00\x01\x00\x10\x10",
            b"%PDF-1.7\n",
        ];
        for input in inputs {
            assert_eq!(
                process_avatar(input),
                Err(AvatarError::UnsupportedFormat),
                "{:?}",
                String::from_utf8_lossy(&input[..input.len().min(16)])
            );
        }
    }

    #[test]
    fn oversized_uploads_are_refused_before_anything_else() {
        let mut big = encode(&banded(8, 8), ImageFormat::Png);
        big.resize(MAX_UPLOAD_BYTES + 1, 0);
        assert_eq!(process_avatar(&big), Err(AvatarError::TooLarge));
        assert_eq!(
            process_avatar(&vec![0u8; MAX_UPLOAD_BYTES]),
            Err(AvatarError::UnsupportedFormat)
        );
    }

    #[test]
    fn mutated_files_never_panic() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for format in ACCEPTED {
            let original = encode(&banded(24, 16), format);
            for round in 0..120 {
                let mut input = original.clone();
                let len = input.len() as u64;
                if round % 4 == 0 {
                    input.truncate((next() % len) as usize);
                } else {
                    for _ in 0..=round % 6 {
                        let at = (next() % len) as usize;
                        input[at] = next() as u8;
                    }
                }
                if let Ok(out) = process_avatar(&input) {
                    assert_eq!(decode_output(&out).dimensions(), (SIDE, SIDE));
                }
            }
        }
    }

    fn fill_of(svg: &str) -> [u8; 3] {
        let start = svg.find("fill=\"#").expect("background fill") + 7;
        let hex = &svg[start..start + 6];
        let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap();
        [channel(0), channel(2), channel(4)]
    }

    #[test]
    fn default_avatar_escapes_markup() {
        let svg = default_avatar_svg("a<b&c");
        assert!(svg.contains("<title>a&lt;b&amp;c</title>"), "{svg}");
        assert!(!svg.contains("a<b"));
        assert!(svg.contains(">A</text>"));

        let svg = default_avatar_svg("<script>alert(1)</script>");
        assert!(!svg.contains("<script"));
        assert!(svg.contains(">&lt;</text>"), "{svg}");

        let svg = default_avatar_svg("x\"y'z>\u{0}");
        assert!(svg.contains("x&quot;y&apos;z&gt;\u{FFFD}"), "{svg}");
        assert!(!svg.contains('\u{0}'));

        let svg = default_avatar_svg("&_'");
        assert!(svg.contains(">&amp;&apos;</text>"), "{svg}");
    }

    #[test]
    fn default_avatar_is_self_contained() {
        let svg = default_avatar_svg("john_doe");
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains("width=\"256\" height=\"256\""));
        assert!(svg.ends_with("</svg>"));
        let lower = svg.to_lowercase();
        for forbidden in [
            "script",
            "href",
            "url(",
            "<image",
            "<foreignobject",
            "onload",
        ] {
            assert!(!lower.contains(forbidden), "{forbidden}");
        }
        assert_eq!(lower.matches("http").count(), 1, "only the namespace");
    }

    #[test]
    fn default_avatar_initials() {
        assert!(default_avatar_svg("john_doe").contains(">JD</text>"));
        assert!(default_avatar_svg("mary.jane-watson").contains(">MJ</text>"));
        assert!(default_avatar_svg("alice").contains(">A</text>"));
        assert!(default_avatar_svg("_bob").contains(">B</text>"));
        assert!(default_avatar_svg("x9").contains(">X</text>"));
        assert!(default_avatar_svg("___").contains(">?</text>"));
        assert!(default_avatar_svg("").contains(">?</text>"));
    }

    #[test]
    fn default_avatar_colour_is_stable_and_varies() {
        assert_eq!(default_avatar_svg("alice"), default_avatar_svg("alice"));
        assert_eq!(
            fill_of(&default_avatar_svg("Alice")),
            fill_of(&default_avatar_svg("alice"))
        );
        assert_ne!(
            fill_of(&default_avatar_svg("alice")),
            fill_of(&default_avatar_svg("bob"))
        );
        let names = ["alice", "bob", "carol", "dave", "erin", "frank", "grace"];
        let mut fills: Vec<[u8; 3]> = names
            .iter()
            .map(|n| fill_of(&default_avatar_svg(n)))
            .collect();
        fills.sort_unstable();
        fills.dedup();
        assert!(fills.len() >= 5, "{fills:?}");
    }

    #[test]
    fn every_background_gives_white_text_aa_contrast() {
        for hue in 0..360 {
            let rgb = colour_for_hue(hue);
            let ratio = contrast_with_white(rgb);
            assert!(ratio >= 4.5, "hue {hue}: {rgb:?} has contrast {ratio:.2}");
            // The lightest passing shade, not needlessly dark.
            assert!(ratio < 6.0, "hue {hue}: {rgb:?} has contrast {ratio:.2}");
        }
        for name in ["alice", "bob", "a<b&c", "john_doe"] {
            assert!(contrast_with_white(fill_of(&default_avatar_svg(name))) >= 4.5);
        }
    }

    #[test]
    fn hsl_conversion_matches_known_colours() {
        assert_eq!(hsl_to_rgb(0.0, 1.0, 0.5), [255, 0, 0]);
        assert_eq!(hsl_to_rgb(120.0, 1.0, 0.5), [0, 255, 0]);
        assert_eq!(hsl_to_rgb(240.0, 1.0, 0.5), [0, 0, 255]);
        assert_eq!(hsl_to_rgb(60.0, 1.0, 0.25), [128, 128, 0]);
        assert_eq!(hsl_to_rgb(0.0, 0.0, 1.0), [255, 255, 255]);
        assert!((contrast_with_white([0, 0, 0]) - 21.0).abs() < 1e-9);
    }
}
