//! Display rotation from the stream's display matrix (what FFmpeg's CLI auto-rotation honours).

use ffmpeg_next as ffmpeg;
use ffmpeg::codec::packet::side_data::Type as SideDataType;

/// The clockwise rotation, in degrees (0, 90, 180 or 270), that turns the coded frame into the displayed
/// one. Like the FFmpeg CLI, angles are rounded to the nearest multiple of 90; mirroring is ignored.
pub(crate) fn rotation_degrees(stream: &ffmpeg::format::stream::Stream<'_>) -> u32 {
    stream
        .side_data()
        .find(|sd| sd.kind() == SideDataType::DisplayMatrix)
        .and_then(|sd| parse_display_matrix(sd.data()))
        .unwrap_or(0)
}

/// Parses the 3×3 matrix of 32-bit native-endian integers (16.16 fixed point). The CLI's rotation is
/// `-av_display_rotation_get(m)` = `atan2(m[1], m[0])` in degrees (the scale factors cancel).
pub(crate) fn parse_display_matrix(data: &[u8]) -> Option<u32> {
    if data.len() < 36 {
        return None;
    }
    let m = |i: usize| i32::from_ne_bytes([data[4 * i], data[4 * i + 1], data[4 * i + 2], data[4 * i + 3]]) as f64;
    let (a, b) = (m(0), m(1));
    if a == 0.0 && b == 0.0 {
        return None;
    }
    let deg = b.atan2(a).to_degrees();
    let quarter = ((deg / 90.0).round() as i64).rem_euclid(4);
    Some(quarter as u32 * 90)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(vals: [i32; 9]) -> Vec<u8> {
        vals.iter().flat_map(|v| v.to_ne_bytes()).collect()
    }

    #[test]
    fn rotations() {
        let one = 1 << 16;
        assert_eq!(parse_display_matrix(&matrix([one, 0, 0, 0, one, 0, 0, 0, 1 << 30])), Some(0));
        // a = 0, b = 1, c = -1, d = 0: atan2(b, a) = 90, shown rotated 90 degrees clockwise.
        assert_eq!(parse_display_matrix(&matrix([0, one, 0, -one, 0, 0, 0, 0, 1 << 30])), Some(90));
        assert_eq!(parse_display_matrix(&matrix([-one, 0, 0, 0, -one, 0, 0, 0, 1 << 30])), Some(180));
        assert_eq!(parse_display_matrix(&matrix([0, -one, 0, one, 0, 0, 0, 0, 1 << 30])), Some(270));
        assert_eq!(parse_display_matrix(&[0; 8]), None);
    }
}
