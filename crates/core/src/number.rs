//! Phone numbers as people search for them.
//!
//! Retarus echoes a recipient number as the sender wrote it (`+49 89 1234567-8900`) and the
//! dialled number with a `00` prefix (`00498912345678900`). A search must find both with any
//! of those spellings, so numbers are compared by their digits after the international
//! prefix.

/// The digits of `number` after an international prefix (`+` or `00`), without spaces,
/// dashes, slashes or brackets.
pub fn search_digits(number: &str) -> String {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let international_with_plus = number.trim_start().starts_with('+');
    match digits.strip_prefix("00") {
        Some(rest) if !international_with_plus => rest.to_owned(),
        _ => digits,
    }
}

/// A number safe for logs: all but the last three digits masked.
pub fn redact(number: &str) -> String {
    let digits: Vec<char> = number.chars().filter(char::is_ascii_digit).collect();
    let visible = digits.len().saturating_sub(3);
    digits
        .iter()
        .enumerate()
        .map(|(i, &digit)| if i < visible { '*' } else { digit })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_number_share_their_search_digits() {
        let expected = "498912345678900";
        for spelling in [
            "+49 89 1234567-8900",
            "00498912345678900",
            "+498912345678900",
            "0049 (89) 1234567/8900",
        ] {
            assert_eq!(search_digits(spelling), expected, "{spelling}");
        }
    }

    #[test]
    fn redaction_keeps_only_the_last_digits() {
        assert_eq!(redact("+49 89 123"), "****123");
        assert_eq!(redact("12"), "12");
    }
}
