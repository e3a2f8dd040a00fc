//! The on-disk layout of a shard: a fixed header, an index of fixed-size entries, then the payload.
//! Everything is little-endian; see FORMAT.md for the table this code implements.

/// First 8 bytes of every shard.
pub const MAGIC: [u8; 8] = *b"CAESHRD\0";
/// The format version this build writes and reads.
pub const VERSION: u32 = 1;
/// Bytes in the header, its own checksum included.
pub const HEADER_LEN: usize = 64;
/// Bytes in one index entry.
pub const ENTRY_LEN: usize = 32;
/// Label of a record from an unlabelled source (a plain folder).
pub const NO_LABEL: u32 = u32::MAX;
/// Channels of every stored image: RGB (grayscale and CMYK are converted at prep time).
pub const CHANNELS: u32 = 3;

/// How the records' bytes encode an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// u8 RGB, height-width-channel, every record `side × side × 3` bytes.
    Raw,
    /// A baseline JPEG whose longer side is at most `side`.
    Jpeg,
}

impl Encoding {
    fn code(self) -> u32 {
        match self {
            Encoding::Raw => 0,
            Encoding::Jpeg => 1,
        }
    }

    fn from_code(code: u32) -> Option<Self> {
        match code {
            0 => Some(Encoding::Raw),
            1 => Some(Encoding::Jpeg),
            _ => None,
        }
    }
}

/// The decoded header: what every record shares and where the parts of the file lie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub encoding: Encoding,
    /// Raw: the side of every (square) record. JPEG: the largest allowed side.
    pub side: u32,
    /// JPEG quality used at prep time (0 for raw shards).
    pub quality: u32,
    pub record_count: u64,
    /// Length of the payload in bytes; the file is exactly `payload_offset() + payload_len` long.
    pub payload_len: u64,
    /// CRC32 of the index bytes.
    pub index_crc: u32,
}

/// Why a header could not be decoded (the reader adds the path).
#[derive(Debug, PartialEq, Eq)]
pub enum HeaderProblem {
    Magic(Vec<u8>),
    Version(u32),
    Checksum,
    Field(String),
}

impl Header {
    /// Byte offset of the index: right after the header.
    pub fn index_offset(&self) -> u64 {
        HEADER_LEN as u64
    }

    /// Byte offset of the payload: right after the index.
    pub fn payload_offset(&self) -> u64 {
        HEADER_LEN as u64 + self.record_count * ENTRY_LEN as u64
    }

    /// The length the whole file must have.
    pub fn file_len(&self) -> u64 {
        self.payload_offset() + self.payload_len
    }

    /// Serialises the header, checksum last.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..8].copy_from_slice(&MAGIC);
        b[8..12].copy_from_slice(&VERSION.to_le_bytes());
        b[12..16].copy_from_slice(&self.encoding.code().to_le_bytes());
        b[16..24].copy_from_slice(&self.record_count.to_le_bytes());
        b[24..28].copy_from_slice(&self.side.to_le_bytes());
        b[28..32].copy_from_slice(&CHANNELS.to_le_bytes());
        b[32..36].copy_from_slice(&self.quality.to_le_bytes());
        b[36..40].copy_from_slice(&self.index_crc.to_le_bytes());
        b[40..48].copy_from_slice(&self.payload_len.to_le_bytes());
        // 48..60 reserved, zero.
        let crc = crc32fast::hash(&b[..HEADER_LEN - 4]);
        b[HEADER_LEN - 4..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Parses and checks a header: magic, version, checksum, then field values.
    pub fn from_bytes(b: &[u8; HEADER_LEN]) -> Result<Self, HeaderProblem> {
        if b[0..8] != MAGIC {
            return Err(HeaderProblem::Magic(b[0..8].to_vec()));
        }
        let version = u32_at(b, 8);
        if version != VERSION {
            return Err(HeaderProblem::Version(version));
        }
        if crc32fast::hash(&b[..HEADER_LEN - 4]) != u32_at(b, HEADER_LEN - 4) {
            return Err(HeaderProblem::Checksum);
        }
        let code = u32_at(b, 12);
        let encoding = Encoding::from_code(code).ok_or_else(|| HeaderProblem::Field(format!("encoding {code}")))?;
        let channels = u32_at(b, 28);
        if channels != CHANNELS {
            return Err(HeaderProblem::Field(format!("{channels} channels, expected {CHANNELS}")));
        }
        let header = Header {
            encoding,
            record_count: u64_at(b, 16),
            side: u32_at(b, 24),
            quality: u32_at(b, 32),
            index_crc: u32_at(b, 36),
            payload_len: u64_at(b, 40),
        };
        if header.side == 0 {
            return Err(HeaderProblem::Field("side 0".into()));
        }
        Ok(header)
    }
}

/// One index entry: where a record lies in the payload and what is known about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    /// Offset from the start of the payload.
    pub offset: u64,
    pub len: u32,
    /// Class label, or [`NO_LABEL`].
    pub label: u32,
    /// Size of the source image (after EXIF rotation), before any prep-time resize.
    pub orig_width: u32,
    pub orig_height: u32,
    /// CRC32 of the record's bytes.
    pub crc: u32,
}

impl IndexEntry {
    /// Serialises the entry (the last 4 bytes are reserved, zero).
    pub fn to_bytes(&self) -> [u8; ENTRY_LEN] {
        let mut b = [0u8; ENTRY_LEN];
        b[0..8].copy_from_slice(&self.offset.to_le_bytes());
        b[8..12].copy_from_slice(&self.len.to_le_bytes());
        b[12..16].copy_from_slice(&self.label.to_le_bytes());
        b[16..20].copy_from_slice(&self.orig_width.to_le_bytes());
        b[20..24].copy_from_slice(&self.orig_height.to_le_bytes());
        b[24..28].copy_from_slice(&self.crc.to_le_bytes());
        b
    }

    /// Parses an entry (no checks: the reader checks entries against the header).
    pub fn from_bytes(b: &[u8]) -> Self {
        IndexEntry {
            offset: u64_at(b, 0),
            len: u32_at(b, 8),
            label: u32_at(b, 12),
            orig_width: u32_at(b, 16),
            orig_height: u32_at(b, 20),
            crc: u32_at(b, 24),
        }
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header { encoding: Encoding::Jpeg, side: 512, quality: 90, record_count: 7, payload_len: 1234, index_crc: 99 }
    }

    #[test]
    fn header_round_trips() {
        assert_eq!(Header::from_bytes(&header().to_bytes()), Ok(header()));
    }

    #[test]
    fn header_damage_is_named() {
        let mut b = header().to_bytes();
        b[0] = b'X';
        assert!(matches!(Header::from_bytes(&b), Err(HeaderProblem::Magic(_))));
        let mut b = header().to_bytes();
        b[8] = 2;
        assert_eq!(Header::from_bytes(&b), Err(HeaderProblem::Version(2)));
        let mut b = header().to_bytes();
        b[20] ^= 1;
        assert_eq!(Header::from_bytes(&b), Err(HeaderProblem::Checksum));
    }

    #[test]
    fn entry_round_trips() {
        let e = IndexEntry { offset: 1 << 40, len: 5, label: NO_LABEL, orig_width: 640, orig_height: 480, crc: 7 };
        assert_eq!(IndexEntry::from_bytes(&e.to_bytes()), e);
    }
}
