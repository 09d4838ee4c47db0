//! The attachment rmw_zenoh puts on every sample and drops samples
//! without: sequence number, source timestamp and the publisher's GID, in
//! Zenoh's own serialization format (`zenoh-ext`): two little-endian
//! `i64`, then the 16-byte GID behind its one-byte length. 33 bytes.

use zenoh_ext::{z_deserialize, ZSerializer};

use super::Ros2Error;

/// Bytes in a publisher GID (`RMW_GID_STORAGE_SIZE` since Iron).
pub const GID_BYTES: usize = 16;
/// Bytes of an encoded attachment.
pub const ATTACHMENT_BYTES: usize = 8 + 8 + 1 + GID_BYTES;

/// One sample's attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attachment {
    /// Counts the publisher's samples from 1.
    pub sequence_number: i64,
    /// When the sample was published, ns since the Unix epoch.
    pub source_timestamp_ns: i64,
    /// The publisher's global id.
    pub source_gid: [u8; GID_BYTES],
}

impl Attachment {
    /// The wire form (33 bytes).
    pub fn encode(&self) -> zenoh::bytes::ZBytes {
        let mut s = ZSerializer::new();
        s.serialize(self.sequence_number);
        s.serialize(self.source_timestamp_ns);
        s.serialize(&self.source_gid[..]);
        s.finish()
    }

    /// Reads an attachment, refusing any other shape.
    pub fn decode(bytes: &zenoh::bytes::ZBytes) -> Result<Self, Ros2Error> {
        let malformed = |why: &str| Ros2Error::Attachment(why.to_string());
        if bytes.len() != ATTACHMENT_BYTES {
            return Err(malformed(&format!("{} bytes, expected {ATTACHMENT_BYTES}", bytes.len())));
        }
        let (sequence_number, source_timestamp_ns, gid) =
            z_deserialize::<(i64, i64, Vec<u8>)>(bytes).map_err(|_| malformed("not (i64, i64, bytes)"))?;
        let source_gid = gid.try_into().map_err(|_| malformed("the GID is not 16 bytes"))?;
        Ok(Attachment { sequence_number, source_timestamp_ns, source_gid })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attachment_is_33_bytes_and_reads_back() {
        let a = Attachment { sequence_number: 7, source_timestamp_ns: -3, source_gid: [0xab; GID_BYTES] };
        let bytes = a.encode();
        let raw = bytes.to_bytes();
        assert_eq!(raw.len(), 33);
        assert_eq!(&raw[..8], 7i64.to_le_bytes());
        assert_eq!(&raw[8..16], (-3i64).to_le_bytes());
        assert_eq!(raw[16], 16, "the GID's length");
        assert_eq!(Attachment::decode(&bytes).unwrap(), a);
        let short = zenoh::bytes::ZBytes::from(raw[..32].to_vec());
        assert!(Attachment::decode(&short).is_err());
    }
}
