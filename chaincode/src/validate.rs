//! Limits and identifier rules for every argument the contract accepts.
//!
//! Hostile input is refused before anything is read or written: each check
//! names the argument, what is wrong and what is allowed. Identifiers that end
//! up inside state keys can never contain `~` or control characters.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::error::ContractError;

/// Largest JSON argument accepted (the payload plus its envelope).
pub const MAX_ARG_BYTES: usize = 3 * 1024 * 1024 / 2;
/// Largest canonical payload accepted.
pub const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;
/// Longest identifier-like string (versions, package IDs, labels, ...).
pub const MAX_SHORT: usize = 256;
/// Longest free text (reasons, task details, error reports, policies).
pub const MAX_TEXT: usize = 4096;
/// Most organizations in a member list.
pub const MAX_MEMBERS: usize = 256;
/// Largest `page_size` for `list`.
pub const MAX_PAGE: usize = 200;

type R = Result<(), ContractError>;

fn no_control(field: &str, s: &str, allow_newlines: bool) -> R {
    if let Some(c) = s
        .chars()
        .find(|c| c.is_control() && !(allow_newlines && (*c == '\n' || *c == '\t')))
    {
        return Err(ContractError::bad(
            field,
            format!("contains the control character {:?}; use printable text", c),
        ));
    }
    Ok(())
}

fn len_within(field: &str, s: &str, min: usize, max: usize) -> R {
    let n = s.chars().count();
    if n < min {
        return Err(ContractError::bad(field, "is empty; a value is required"));
    }
    if n > max {
        return Err(ContractError::bad(
            field,
            format!("is {n} characters long; at most {max} are allowed"),
        ));
    }
    Ok(())
}

/// An MSP ID: 1–128 of `[A-Za-z0-9._-]`, starting with a letter or digit.
pub fn msp_id(field: &str, s: &str) -> R {
    len_within(field, s, 1, 128)?;
    let first_ok = s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_ok
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(ContractError::bad(
            field,
            format!(
                "{s:?} is not an MSP ID this contract accepts: use letters, digits, '.', '_' and '-', starting with a letter or digit"
            ),
        ));
    }
    Ok(())
}

/// A channel name as Fabric requires: `[a-z][a-z0-9.-]*`, under 250 characters.
pub fn channel_name(field: &str, s: &str) -> R {
    len_within(field, s, 1, 249)?;
    let mut chars = s.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    if !first_ok
        || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
    {
        return Err(ContractError::bad(
            field,
            format!("{s:?} is not a valid channel name: Fabric requires [a-z][a-z0-9.-]*"),
        ));
    }
    Ok(())
}

/// A chaincode name as Fabric requires: `[a-zA-Z0-9]+([-_][a-zA-Z0-9]+)*`.
pub fn chaincode_name(field: &str, s: &str) -> R {
    len_within(field, s, 1, 128)?;
    let ok = s
        .split(['-', '_'])
        .all(|seg| !seg.is_empty() && seg.chars().all(|c| c.is_ascii_alphanumeric()));
    if !ok {
        return Err(ContractError::bad(
            field,
            format!(
                "{s:?} is not a valid chaincode name: Fabric requires [a-zA-Z0-9]+([-_][a-zA-Z0-9]+)*"
            ),
        ));
    }
    Ok(())
}

/// A task name: `[a-z][a-z0-9_-]*`, at most 64 characters (`install`,
/// `approve`, `join`, `build`, ...).
pub fn task_name(field: &str, s: &str) -> R {
    len_within(field, s, 1, 64)?;
    let mut chars = s.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    if !first_ok
        || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    {
        return Err(ContractError::bad(
            field,
            format!(
                "{s:?} is not a valid task name: use [a-z][a-z0-9_-]*, e.g. install, approve, join"
            ),
        ));
    }
    Ok(())
}

/// A proposal ID: 64 lowercase hex digits.
pub fn proposal_id(field: &str, s: &str) -> R {
    hex_digits(field, s, &[64])
}

/// Lowercase hex of one of the given lengths.
pub fn hex_digits(field: &str, s: &str, lens: &[usize]) -> R {
    if !lens.contains(&s.len())
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        let want: Vec<String> = lens.iter().map(|n| n.to_string()).collect();
        return Err(ContractError::bad(
            field,
            format!("must be {} lowercase hex digits", want.join(" or ")),
        ));
    }
    Ok(())
}

/// A short single-line string: 1–256 characters, no control characters.
pub fn short(field: &str, s: &str) -> R {
    len_within(field, s, 1, MAX_SHORT)?;
    no_control(field, s, false)
}

/// Free text: 0–`max` characters, newlines and tabs allowed.
pub fn text(field: &str, s: &str, max: usize) -> R {
    len_within(field, s, 0, max)?;
    no_control(field, s, true)
}

/// Standard padded base64 that decodes to at least one byte, in its one
/// canonical spelling (so equal bytes always give an equal proposal ID).
pub fn base64_bytes(field: &str, s: &str) -> Result<Vec<u8>, ContractError> {
    let bytes = STANDARD
        .decode(s)
        .map_err(|e| ContractError::bad(field, format!("is not standard padded base64 ({e})")))?;
    if bytes.is_empty() {
        return Err(ContractError::bad(
            field,
            "decodes to no bytes; a value is required",
        ));
    }
    if STANDARD.encode(&bytes) != s {
        return Err(ContractError::bad(
            field,
            "is not in canonical base64 form (re-encode the bytes)",
        ));
    }
    Ok(bytes)
}

/// A sorted, duplicate-free list of valid MSP IDs, 1..=[`MAX_MEMBERS`] long.
pub fn member_list(field: &str, members: &[String]) -> Result<Vec<String>, ContractError> {
    if members.is_empty() {
        return Err(ContractError::bad(
            field,
            "is empty; at least one organization is required",
        ));
    }
    if members.len() > MAX_MEMBERS {
        return Err(ContractError::bad(
            field,
            format!(
                "has {} organizations; at most {MAX_MEMBERS} are allowed",
                members.len()
            ),
        ));
    }
    for (i, m) in members.iter().enumerate() {
        msp_id(&format!("{field}[{i}]"), m)?;
    }
    let mut sorted = members.to_vec();
    sorted.sort();
    if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Err(ContractError::bad(field, format!("lists {} twice", w[0])));
    }
    Ok(sorted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert!(msp_id("m", "Org1MSP").is_ok());
        assert!(msp_id("m", "org-1.example_MSP").is_ok());
        assert!(msp_id("m", "Org~1").is_err());
        assert!(msp_id("m", "").is_err());
        assert!(msp_id("m", "-Org").is_err());
        assert!(channel_name("c", "mychannel.v2-a").is_ok());
        assert!(channel_name("c", "MyChannel").is_err());
        assert!(channel_name("c", "1ch").is_err());
        assert!(chaincode_name("n", "basic").is_ok());
        assert!(chaincode_name("n", "asset-transfer_basic2").is_ok());
        assert!(chaincode_name("n", "bad--name").is_err());
        assert!(chaincode_name("n", "bad-").is_err());
        assert!(chaincode_name("n", "-bad").is_err());
        assert!(chaincode_name("n", "a.b").is_err());
        assert!(task_name("t", "install").is_ok());
        assert!(task_name("t", "Install").is_err());
        assert!(hex_digits("h", &"a".repeat(64), &[64]).is_ok());
        assert!(hex_digits("h", &"A".repeat(64), &[64]).is_err());
        assert!(hex_digits("h", &"a".repeat(40), &[40, 64]).is_ok());
    }

    #[test]
    fn base64_must_be_canonical() {
        assert_eq!(base64_bytes("b", "AQID").unwrap(), vec![1, 2, 3]);
        assert!(base64_bytes("b", "AQI").is_err());
        assert!(base64_bytes("b", "").is_err());
        assert!(base64_bytes("b", "AQJ=").is_err()); // non-zero trailing bits
    }

    #[test]
    fn text_limits() {
        assert!(short("s", &"x".repeat(256)).is_ok());
        assert!(short("s", &"x".repeat(257)).is_err());
        assert!(short("s", "a\nb").is_err());
        assert!(text("t", "a\nb", 10).is_ok());
        assert!(text("t", "a\u{0}b", 10).is_err());
    }
}
