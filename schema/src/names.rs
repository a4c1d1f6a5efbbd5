//! Fabric's naming rules and the small value formats of the spec.
//!
//! Each check returns `Err((message, hint))` so the validator can put it at the
//! value's position. The rules are Fabric's own (channel and chaincode names,
//! versions, labels) so a spec that validates is one Fabric will accept.

use crate::spec::Endpoint;

type Check = Result<(), (String, String)>;

fn fail(message: impl Into<String>, hint: impl Into<String>) -> Check {
    Err((message.into(), hint.into()))
}

/// MSP IDs: what Fabric's policy DSL accepts in a principal (`[[:alnum:].-]+`).
pub fn check_msp_id(id: &str) -> Check {
    if id.is_empty() {
        return fail("empty MSP ID", "e.g. `Org1MSP`");
    }
    if id.len() > 128 {
        return fail(
            "MSP ID longer than 128 characters",
            "use a short identifier like `Org1MSP`",
        );
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '.' || *c == '-'))
    {
        return fail(
            format!("MSP ID {id:?} contains {c:?}"),
            "MSP IDs may contain letters, digits, '.' and '-' (policies cannot name others)",
        );
    }
    Ok(())
}

/// Channel names: `^[a-z][a-z0-9.-]*$`, shorter than 250 characters.
pub fn check_channel_name(name: &str) -> Check {
    let hint = "channel names are lower case: a letter, then letters, digits, '.' or '-'";
    if name.is_empty() {
        return fail("empty channel name", hint);
    }
    if name.len() >= 250 {
        return fail(
            format!("channel name is {} characters long", name.len()),
            "Fabric limits channel names to 249 characters",
        );
    }
    let mut chars = name.chars();
    let first = chars.next().expect("non-empty");
    if !first.is_ascii_lowercase() {
        return fail(
            format!("channel name {name:?} must start with a lower-case letter"),
            hint,
        );
    }
    if let Some(c) =
        chars.find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-'))
    {
        let h = if c.is_ascii_uppercase() {
            format!("write {:?}", name.to_ascii_lowercase())
        } else {
            hint.to_string()
        };
        return fail(format!("channel name {name:?} contains {c:?}"), h);
    }
    Ok(())
}

/// Chaincode names: `^[a-zA-Z0-9]+([-_][a-zA-Z0-9]+)*$`.
pub fn check_chaincode_name(name: &str) -> Check {
    let ok = !name.is_empty()
        && name
            .split(['-', '_'])
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric()));
    if ok {
        Ok(())
    } else {
        fail(
            format!("invalid chaincode name {name:?}"),
            "letters and digits, optionally joined by single '-' or '_' (e.g. `asset-transfer`)",
        )
    }
}

/// Chaincode versions: `^[A-Za-z0-9_.+-]+$`.
pub fn check_version(v: &str) -> Check {
    let ok = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.+-".contains(c));
    if ok {
        Ok(())
    } else {
        fail(
            format!("invalid chaincode version {v:?}"),
            "versions use letters, digits, '_', '.', '+' and '-' (e.g. \"1.2.0\")",
        )
    }
}

/// Package labels: `^[[:alnum:]][[:alnum:]_.+-]*$`.
pub fn check_label(l: &str) -> Check {
    let mut chars = l.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.+-".contains(c));
    if ok {
        Ok(())
    } else {
        fail(
            format!("invalid package label {l:?}"),
            "a label starts with a letter or digit, then letters, digits, '_', '.', '+', '-'",
        )
    }
}

/// Private data collection names: `^[A-Za-z0-9]+([-_][A-Za-z0-9]+)*$` like chaincodes.
pub fn check_collection_name(name: &str) -> Check {
    check_chaincode_name(name).map_err(|_| {
        (
            format!("invalid collection name {name:?}"),
            "letters and digits, optionally joined by single '-' or '_'".to_string(),
        )
    })
}

/// Node names inside an organization.
pub fn check_node_name(name: &str) -> Check {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if ok {
        Ok(())
    } else {
        fail(
            format!("invalid node name {name:?}"),
            "letters, digits, '-' and '.' (e.g. `peer0`)",
        )
    }
}

/// `host:port`.
pub fn parse_endpoint(s: &str) -> Result<Endpoint, (String, String)> {
    let hint = "write host:port, e.g. peer0.org1.example.com:7051";
    let Some((host, port)) = s.rsplit_once(':') else {
        return Err((format!("endpoint {s:?} has no port"), hint.into()));
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if !host_ok {
        return Err((format!("invalid host {host:?} in endpoint"), hint.into()));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(Endpoint {
            host: host.to_string(),
            port: p,
        }),
        _ => Err((
            format!("invalid port {port:?} in endpoint"),
            "ports are 1 to 65535".into(),
        )),
    }
}

/// A pinned git commit: 40 (SHA-1) or 64 (SHA-256) hex characters.
pub fn check_commit(c: &str) -> Check {
    let hex = c.chars().all(|ch| ch.is_ascii_hexdigit());
    if hex && (c.len() == 40 || c.len() == 64) {
        return Ok(());
    }
    if hex && c.len() >= 7 {
        return fail(
            format!("commit {c:?} is abbreviated"),
            "write the full 40-character commit hash (`git rev-parse <commit>`)",
        );
    }
    fail(
        format!("{c:?} is not a commit hash"),
        "pin a commit: a branch or tag can move, so every org could build different code; use `git rev-parse <ref>`",
    )
}

/// A chaincode source repository URL without credentials: the spec is
/// shared, so a password, or a token in the user part of an `http(s)` URL,
/// would reach every organization (and the proposals on the chain).
pub fn check_repo_url(url: &str) -> Check {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Ok(());
    };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return Ok(());
    };
    let http = matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https");
    if userinfo.contains(':') || http {
        return fail(
            "the repository URL carries credentials".to_string(),
            format!(
                "write it as {scheme}://{host}{} and give each organization's credentials in its agent configuration (`gitCredentials`)",
                &rest[authority.len()..]
            ),
        );
    }
    Ok(())
}

/// `sha256:<64 hex>`.
pub fn check_artifact(a: &str) -> Check {
    match a.strip_prefix("sha256:") {
        Some(h) if h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()) => Ok(()),
        _ => fail(
            format!("invalid artifact digest {a:?}"),
            "write `sha256:` followed by the 64 hex digits of the server binary or image digest",
        ),
    }
}

/// A `fabricVersion` opssc supports ([`crate::FabricVersion`]).
pub fn fabric_version_ok(v: &str) -> bool {
    crate::FabricVersion::parse(v).is_some()
}

/// ACL resource names: `<area>/<Resource>`.
pub fn acl_resource_ok(r: &str) -> bool {
    r.split_once('/').is_some_and(|(a, b)| {
        !a.is_empty()
            && !b.is_empty()
            && a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && b.chars().all(|c| c.is_ascii_alphanumeric())
    })
}

/// Fabric/Go durations: `500ms`, `2s`, `1m30s`, `72h`.
pub fn parse_duration_ms(s: &str) -> Result<u64, String> {
    let hint = "write a duration like 500ms, 2s, 5m or 72h";
    let s = s.trim();
    if s.is_empty() {
        return Err(hint.into());
    }
    let mut total: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        if digits.is_empty() {
            return Err(hint.into());
        }
        rest = &rest[digits.len()..];
        let unit: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        rest = &rest[unit.len()..];
        let n: u64 = digits.parse().map_err(|_| hint.to_string())?;
        let factor = match unit.as_str() {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => return Err(hint.into()),
        };
        total = total
            .checked_add(n.checked_mul(factor).ok_or(hint)?)
            .ok_or(hint)?;
    }
    Ok(total)
}

/// Byte sizes: `1048576`, `512 KB`, `10 MB` (binary units, as configtxgen reads them).
pub fn parse_bytes(s: &str) -> Result<u32, String> {
    let s = s.trim();
    let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
    let unit = s[digits.len()..].trim();
    let n: u64 = digits.parse().map_err(|_| "no number".to_string())?;
    let factor: u64 = match unit {
        "" | "B" => 1,
        "KB" | "K" => 1024,
        "MB" | "M" => 1024 * 1024,
        "GB" | "G" => 1024 * 1024 * 1024,
        _ => return Err("unknown unit".into()),
    };
    u32::try_from(n * factor).map_err(|_| "too large".into())
}

/// An OpenSSH public key line: `<type> <base64> [comment]`, the blob naming the same type.
pub fn check_ssh_public_key(line: &str) -> Check {
    const TYPES: &[&str] = &[
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "ssh-rsa",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    ];
    let hint = "paste the admin's public key line, e.g. the content of ~/.ssh/id_ed25519.pub";
    if line.contains("PRIVATE KEY") {
        return fail(
            "this is a private key",
            "never put private keys in the spec; use the .pub file and rotate this key",
        );
    }
    let mut parts = line.split_whitespace();
    let (Some(kind), Some(blob)) = (parts.next(), parts.next()) else {
        return fail("not an OpenSSH public key", hint);
    };
    if !TYPES.contains(&kind) {
        return fail(
            format!("unsupported key type {kind:?}"),
            format!("supported: {}", TYPES.join(", ")),
        );
    }
    use base64::Engine as _;
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(blob) else {
        return fail("the key's base64 blob does not decode", hint);
    };
    let declared = bytes
        .get(..4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let inner = declared.and_then(|n| bytes.get(4..4 + n));
    if inner != Some(kind.as_bytes()) {
        return fail("the key blob does not match its type", hint);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fabric_names() {
        assert!(check_channel_name("trade").is_ok());
        assert!(check_channel_name("my.channel-1").is_ok());
        assert!(check_channel_name("Trade").is_err());
        assert!(check_channel_name("1trade").is_err());
        assert!(check_channel_name(&"a".repeat(250)).is_err());
        assert!(check_channel_name(&"a".repeat(249)).is_ok());
        assert!(check_chaincode_name("asset-transfer_2").is_ok());
        assert!(check_chaincode_name("asset--x").is_err());
        assert!(check_chaincode_name("-x").is_err());
        assert!(check_version("1.2.0+build").is_ok());
        assert!(check_version("1 2").is_err());
        assert!(check_label("basic_1.0").is_ok());
        assert!(check_label("_basic").is_err());
        assert!(check_msp_id("Org1MSP").is_ok());
        assert!(check_msp_id("Org 1").is_err());
    }

    #[test]
    fn values() {
        assert_eq!(parse_duration_ms("1m30s"), Ok(90_000));
        assert_eq!(parse_duration_ms("500ms"), Ok(500));
        assert!(parse_duration_ms("5 minutes").is_err());
        assert_eq!(parse_bytes("10 MB"), Ok(10 * 1024 * 1024));
        assert!(parse_bytes("10 XB").is_err());
        assert_eq!(
            parse_endpoint("peer0.org1.example.com:7051").unwrap().port,
            7051
        );
        assert!(parse_endpoint("peer0:0").is_err());
        assert!(parse_endpoint("peer0").is_err());
        assert!(check_commit(&"a".repeat(40)).is_ok());
        assert!(check_commit("main").is_err());
        assert!(check_repo_url("https://git.example.com/cc.git").is_ok());
        assert!(check_repo_url("ssh://git@git.example.com/cc.git").is_ok());
        assert!(check_repo_url("file:///srv/cc").is_ok());
        let (msg, hint) = check_repo_url("https://bot:s3cret@git.example.com/cc.git").unwrap_err();
        assert!(
            !msg.contains("s3cret") && !hint.contains("s3cret"),
            "{msg} {hint}"
        );
        assert!(hint.contains("https://git.example.com/cc.git"), "{hint}");
        assert!(check_repo_url("https://ghp_token@github.com/o/cc").is_err());
        assert!(check_repo_url("ssh://git:pw@host/cc").is_err());
        assert!(check_artifact(&format!("sha256:{}", "0".repeat(64))).is_ok());
    }

    #[test]
    fn ssh_keys() {
        // A syntactically valid ed25519 public key blob: type string then 32 key bytes.
        use base64::Engine as _;
        let mut blob = Vec::new();
        blob.extend_from_slice(&11u32.to_be_bytes());
        blob.extend_from_slice(b"ssh-ed25519");
        blob.extend_from_slice(&32u32.to_be_bytes());
        blob.extend_from_slice(&[7u8; 32]);
        let line = format!(
            "ssh-ed25519 {} alice@org1",
            base64::engine::general_purpose::STANDARD.encode(&blob)
        );
        assert!(check_ssh_public_key(&line).is_ok());
        let wrong = line.replacen("ssh-ed25519", "ssh-rsa", 1);
        assert!(check_ssh_public_key(&wrong).is_err());
        assert!(check_ssh_public_key("ssh-ed25519 !!!").is_err());
    }
}
