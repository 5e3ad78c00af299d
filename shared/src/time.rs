//! Timestamps as the contract writes them: RFC 3339 UTC with milliseconds (`2026-11-22T10:00:00.123Z`).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A UTC instant that always serialises with millisecond precision and a `Z`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, examples("2026-11-22T10:00:00.123Z")))]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        Self(Utc::now())
    }

    /// The current time at the database's precision (microseconds), so that a value answered
    /// right after a write equals the one read back later.
    pub fn now_micros() -> Self {
        let now = Utc::now();
        Self(DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now))
    }

    /// The contract's text form.
    pub fn to_rfc3339(&self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::Millis, true)
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(t: DateTime<Utc>) -> Self {
        Self(t)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s).map(|t| Self(t.with_timezone(&Utc))).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_with_millis_and_z() {
        let t = Timestamp(DateTime::parse_from_rfc3339("2026-11-22T10:00:00.123456Z").unwrap().into());
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"2026-11-22T10:00:00.123Z\"");
        let back: Timestamp = serde_json::from_str("\"2026-11-22T10:00:00.123Z\"").unwrap();
        assert_eq!(back.to_rfc3339(), "2026-11-22T10:00:00.123Z");
    }
}
