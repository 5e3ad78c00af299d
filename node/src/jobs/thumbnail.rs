//! Making one thumbnail: decode (within the limits of `rules::media`), scale to fit 320 px, encode
//! (JPEG, or PNG when the image has transparency). Pure and synchronous; the job runs it on a
//! blocking thread with a deadline.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use parley_shared::rules::media::{self as rules, MAX_IMAGE_PIXELS, THUMB_MAX_ALLOC};

/// Why no thumbnail could be made of an image. None of these gets better by trying again.
#[derive(Debug, thiserror::Error)]
pub enum ThumbError {
    /// Its stated size is over the limit (a decompression bomb, or simply too big).
    #[error("{0}")]
    TooLarge(String),
    /// Not decodable as its declared type.
    #[error("cannot decode: {0}")]
    Undecodable(String),
    /// Not a type thumbnails are made of.
    #[error("no thumbnails for {0}")]
    Unsupported(String),
}

/// A finished thumbnail.
#[derive(Debug)]
pub struct Thumbnail {
    /// The encoded image.
    pub bytes: Vec<u8>,
    /// `image/jpeg` or `image/png`.
    pub content_type: &'static str,
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
}

/// A thumbnail of `bytes`, an image of `content_type` (GIFs: their first frame; JPEGs turned
/// upright by their EXIF orientation).
pub fn make(bytes: &[u8], content_type: &str) -> Result<Thumbnail, ThumbError> {
    let format = match content_type {
        "image/jpeg" => ImageFormat::Jpeg,
        "image/png" => ImageFormat::Png,
        "image/gif" => ImageFormat::Gif,
        "image/webp" => ImageFormat::WebP,
        other => return Err(ThumbError::Unsupported(other.to_owned())),
    };
    let undecodable = |e: image::ImageError| match e {
        image::ImageError::Limits(l) => ThumbError::TooLarge(l.to_string()),
        e => ThumbError::Undecodable(e.to_string()),
    };
    // The header's size is checked before the decoder reads further than it.
    let stated = imagesize::blob_size(bytes).map_err(|e| ThumbError::Undecodable(e.to_string()))?;
    rules::image_dimensions(stated.width as u64, stated.height as u64).map_err(|e| ThumbError::TooLarge(e.message))?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let side = u32::try_from(MAX_IMAGE_PIXELS).unwrap_or(u32::MAX);
    let mut limits = Limits::default();
    limits.max_image_width = Some(side);
    limits.max_image_height = Some(side);
    limits.max_alloc = Some(THUMB_MAX_ALLOC);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(undecodable)?;
    // And again as the decoder understood it, before a single pixel is decoded.
    let (w, h) = decoder.dimensions();
    rules::image_dimensions(u64::from(w), u64::from(h)).map_err(|e| ThumbError::TooLarge(e.message))?;
    let orientation = decoder.orientation().map_err(undecodable)?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(undecodable)?;
    img.apply_orientation(orientation);
    let (tw, th) = rules::thumb_size(img.width(), img.height());
    let small = if (tw, th) == (img.width(), img.height()) { img } else { img.thumbnail_exact(tw, th) };
    let mut out = Cursor::new(Vec::new());
    let content_type = if small.color().has_alpha() {
        small.to_rgba8().write_to(&mut out, ImageFormat::Png).map_err(undecodable)?;
        "image/png"
    } else {
        let rgb = small.to_rgb8();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80).encode_image(&rgb).map_err(undecodable)?;
        "image/jpeg"
    };
    Ok(Thumbnail { bytes: out.into_inner(), content_type, width: tw, height: th })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage, Rgba, RgbaImage};

    fn encoded(img: DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    #[test]
    fn each_format_shrinks_to_fit() {
        let photo = DynamicImage::ImageRgb8(RgbImage::from_fn(1000, 500, |x, y| Rgb([x as u8, y as u8, 7])));
        for (ty, format) in [
            ("image/jpeg", ImageFormat::Jpeg),
            ("image/png", ImageFormat::Png),
            ("image/gif", ImageFormat::Gif),
            ("image/webp", ImageFormat::WebP),
        ] {
            let img =
                if format == ImageFormat::Gif { DynamicImage::ImageRgba8(photo.to_rgba8()) } else { photo.clone() };
            let t = make(&encoded(img, format), ty).unwrap_or_else(|e| panic!("{ty}: {e}"));
            assert_eq!((t.width, t.height), (320, 160), "{ty}");
            let back = image::load_from_memory(&t.bytes).unwrap();
            assert_eq!((back.width(), back.height()), (320, 160), "{ty}");
        }
    }

    #[test]
    fn transparency_stays_png_and_small_images_keep_their_size() {
        let img = DynamicImage::ImageRgba8(RgbaImage::from_pixel(40, 30, Rgba([1, 2, 3, 0])));
        let t = make(&encoded(img, ImageFormat::Png), "image/png").unwrap();
        assert_eq!((t.content_type, t.width, t.height), ("image/png", 40, 30));
    }

    #[test]
    fn bombs_and_garbage_are_refused() {
        // A PNG header claiming 30,000 × 30,000 pixels, with almost no data behind it.
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend_from_slice(&30_000u32.to_be_bytes());
        png.extend_from_slice(&30_000u32.to_be_bytes());
        png.extend_from_slice(&[8, 2, 0, 0, 0]);
        // (Its CRC is left zero: the stated size is refused before anything checks it.)
        png.extend_from_slice(&[0; 4]);
        assert!(matches!(make(&png, "image/png"), Err(ThumbError::TooLarge(_))), "{:?}", make(&png, "image/png"));
        assert!(matches!(make(b"\xFF\xD8\xFF\xE0 not really", "image/jpeg"), Err(ThumbError::Undecodable(_))));
        assert!(matches!(make(b"x", "video/mp4"), Err(ThumbError::Unsupported(_))));
    }
}
