//! IAM: roles (trust, managed policies, one inline policy) and instance profiles.

pub mod instance_profile;
pub mod role;

/// IAM returns policy documents URL-encoded; compare them as canonical JSON.
pub fn canonical_policy(text: &str) -> String {
    let decoded = percent_decode(text);
    serde_json::from_str::<serde_json::Value>(&decoded).map(|v| crate::documents::canonical_json(&v)).unwrap_or(decoded)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' => match (bytes.get(i + 1).and_then(|b| hex(*b)), bytes.get(i + 2).and_then(|b| hex(*b))) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_canonicalises_policy_documents() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(canonical_policy(encoded), r#"{"Statement":[],"Version":"2012-10-17"}"#);
        assert_eq!(
            canonical_policy(r#"{ "Version": "2012-10-17", "Statement": [] }"#),
            r#"{"Statement":[],"Version":"2012-10-17"}"#
        );
        assert_eq!(percent_decode("100%"), "100%");
    }
}
