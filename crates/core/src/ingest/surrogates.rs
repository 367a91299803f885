//! Lone UTF-16 surrogates in JSON text. `JSON.stringify` escapes an unpaired surrogate as `\ud83d` (a string cut
//! mid-emoji, common in truncated model output); serde_json, rightly for UTF-8, refuses the whole document. The
//! event is worth keeping: each unpaired escape becomes `\ufffd` (the replacement character) and the text is parsed
//! again. Runs on the background (decode), only after a first parse failed, so valid events pay nothing.

/// The text with every unpaired `\uD800`–`\uDFFF` escape replaced by `\ufffd`, or `None` when there was none.
pub fn repair_lone_surrogates(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let mut out: Option<String> = None;
    // Bytes of `text` already copied into `out`.
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        // Any escape is two bytes (`\\`, `\"`, …) except `\uXXXX`; skipping both keeps `\\u` from being taken for one.
        let Some(unit) = escaped_unit(b, i) else {
            i += 2;
            continue;
        };
        let paired = match unit {
            0xD800..=0xDBFF => escaped_unit(b, i + 6).is_some_and(|next| (0xDC00..=0xDFFF).contains(&next)),
            0xDC00..=0xDFFF => false,
            _ => true,
        };
        if paired {
            // A valid pair is consumed whole, so its low half is never seen alone.
            i += if (0xD800..=0xDBFF).contains(&unit) { 12 } else { 6 };
            continue;
        }
        let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
        o.push_str(&text[copied..i]);
        o.push_str("\\ufffd");
        i += 6;
        copied = i;
    }
    out.map(|mut o| {
        o.push_str(&text[copied..]);
        o
    })
}

/// The code unit of a `\uXXXX` escape starting at `at`.
fn escaped_unit(b: &[u8], at: usize) -> Option<u32> {
    if b.get(at) != Some(&b'\\') || b.get(at + 1) != Some(&b'u') {
        return None;
    }
    let hex = b.get(at + 2..at + 6)?;
    u32::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> serde_json::Value {
        serde_json::from_str(&repair_lone_surrogates(text).unwrap_or_else(|| text.to_string())).unwrap()
    }

    #[test]
    fn unpaired_halves_become_the_replacement_character() {
        assert_eq!(parsed(r#"{"a":"cut \ud83d"}"#)["a"], "cut \u{fffd}");
        assert_eq!(parsed(r#"{"a":"\ude00 low first"}"#)["a"], "\u{fffd} low first");
        assert_eq!(parsed(r#"{"a":"\uD83D\uD83D\uDE00"}"#)["a"], "\u{fffd}😀");
        assert_eq!(parsed(r#"{"\ud800":"\udbff"}"#).as_object().unwrap().keys().next().unwrap(), "\u{fffd}");
        assert_eq!(parsed(r#"{"a":"end\ud83d"}"#)["a"], "end\u{fffd}");
    }

    #[test]
    fn valid_text_is_left_alone() {
        for t in [r#"{"a":"😀 \ud83d\ude00 \u00e9"}"#, r#"{"a":"\\ud83d is text"}"#, r#"{"a":"\\\ud83d\ude00"}"#, "{}"]
        {
            assert_eq!(repair_lone_surrogates(t), None, "{t}");
        }
        // An escaped backslash before `ud83d` is literal text, not an escape: nothing to repair there.
        assert_eq!(parsed(r#"{"a":"\\ud83d"}"#)["a"], "\\ud83d");
    }

    #[test]
    fn truncated_escapes_do_not_panic() {
        for t in ["\\", "\\u", "\\ud83", "\\ud83d\\", "\\ud83d\\u", "\\ud83d\\ude0", "é\\ud83dé"] {
            let _ = repair_lone_surrogates(t);
        }
    }
}
