//! AMF command messages: `name, transactionID, [command object], args…` (RFC 7425 §5.3;
//! docs/protocol/flash.md, "TC message framing" to "NetConnection sequence"), and the NetConnection
//! commands built on them.

use crate::amf::{self, object, string, Value};
use crate::message::{self, kind, TcMessage};
use crate::FlashError;

/// Most AMF values accepted in one command from the network.
pub const MAX_COMMAND_VALUES: usize = 64;

/// A command message.
///
/// `arguments` holds everything after the transaction ID, including the command object (often
/// `null`) when the sender wrote one: librtmfp ends `setPeerInfo` and `createStream` right after
/// the transaction ID, Flash writes a `null` first (docs/protocol/flash.md, "TC message framing"),
/// and keeping the values as sent makes decoding and re-encoding byte-exact.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// Command name (`connect`, `_result`, `onStatus`, `setPeerInfo`, …).
    pub name: String,
    /// Transaction ID; 0 for commands that expect no answer.
    pub transaction_id: f64,
    /// The values after the transaction ID.
    pub arguments: Vec<Value>,
}

impl Command {
    /// A command with `name`, `transaction_id` and `arguments`.
    pub fn new(name: impl Into<String>, transaction_id: f64, arguments: Vec<Value>) -> Self {
        Command {
            name: name.into(),
            transaction_id,
            arguments,
        }
    }

    /// Decodes the AMF body of a command message (type 0x14, or 0x11 after its 0x00 byte).
    /// Errors: [`FlashError::Amf`] for bad AMF, [`FlashError::NotACommand`] when the first two
    /// values are not a string and a number.
    pub fn decode_body(body: &[u8]) -> Result<Self, FlashError> {
        let mut values = amf::decode_values(body, MAX_COMMAND_VALUES)?.into_iter();
        let name = match values.next() {
            Some(Value::String(s)) => s,
            _ => return Err(FlashError::NotACommand),
        };
        let transaction_id = match values.next() {
            Some(Value::Number(n)) => n,
            _ => return Err(FlashError::NotACommand),
        };
        Ok(Command {
            name,
            transaction_id,
            arguments: values.collect(),
        })
    }

    /// Decodes a whole command message. Errors as [`Command::decode_body`], plus
    /// [`FlashError::NotACommand`] for other message types.
    pub fn decode_message(msg: &TcMessage<'_>) -> Result<Self, FlashError> {
        match msg.kind {
            kind::AMF0_COMMAND | kind::AMF3_COMMAND => {
                Self::decode_body(msg.amf_body().ok_or(FlashError::NotACommand)?)
            }
            _ => Err(FlashError::NotACommand),
        }
    }

    /// The AMF0 body.
    pub fn encode_body(&self) -> Vec<u8> {
        let mut out = amf::encode_values(&[
            string(self.name.clone()),
            Value::Number(self.transaction_id),
        ]);
        out.extend(amf::encode_values(&self.arguments));
        out
    }

    /// The whole message as AMF0 command (type 0x14) with `timestamp` (ms).
    pub fn to_message(&self, timestamp: u32) -> Vec<u8> {
        message::encode(kind::AMF0_COMMAND, timestamp, &self.encode_body())
    }

    /// The whole message as AMF3 command (type 0x11, a 0x00 byte then AMF0), as Flash sends
    /// `setPeerInfo`.
    pub fn to_amf3_message(&self, timestamp: u32) -> Vec<u8> {
        let mut payload = vec![0u8];
        payload.extend(self.encode_body());
        message::encode(kind::AMF3_COMMAND, timestamp, &payload)
    }

    /// The first argument that is not `null`: the info object of `_result`, `_error` and
    /// `onStatus`, or the command object of `connect`.
    pub fn info(&self) -> Option<&Value> {
        self.arguments.iter().find(|v| !matches!(v, Value::Null))
    }

    /// Every string argument, in order (the addresses of `setPeerInfo`).
    pub fn string_arguments(&self) -> impl Iterator<Item = &str> {
        self.arguments.iter().filter_map(|v| match v {
            Value::String(s) => Some(s.as_str()),
            _ => None,
        })
    }
}

/// The command object Flash sends with `connect` (docs/protocol/flash.md, "NetConnection
/// sequence"): `app`, `flashVer`, `swfUrl`, `tcUrl`, `fpad`, `capabilities` 235, `audioCodecs`
/// 3575, `videoCodecs` 252, `videoFunction` 1, `pageUrl`, `objectEncoding` 3.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectParams {
    /// Application path (`app`), the URL path without the leading slash.
    pub app: String,
    /// Player version string (`flashVer`).
    pub flash_ver: String,
    /// The URL connected to (`tcUrl`).
    pub tc_url: String,
    /// `swfUrl`.
    pub swf_url: String,
    /// `pageUrl`.
    pub page_url: String,
    /// AMF encoding the client wants: 3 for Flash Player 9 and later.
    pub object_encoding: f64,
}

impl ConnectParams {
    /// Parameters for `url` (`rtmfp://host[:port]/app`), with our `flashVer`.
    pub fn for_url(url: &str) -> Self {
        ConnectParams {
            app: app_of_url(url).to_string(),
            flash_ver: concat!("RTMFPGROUPS ", env!("CARGO_PKG_VERSION")).to_string(),
            tc_url: url.to_string(),
            swf_url: String::new(),
            page_url: String::new(),
            object_encoding: 3.0,
        }
    }

    /// The command object.
    pub fn to_value(&self) -> Value {
        object([
            ("app", string(self.app.clone())),
            ("flashVer", string(self.flash_ver.clone())),
            ("swfUrl", string(self.swf_url.clone())),
            ("tcUrl", string(self.tc_url.clone())),
            ("fpad", Value::Boolean(false)),
            ("capabilities", Value::Number(235.0)),
            ("audioCodecs", Value::Number(3575.0)),
            ("videoCodecs", Value::Number(252.0)),
            ("videoFunction", Value::Number(1.0)),
            ("pageUrl", string(self.page_url.clone())),
            ("objectEncoding", Value::Number(self.object_encoding)),
        ])
    }

    /// Reads the parameters back from a `connect` command object; missing fields are empty.
    pub fn from_value(v: &Value) -> Self {
        let s = |k: &str| amf::string_property(v, k).unwrap_or_default().to_string();
        ConnectParams {
            app: s("app"),
            flash_ver: s("flashVer"),
            tc_url: s("tcUrl"),
            swf_url: s("swfUrl"),
            page_url: s("pageUrl"),
            object_encoding: match amf::property(v, "objectEncoding") {
                Some(Value::Number(n)) => *n,
                _ => 0.0,
            },
        }
    }

    /// `connect(1.0, params)`.
    pub fn to_command(&self) -> Command {
        Command::new("connect", 1.0, vec![self.to_value()])
    }
}

/// The application path of an RTMFP URL: what follows `host[:port]/`, e.g. `app` for
/// `rtmfp://127.0.0.1/app`, empty for `rtmfp://127.0.0.1` or `rtmfp:`.
pub fn app_of_url(url: &str) -> &str {
    let rest = url.strip_prefix("rtmfp://").unwrap_or("");
    match rest.find('/') {
        Some(i) => rest[i + 1..].trim_end_matches('/'),
        None => "",
    }
}

/// A status info object: `{level, code, description}` (NetStatusEvent.info).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// `status` or `error`.
    pub level: String,
    /// E.g. `NetConnection.Connect.Success`.
    pub code: String,
    /// Human-readable text.
    pub description: String,
}

/// Status codes of NetConnection (Flash `NetStatusEvent` info codes).
pub mod codes {
    /// The connection attempt succeeded.
    pub const CONNECT_SUCCESS: &str = "NetConnection.Connect.Success";
    /// The connection attempt failed (no answer, keying failure, …).
    pub const CONNECT_FAILED: &str = "NetConnection.Connect.Failed";
    /// The server refused the connection (e.g. unknown application).
    pub const CONNECT_REJECTED: &str = "NetConnection.Connect.Rejected";
    /// The connection closed.
    pub const CONNECT_CLOSED: &str = "NetConnection.Connect.Closed";
    /// The application name is invalid.
    pub const CONNECT_INVALID_APP: &str = "NetConnection.Connect.InvalidApp";
}

impl Status {
    /// A status with level `status`.
    pub fn info(code: &str, description: &str) -> Self {
        Status {
            level: "status".into(),
            code: code.into(),
            description: description.into(),
        }
    }

    /// A status with level `error`.
    pub fn error(code: &str, description: &str) -> Self {
        Status {
            level: "error".into(),
            code: code.into(),
            description: description.into(),
        }
    }

    /// Reads `level`, `code`, `description` from an info object.
    pub fn from_value(v: &Value) -> Option<Self> {
        Some(Status {
            level: amf::string_property(v, "level").unwrap_or("status").into(),
            code: amf::string_property(v, "code")?.into(),
            description: amf::string_property(v, "description")
                .unwrap_or_default()
                .into(),
        })
    }

    /// The info object, with `extra` properties after the standard three.
    pub fn to_value(&self, extra: Vec<(&str, Value)>) -> Value {
        let mut entries = vec![
            ("level", string(self.level.clone())),
            ("code", string(self.code.clone())),
            ("description", string(self.description.clone())),
        ];
        entries.extend(extra);
        object(entries)
    }
}

/// `setPeerInfo(0, null, "ip:port"…)`: the addresses a client reports to its server, IPv6 as
/// `[addr]:port` (RFC 7425 §5.3.3; docs/protocol/flash.md, "NetConnection sequence").
pub fn set_peer_info(addresses: &[std::net::SocketAddr]) -> Command {
    let mut args = vec![Value::Null];
    args.extend(addresses.iter().map(|a| string(a.to_string())));
    Command::new("setPeerInfo", 0.0, args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_paths() {
        assert_eq!(app_of_url("rtmfp://127.0.0.1/app"), "app");
        assert_eq!(app_of_url("rtmfp://h:1935/live/x"), "live/x");
        assert_eq!(app_of_url("rtmfp://127.0.0.1"), "");
        assert_eq!(app_of_url("rtmfp:"), "");
    }

    #[test]
    fn connect_round_trip() {
        let p = ConnectParams::for_url("rtmfp://127.0.0.1/app");
        let msg = p.to_command().to_message(0);
        let m = TcMessage::decode(&msg).unwrap();
        let c = Command::decode_message(&m).unwrap();
        assert_eq!(c.name, "connect");
        assert_eq!(ConnectParams::from_value(c.info().unwrap()), p);
    }

    #[test]
    fn set_peer_info_addresses() {
        let c = set_peer_info(&["10.0.0.1:1".parse().unwrap(), "[::1]:2".parse().unwrap()]);
        let back = Command::decode_body(&c.encode_body()).unwrap();
        assert_eq!(
            back.string_arguments().collect::<Vec<_>>(),
            ["10.0.0.1:1", "[::1]:2"]
        );
    }

    #[test]
    fn non_commands_are_refused() {
        let body = amf::encode_values(&[Value::Number(1.0)]);
        assert_eq!(Command::decode_body(&body), Err(FlashError::NotACommand));
        let body = amf::encode_values(&[string("x")]);
        assert_eq!(Command::decode_body(&body), Err(FlashError::NotACommand));
    }
}
