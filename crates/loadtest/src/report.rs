//! Report bodies for load: the REST layout, about 600 bytes, unique per sequence number.

use std::sync::OnceLock;

fn run_id() -> &'static str {
    static RUN: OnceLock<String> = OnceLock::new();
    RUN.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("{:08X}", (nanos % 0xFFFF_FFFF) as u32)
    })
}

/// A unique report; every third one has a failed recipient.
pub fn unique(sequence: u64) -> String {
    let status = if sequence.is_multiple_of(3) {
        ("BUSY", "Destination number busy")
    } else {
        ("OK", "OK")
    };
    format!(
        r#"{{"jobId":"FJ{run}{sequence:010}","recipientStatus":[{{"number":"+49 89 {number:08}","alternativeNumbers":null,"properties":[{{"key":"ToName","value":"Load Test Recipient"}},{{"key":"SubjectTitle","value":"Invoice {sequence}"}}],"status":"{status}","reason":"{reason}","sentTs":"2026-11-30T09:12:44Z","durationInSecs":41,"sentToNumber":"004989{number:08}","remoteCsid":"+49/89/1234567-8900"}}],"pages":2,"reference":{{"customerDefinedId":"load-{sequence}","billingCode":"BC-17","billingInfo":"load test"}}}}"#,
        run = run_id(),
        number = sequence % 100_000_000,
        status = status.0,
        reason = status.1,
    )
}

/// The sequence number of a report from a body that mentions its job id (any template
/// that names `report.job_id`).
pub fn sequence_in(body: &[u8]) -> Option<u64> {
    let run = run_id().as_bytes();
    let start = body
        .windows(run.len() + 2)
        .position(|w| w[..2] == *b"FJ" && &w[2..] == run)?
        + 2
        + run.len();
    let digits = body.get(start..start + 10)?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sequence_is_read_back_from_a_body() {
        assert_eq!(sequence_in(unique(1234).as_bytes()), Some(1234));
        assert_eq!(sequence_in(b"{}"), None);
    }
}
