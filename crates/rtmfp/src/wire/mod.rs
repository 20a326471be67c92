//! Wire codecs: VLUs, option lists, addresses, chunks and packet framing (RFC 7016 §2).
//!
//! Every decoder here takes untrusted bytes and returns [`DecodeError`] rather than panicking;
//! none allocates in proportion to a length field it has not checked against the input.

pub mod address;
pub mod chunk;
mod error;
pub mod option;
pub mod packet;
mod reader;
pub mod vlu;

pub use address::{AddressOrigin, PeerAddress};
pub use chunk::{AckRange, Chunk, FragmentControl, UserData};
pub use error::DecodeError;
pub use packet::{scramble_session_id, unscramble_session_id, ChunkIter, Mode, PacketHeader};
pub use reader::Reader;
