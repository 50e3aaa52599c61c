//! Cutting and cleaning text that comes from outside before it is stored.

/// Shortens `text` to at most `max_bytes`, at a character boundary (`String::truncate`
/// panics inside a multi-byte character).
pub fn truncate(text: &mut String, max_bytes: usize) {
    if text.len() <= max_bytes {
        return;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
}

/// `text` with NUL characters replaced by U+FFFD: PostgreSQL's `text` and `jsonb` refuse
/// NUL, and a receiver's answer may well contain one.
pub fn without_nul(text: String) -> String {
    if text.contains('\0') {
        text.replace('\0', "\u{FFFD}")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_never_splits_a_character() {
        let mut text = format!("{}é", "a".repeat(63));
        truncate(&mut text, 64);
        assert_eq!(text, "a".repeat(63));
        let mut short = "abc".to_owned();
        truncate(&mut short, 64);
        assert_eq!(short, "abc");
    }

    #[test]
    fn nul_characters_are_replaced() {
        assert_eq!(without_nul("a\0b".to_owned()), "a\u{FFFD}b");
    }
}
