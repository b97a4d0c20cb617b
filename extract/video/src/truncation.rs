//! Detecting files cut short (interrupted downloads, copies or recordings) from the container's own
//! structure.
//!
//! FFmpeg's demuxers read a cut file up to the cut and then report a plain end of file for several
//! containers (Matroska/WebM log "File ended prematurely", Ogg and MPEG-PS cannot know), so the frame
//! index would silently describe a shorter video. Most containers declare their extent up front, and a
//! cut leaves that declaration unmet:
//!
//! * Matroska/WebM: the `Segment` element's size (written when the muxer finishes; "unknown" for live
//!   streams, which are then not checked);
//! * AVI: the sizes of the `RIFF` chunks (`AVI ` and OpenDML `AVIX`);
//! * MP4/MOV: the sizes of the top-level boxes (a cut `mdat` or `moov`);
//! * Ogg: the last page must be complete and some page near the end must carry the end-of-stream flag
//!   that every muxer writes when it closes the file;
//! * MPEG-PS: the packets of the last pack must end with the file (a cut inside padding loses no frame
//!   but is still a cut).
//!
//! * FLV: the tag sizes, walked from the header, must end with the file;
//! * ASF/WMV: the sizes of the top-level objects (header, data, index).
//!
//! A cut exactly between two MPEG-PS packs leaves no trace; MPEG-TS and NUT declare no extent at all and
//! are not checked. Other containers (and the cases above with sizes never filled in) are covered by the demuxer's corrupt-packet flag on the partial last
//! packet, checked in the probe's packet scan.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// How the file falls short of what its container declares, as a reason for `VideoError::Truncated`.
pub(crate) fn structural_shortfall(path: &Path, container: &str, file_len: u64) -> std::io::Result<Option<String>> {
    let mut file = File::open(path)?;
    if container.starts_with("matroska") {
        matroska(&mut file, file_len)
    } else if container == "avi" {
        riff(&mut file, file_len)
    } else if container.starts_with("mov,mp4") {
        iso_boxes(&mut file, file_len)
    } else if container == "ogg" {
        ogg_tail(&mut file, file_len)
    } else if container == "mpeg" {
        mpeg_ps_tail(&mut file, file_len)
    } else if container == "asf" {
        asf_objects(&mut file, file_len)
    } else if container == "flv" {
        flv_tags(file, file_len)
    } else {
        Ok(None)
    }
}

/// Reads up to `buf.len()` bytes at `offset`; returns how many were read (fewer at the end of the file).
fn read_at(file: &mut File, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
    file.seek(SeekFrom::Start(offset))?;
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// An EBML variable-length integer at the start of `b`: `(value, length, all value bits set)`. With
/// `keep_marker` the length marker stays in the value (element IDs), else it is removed (sizes).
fn ebml_vint(b: &[u8], keep_marker: bool) -> Option<(u64, usize, bool)> {
    let first = *b.first()?;
    let len = first.leading_zeros() as usize + 1;
    if len > 8 || b.len() < len {
        return None;
    }
    let value_bits = (0xffu16 >> len) as u8; // the bits of the first byte after the length marker
    let mut v = u64::from(if keep_marker { first } else { first & value_bits });
    let mut all_ones = first & value_bits == value_bits;
    for &x in &b[1..len] {
        v = (v << 8) | u64::from(x);
        all_ones &= x == 0xff;
    }
    Some((v, len, all_ones))
}

fn matroska(file: &mut File, file_len: u64) -> std::io::Result<Option<String>> {
    let mut head = [0u8; 64];
    let n = read_at(file, 0, &mut head)?;
    let head = &head[..n];
    // EBML header element, then the Segment element's id and size.
    let Some((0x1A45_DFA3, id_len, _)) = ebml_vint(head, true) else { return Ok(None) };
    let Some((ebml_size, size_len, _)) = ebml_vint(&head[id_len..], false) else { return Ok(None) };
    let seg_at = (id_len + size_len) as u64 + ebml_size;
    let mut seg = [0u8; 12];
    let n = read_at(file, seg_at, &mut seg)?;
    let Some((0x1853_8067, id_len, _)) = ebml_vint(&seg[..n], true) else { return Ok(None) };
    let Some((size, size_len, unknown)) = ebml_vint(&seg[id_len..n], false) else { return Ok(None) };
    let end = seg_at + (id_len + size_len) as u64 + size;
    Ok((!unknown && end > file_len)
        .then(|| format!("the Matroska segment declares {end} bytes but the file has {file_len}")))
}

fn riff(file: &mut File, file_len: u64) -> std::io::Result<Option<String>> {
    let mut at = 0u64;
    while at + 12 <= file_len {
        let mut h = [0u8; 12];
        read_at(file, at, &mut h)?;
        if &h[0..4] != b"RIFF" {
            break;
        }
        let size = u64::from(u32::from_le_bytes([h[4], h[5], h[6], h[7]]));
        // 0 and 0xFFFFFFFF: a size never filled in (a streamed or unfinished writer); nothing to check.
        if size == 0 || size == 0xFFFF_FFFF {
            break;
        }
        let end = at + 8 + size;
        if end > file_len {
            let form = String::from_utf8_lossy(&h[8..12]).trim().to_string();
            return Ok(Some(format!("the RIFF {form} chunk at byte {at} declares {size} bytes but the file ends at {file_len}")));
        }
        at = end + (size & 1);
    }
    Ok(None)
}

fn iso_boxes(file: &mut File, file_len: u64) -> std::io::Result<Option<String>> {
    let mut at = 0u64;
    while at + 8 <= file_len {
        let mut h = [0u8; 16];
        let n = read_at(file, at, &mut h)?;
        let size32 = u64::from(u32::from_be_bytes([h[0], h[1], h[2], h[3]]));
        let kind = String::from_utf8_lossy(&h[4..8]).into_owned();
        let size = match size32 {
            0 => return Ok(None), // the box extends to the end of the file
            1 if n >= 16 => u64::from_be_bytes(h[8..16].try_into().expect("8 bytes")),
            1 => return Ok(Some(format!("the `{kind}` box header at byte {at} is cut"))),
            s => s,
        };
        if size < 8 {
            return Ok(None); // not a box structure we understand; FFmpeg's own checks apply
        }
        if at + size > file_len {
            return Ok(Some(format!("the `{kind}` box at byte {at} declares {size} bytes but the file ends at {file_len}")));
        }
        at += size;
    }
    Ok(None)
}

fn asf_objects(file: &mut File, file_len: u64) -> std::io::Result<Option<String>> {
    let mut at = 0u64;
    while at + 24 <= file_len {
        let mut h = [0u8; 24];
        read_at(file, at, &mut h)?;
        let size = u64::from_le_bytes(h[16..24].try_into().expect("8 bytes"));
        if size < 24 {
            return Ok(None); // unset (a live stream) or not an object
        }
        if at + size > file_len {
            return Ok(Some(format!("the ASF object at byte {at} declares {size} bytes but the file ends at {file_len}")));
        }
        at += size;
    }
    Ok((at != file_len).then(|| format!("the ASF object header at byte {at} is cut")))
}

/// The Ogg page CRC: CRC-32 with polynomial 0x04C11DB7, not reflected, initial value 0.
fn ogg_crc(data: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &b in data {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 { (crc << 1) ^ 0x04C1_1DB7 } else { crc << 1 };
        }
    }
    crc
}

/// Length of the Ogg page at the start of `b` if it is complete and its CRC is right; `Err(needed)` when
/// `b` ends inside it; `Ok(None)` when it is no valid page.
fn ogg_page(b: &[u8]) -> Result<Option<usize>, usize> {
    if b.len() < 27 {
        return Err(27);
    }
    if &b[0..4] != b"OggS" || b[4] != 0 {
        return Ok(None);
    }
    let segments = usize::from(b[26]);
    if b.len() < 27 + segments {
        return Err(27 + segments);
    }
    let len = 27 + segments + b[27..27 + segments].iter().map(|&s| usize::from(s)).sum::<usize>();
    if b.len() < len {
        return Err(len);
    }
    let mut page = b[..len].to_vec();
    let stored = u32::from_le_bytes([page[22], page[23], page[24], page[25]]);
    page[22..26].fill(0);
    Ok((ogg_crc(&page) == stored).then_some(len))
}

fn ogg_tail(file: &mut File, file_len: u64) -> std::io::Result<Option<String>> {
    // A page is at most 65 307 bytes, so this window holds several whole pages.
    const WINDOW: u64 = 256 * 1024;
    let start = file_len.saturating_sub(WINDOW);
    let mut buf = vec![0u8; (file_len - start) as usize];
    let n = read_at(file, start, &mut buf)?;
    buf.truncate(n);
    // Synchronise on the first page with a valid CRC (a bare "OggS" may occur inside packet data), then
    // walk page by page to the end.
    let mut at = 0;
    let mut synced = false;
    let mut eos = false;
    while at < buf.len() {
        match ogg_page(&buf[at..]) {
            Ok(Some(len)) => {
                synced = true;
                eos |= buf[at + 5] & 0x04 != 0;
                at += len;
            }
            Ok(None) if !synced => at += 1,
            Ok(None) => {
                // Damage inside the tail: resynchronise rather than guess.
                synced = false;
                at += 1;
            }
            Err(needed) if synced => {
                let page_at = start + at as u64;
                return Ok(Some(format!(
                    "the last Ogg page at byte {page_at} needs {needed} bytes but the file ends after {}",
                    file_len - page_at
                )));
            }
            Err(_) => at += 1,
        }
    }
    Ok((synced && !eos).then(|| "the Ogg stream has no end-of-stream page (the file was cut at a page boundary)".to_string()))
}

/// Where the packets after the pack header at `at` end: `Ok(true)` exactly at the end of `b`,
/// `Ok(false)` past it (cut), `Err(())` when the bytes are not a pack structure (a false start code).
fn mpeg_ps_walk(b: &[u8], mut at: usize) -> Result<bool, ()> {
    loop {
        if at == b.len() {
            return Ok(true);
        }
        if b.len() < at + 6 {
            return Ok(false);
        }
        if b[at..at + 3] != [0, 0, 1] {
            return Err(());
        }
        at += match b[at + 3] {
            0xBA if b[at + 4] & 0xC0 == 0x40 => {
                if b.len() < at + 14 {
                    return Ok(false);
                }
                14 + usize::from(b[at + 13] & 7) // MPEG-2 pack header and its stuffing
            }
            0xBA if b[at + 4] & 0xF0 == 0x20 => 12, // MPEG-1 pack header
            0xB9 => 4,                              // program end code
            0xBB..=0xFF => 6 + usize::from(u16::from_be_bytes([b[at + 4], b[at + 5]])),
            _ => return Err(()),
        };
        if at > b.len() {
            return Ok(false);
        }
    }
}

fn mpeg_ps_tail(file: &mut File, file_len: u64) -> std::io::Result<Option<String>> {
    // Packets are at most 65 541 bytes, so the last pack header lies within this window.
    const WINDOW: u64 = 256 * 1024;
    let start = file_len.saturating_sub(WINDOW);
    let mut buf = vec![0u8; (file_len - start) as usize];
    let n = read_at(file, start, &mut buf)?;
    buf.truncate(n);
    // The last few pack start codes, latest first: a bare 00 00 01 BA inside audio data fails the walk.
    let packs = (0..buf.len().saturating_sub(4)).rev().filter(|&i| buf[i..i + 4] == [0, 0, 1, 0xBA]).take(4);
    for at in packs {
        match mpeg_ps_walk(&buf, at) {
            Ok(true) => return Ok(None),
            Ok(false) => {
                return Ok(Some(format!("the last MPEG-PS pack at byte {} is cut (the file ends at {file_len})", start + at as u64)));
            }
            Err(()) => {}
        }
    }
    Ok(None)
}

fn flv_tags(file: File, file_len: u64) -> std::io::Result<Option<String>> {
    let mut r = std::io::BufReader::with_capacity(64 * 1024, file);
    let mut head = [0u8; 9];
    if r.read_exact(&mut head).is_err() || &head[..3] != b"FLV" {
        return Ok(None);
    }
    // Header, then (PreviousTagSize, tag header, tag data) repeated; the file ends with a PreviousTagSize.
    let mut at = u64::from(u32::from_be_bytes([head[5], head[6], head[7], head[8]]));
    r.seek(SeekFrom::Start(at))?;
    loop {
        if at + 4 >= file_len {
            // The closing PreviousTagSize, or its absence after a whole tag; some writers omit it.
            return Ok((at + 4 > file_len && at != file_len).then(|| format!("the last FLV tag size at byte {at} is cut")));
        }
        let mut tag = [0u8; 15];
        if r.read_exact(&mut tag).is_err() {
            return Ok(Some(format!("the FLV tag header at byte {} is cut (the file ends at {file_len})", at + 4)));
        }
        if !matches!(tag[4] & 0x1f, 8 | 9 | 18) {
            return Ok(None); // not a tag we understand (damage); the demuxer's own resync applies
        }
        let size = u64::from(u32::from_be_bytes([0, tag[5], tag[6], tag[7]]));
        let end = at + 4 + 11 + size;
        if end > file_len {
            return Ok(Some(format!("the FLV tag at byte {} declares {size} bytes but the file ends at {file_len}", at + 4)));
        }
        r.seek_relative(size as i64)?;
        at = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ebml_vints() {
        assert_eq!(ebml_vint(&[0x1A, 0x45, 0xDF, 0xA3], true), Some((0x1A45_DFA3, 4, false)));
        assert_eq!(ebml_vint(&[0x81], false), Some((1, 1, false)));
        assert_eq!(ebml_vint(&[0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], false).map(|v| v.2), Some(true));
        assert_eq!(ebml_vint(&[0x40, 0x02], false), Some((2, 2, false)));
        assert_eq!(ebml_vint(&[0x00], false), None);
        // An 8-byte size: the first byte holds only the marker.
        assert_eq!(ebml_vint(&[0x01, 0, 0, 0, 0, 0, 0x13, 0x02], false), Some((0x1302, 8, false)));
    }
}
