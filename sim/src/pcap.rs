//! libpcap export: link type 101 (raw IPv4) with synthesized IPv4 and UDP headers, so Wireshark
//! shows the simulated traffic as UDP on port 1935 (decode as RTMFP where a dissector exists).

use std::io::{self, Write};
use std::net::SocketAddrV4;

/// `LINKTYPE_RAW`: packets start with an IPv4 header.
pub const LINKTYPE_RAW: u32 = 101;

/// Writes a pcap stream.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    packets: u64,
    ident: u16,
}

fn checksum(header: &[u8]) -> u16 {
    let mut sum = 0u32;
    for c in header.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

impl<W: Write> PcapWriter<W> {
    /// Writes the global header to `out`.
    pub fn new(mut out: W) -> io::Result<Self> {
        out.write_all(&0xa1b2_c3d4u32.to_le_bytes())?; // microsecond timestamps
        out.write_all(&2u16.to_le_bytes())?;
        out.write_all(&4u16.to_le_bytes())?;
        out.write_all(&0i32.to_le_bytes())?;
        out.write_all(&0u32.to_le_bytes())?;
        out.write_all(&65_535u32.to_le_bytes())?;
        out.write_all(&LINKTYPE_RAW.to_le_bytes())?;
        Ok(PcapWriter {
            out,
            packets: 0,
            ident: 0,
        })
    }

    /// Writes one UDP datagram from `src` to `dst` at `time_us` microseconds.
    pub fn write(
        &mut self,
        time_us: u64,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        payload: &[u8],
    ) -> io::Result<()> {
        let payload = &payload[..payload.len().min(65_507)];
        let total = 28 + payload.len();
        let mut ip = [0u8; 20];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        ip[4..6].copy_from_slice(&self.ident.to_be_bytes());
        self.ident = self.ident.wrapping_add(1);
        ip[6] = 0x40; // don't fragment
        ip[8] = 64;
        ip[9] = 17;
        ip[12..16].copy_from_slice(&src.ip().octets());
        ip[16..20].copy_from_slice(&dst.ip().octets());
        let c = checksum(&ip);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        let mut udp = [0u8; 8];
        udp[0..2].copy_from_slice(&src.port().to_be_bytes());
        udp[2..4].copy_from_slice(&dst.port().to_be_bytes());
        udp[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        // UDP checksum 0: "not computed", valid for IPv4.
        self.out
            .write_all(&((time_us / 1_000_000) as u32).to_le_bytes())?;
        self.out
            .write_all(&((time_us % 1_000_000) as u32).to_le_bytes())?;
        self.out.write_all(&(total as u32).to_le_bytes())?;
        self.out.write_all(&(total as u32).to_le_bytes())?;
        self.out.write_all(&ip)?;
        self.out.write_all(&udp)?;
        self.out.write_all(payload)?;
        self.packets += 1;
        Ok(())
    }

    /// Packets written.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Flushes and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_record_layout() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        w.write(
            1_500_000,
            "10.0.0.1:1935".parse().unwrap(),
            "10.0.0.2:1935".parse().unwrap(),
            b"abc",
        )
        .unwrap();
        let b = w.finish().unwrap();
        assert_eq!(b.len(), 24 + 16 + 28 + 3);
        assert_eq!(&b[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(u32::from_le_bytes(b[20..24].try_into().unwrap()), 101);
        assert_eq!(u32::from_le_bytes(b[24..28].try_into().unwrap()), 1);
        assert_eq!(u32::from_le_bytes(b[28..32].try_into().unwrap()), 500_000);
        let ip = &b[40..60];
        assert_eq!(ip[0], 0x45);
        assert_eq!(checksum(ip), 0, "header checksum verifies");
        assert_eq!(&b[60..62], &1935u16.to_be_bytes());
        assert_eq!(&b[68..], b"abc");
    }
}
