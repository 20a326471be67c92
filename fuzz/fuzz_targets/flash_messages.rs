//! Flash-layer decoders on arbitrary bytes: flow metadata, TC messages, AMF0 commands and data
//! (behind the allocation/recursion guard), user control events, GC join/introduction. None
//! may panic; AMF that passes the guard must re-encode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmfp_flash::{amf, Command, FlowSignature, GcMessage, TcMessage, UserControl};

fuzz_target!(|data: &[u8]| {
    let _ = FlowSignature::decode(data);
    let _ = GcMessage::decode(data);
    let _ = UserControl::decode(data);
    if let Ok(values) = amf::decode_values(data, 64) {
        let _ = amf::encode_values(&values);
    }
    if let Ok(m) = TcMessage::decode(data) {
        let _ = Command::decode_message(&m);
    }
});
