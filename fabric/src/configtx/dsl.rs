//! Fabric's signature policy language (`AND`, `OR`, `OutOf`, `'MSP.role'`)
//! compiled to a `SignaturePolicyEnvelope`, byte for byte as Fabric's
//! `policydsl.FromString` does it; and the implicit meta form (`MAJORITY Admins`).
//!
//! Key decision: the identity list follows Fabric's evaluation order, not a
//! tidy one. Fabric never deduplicates principals, and it evaluates a gate's
//! nested gates before the gate itself, so the principals of nested gates get
//! the lower indices: `OR('A.member', AND('B.member', 'C.member'))` lists B, C,
//! then A. Channel members compare these bytes, so we must match them.

use prost::Message;

use crate::protos::common::{
    ImplicitMetaPolicy, MspPrincipal, MspRole, SignaturePolicy, SignaturePolicyEnvelope,
    msp_principal::Classification, msp_role::MspRoleType, signature_policy,
};

use super::error::ConfigError;
use super::model::ImplicitMetaRule;

/// Compiles a signature policy expression such as
/// `OR('Org1MSP.admin', AND('Org2MSP.peer', 'Org3MSP.member'))`.
///
/// Accepted exactly as Fabric accepts it: gates `AND`/`And`/`and`,
/// `OR`/`Or`/`or`, `OutOf`/`outof`/`OUTOF` (`OutOf(n, ...)`, where `n` may be
/// at most one more than the number of arguments); principals
/// `'<MSP ID>.<member|admin|client|peer|orderer>'` in single or double quotes.
pub fn parse_signature_policy(input: &str) -> Result<SignaturePolicyEnvelope, ConfigError> {
    let err = |problem: String| ConfigError::PolicyDsl {
        input: input.to_string(),
        problem,
    };
    let mut parser = Parser {
        src: input.as_bytes(),
        pos: 0,
    };
    let gate = match parser.arg().map_err(err)? {
        Arg::Gate(g) => g,
        Arg::Principal(..) | Arg::Number(_) | Arg::Text(_) => {
            return Err(err(
                "the expression must be a gate (AND, OR or OutOf), not a bare value".into(),
            ));
        }
    };
    parser.skip_ws();
    if parser.pos != parser.src.len() {
        return Err(err(format!(
            "unexpected text after the policy at offset {}",
            parser.pos
        )));
    }
    let mut identities = Vec::new();
    let rule = compile(&gate, &mut identities).map_err(err)?;
    Ok(SignaturePolicyEnvelope {
        version: 0,
        rule: Some(rule),
        identities,
    })
}

/// Parses the implicit meta form Fabric's configtxgen accepts: exactly
/// `<ANY|ALL|MAJORITY> <SubPolicy>` separated by one space.
pub fn parse_implicit_meta(input: &str) -> Result<ImplicitMetaPolicy, ConfigError> {
    let invalid =
        |problem: String| ConfigError::invalid(format!("implicit meta policy {input:?}"), problem);
    let parts: Vec<&str> = input.split(' ').collect();
    if parts.len() != 2 {
        return Err(invalid(format!(
            "expected two space separated tokens like \"MAJORITY Admins\", but got {}",
            parts.len()
        )));
    }
    let rule = match parts[0] {
        "ANY" => ImplicitMetaRule::Any,
        "ALL" => ImplicitMetaRule::All,
        "MAJORITY" => ImplicitMetaRule::Majority,
        other => {
            return Err(invalid(format!(
                "unknown rule type '{other}', expected ALL, ANY, or MAJORITY"
            )));
        }
    };
    Ok(ImplicitMetaPolicy {
        sub_policy: parts[1].to_string(),
        rule: rule as i32,
    })
}

/// Renders a signature policy back into the policy language, for people to
/// read (plans, errors). `n` of 1 prints as `OR`, `n` equal to the number of
/// rules as `AND`, anything else as `OutOf`. Principals that are not roles are
/// printed in brackets, since the language cannot express them.
pub fn signature_policy_to_dsl(envelope: &SignaturePolicyEnvelope) -> String {
    match &envelope.rule {
        Some(rule) => render_rule(rule, &envelope.identities),
        None => "<empty policy>".to_string(),
    }
}

fn render_rule(rule: &SignaturePolicy, identities: &[MspPrincipal]) -> String {
    match &rule.r#type {
        Some(signature_policy::Type::SignedBy(i)) => usize::try_from(*i)
            .ok()
            .and_then(|i| identities.get(i))
            .map(render_principal)
            .unwrap_or_else(|| format!("<identity #{i} missing>")),
        Some(signature_policy::Type::NOutOf(n_out_of)) => {
            let parts: Vec<String> = n_out_of
                .rules
                .iter()
                .map(|r| render_rule(r, identities))
                .collect();
            let n = n_out_of.n;
            if n == 1 {
                format!("OR({})", parts.join(", "))
            } else if usize::try_from(n).is_ok_and(|n| n == parts.len()) {
                format!("AND({})", parts.join(", "))
            } else {
                format!("OutOf({n}, {})", parts.join(", "))
            }
        }
        None => "<empty rule>".to_string(),
    }
}

/// `'Org1MSP.admin'` for role principals, a bracketed description otherwise.
pub(crate) fn render_principal(principal: &MspPrincipal) -> String {
    if principal.principal_classification == Classification::Role as i32
        && let Ok(role) = MspRole::decode(principal.principal.as_slice())
    {
        let name = match MspRoleType::try_from(role.role) {
            Ok(MspRoleType::Member) => "member",
            Ok(MspRoleType::Admin) => "admin",
            Ok(MspRoleType::Client) => "client",
            Ok(MspRoleType::Peer) => "peer",
            Ok(MspRoleType::Orderer) => "orderer",
            Err(_) => "unknown-role",
        };
        return format!("'{}.{name}'", role.msp_identifier);
    }
    let kind = Classification::try_from(principal.principal_classification)
        .map(|c| c.as_str_name().to_string())
        .unwrap_or_else(|_| principal.principal_classification.to_string());
    format!("[{kind} principal]")
}

#[derive(Debug)]
enum Gate {
    And(Vec<Arg>),
    Or(Vec<Arg>),
    OutOf(Box<Arg>, Vec<Arg>),
}

#[derive(Debug)]
enum Arg {
    Gate(Gate),
    Principal(String, MspRoleType),
    Number(f64),
    /// A quoted string that is not a principal.
    Text(String),
}

struct Parser<'a> {
    src: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.pos < self.src.len() && self.src[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.src.get(self.pos).copied()
    }

    fn arg(&mut self) -> Result<Arg, String> {
        match self.peek() {
            None => Err("the expression ends where a value was expected".into()),
            Some(b'\'' | b'"') => {
                let text = self.string()?;
                Ok(match principal(&text) {
                    Some((msp, role)) => Arg::Principal(msp, role),
                    None => Arg::Text(text),
                })
            }
            Some(c) if c.is_ascii_digit() || c == b'.' => self.number(),
            Some(c) if c.is_ascii_alphabetic() => self.gate().map(Arg::Gate),
            Some(c) => Err(format!(
                "unexpected character '{}' at offset {}",
                c as char, self.pos
            )),
        }
    }

    /// A string literal: it starts with either quote and, as in Fabric's
    /// expression library, ends at the next quote of either kind; a backslash
    /// escapes the next character.
    fn string(&mut self) -> Result<String, String> {
        let start = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        while let Some(&c) = self.src.get(self.pos) {
            self.pos += 1;
            match c {
                b'\\' => {
                    if let Some(&escaped) = self.src.get(self.pos) {
                        out.push(escaped);
                        self.pos += 1;
                    }
                }
                b'\'' | b'"' => {
                    return String::from_utf8(out).map_err(|_| "string is not UTF-8".into());
                }
                _ => out.push(c),
            }
        }
        Err(format!(
            "unclosed string literal starting at offset {start}"
        ))
    }

    fn number(&mut self) -> Result<Arg, String> {
        let start = self.pos;
        while self
            .src
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_digit() || *c == b'.')
        {
            self.pos += 1;
        }
        let text = std::str::from_utf8(&self.src[start..self.pos]).unwrap_or_default();
        text.parse::<f64>()
            .map(Arg::Number)
            .map_err(|_| format!("cannot parse number '{text}'"))
    }

    fn gate(&mut self) -> Result<Gate, String> {
        let start = self.pos;
        while self
            .src
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'.')
        {
            self.pos += 1;
        }
        let name = String::from_utf8_lossy(&self.src[start..self.pos]).into_owned();
        let kind = match name.as_str() {
            "AND" | "And" | "and" => 0,
            "OR" | "Or" | "or" => 1,
            "OUTOF" | "OutOf" | "outof" => 2,
            _ => {
                return Err(format!(
                    "unrecognized token '{name}': principals must be quoted ('{name}') and \
                     gates are AND, OR or OutOf"
                ));
            }
        };
        if self.peek() != Some(b'(') {
            return Err(format!("expected '(' after {name}"));
        }
        self.pos += 1;
        let mut args = Vec::new();
        if self.peek() == Some(b')') {
            self.pos += 1;
        } else {
            loop {
                args.push(self.arg()?);
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b')') => {
                        self.pos += 1;
                        break;
                    }
                    Some(c) => {
                        return Err(format!(
                            "expected ',' or ')' in {name}(...) but found '{}' at offset {}",
                            c as char, self.pos
                        ));
                    }
                    None => return Err(format!("missing ')' to close {name}(")),
                }
            }
        }
        match kind {
            0 | 1 if args.is_empty() => Err(format!("{name}() needs at least one principal")),
            0 => Ok(Gate::And(args)),
            1 => Ok(Gate::Or(args)),
            _ => {
                if args.len() < 2 {
                    return Err(format!(
                        "expected at least two arguments to {name}, given {}",
                        args.len()
                    ));
                }
                let mut rest = args;
                let n = rest.remove(0);
                Ok(Gate::OutOf(Box::new(n), rest))
            }
        }
    }
}

/// Fabric's principal pattern: `^([[:alnum:].-]+)[.](admin|member|client|peer|orderer)$`.
/// The MSP ID part is greedy, so `a.b.member` is MSP `a.b`.
fn principal(text: &str) -> Option<(String, MspRoleType)> {
    let (msp, role) = text.rsplit_once('.')?;
    let role = match role {
        "admin" => MspRoleType::Admin,
        "member" => MspRoleType::Member,
        "client" => MspRoleType::Client,
        "peer" => MspRoleType::Peer,
        "orderer" => MspRoleType::Orderer,
        _ => return None,
    };
    let ok = !msp.is_empty()
        && msp
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-');
    ok.then(|| (msp.to_string(), role))
}

/// Builds the rule of one gate. Nested gates are compiled first (left to
/// right), then the gate's own principals get their indices, in order.
fn compile(gate: &Gate, identities: &mut Vec<MspPrincipal>) -> Result<SignaturePolicy, String> {
    let (threshold, args): (i64, &[Arg]) = match gate {
        Gate::And(args) => (args.len() as i64, args),
        Gate::Or(args) => (1, args),
        Gate::OutOf(n, args) => {
            let n = match n.as_ref() {
                // Fabric's expression library reads numbers as float64 and
                // the policy code truncates them.
                Arg::Number(x) => x.trunc() as i64,
                Arg::Text(t) => {
                    t.trim()
                        .parse::<f64>()
                        .map(|x| x.trunc() as i64)
                        .map_err(|_| {
                            format!("OutOf needs a number as its first argument, not '{t}'")
                        })?
                }
                Arg::Principal(msp, _) => {
                    return Err(format!(
                        "OutOf needs a number as its first argument, not the principal of {msp}"
                    ));
                }
                Arg::Gate(_) => {
                    return Err("OutOf needs a number as its first argument, not a gate".into());
                }
            };
            (n, args)
        }
    };
    let count = args.len() as i64;
    if threshold < 0 || threshold > count + 1 {
        return Err(format!(
            "invalid t-out-of-n predicate, t {threshold}, n {count}"
        ));
    }
    let mut rules: Vec<Option<SignaturePolicy>> = Vec::with_capacity(args.len());
    for arg in args {
        rules.push(match arg {
            Arg::Gate(inner) => Some(compile(inner, identities)?),
            _ => None,
        });
    }
    for (slot, arg) in rules.iter_mut().zip(args) {
        match arg {
            Arg::Gate(_) => {}
            Arg::Principal(msp, role) => {
                let index = i32::try_from(identities.len())
                    .map_err(|_| "too many principals".to_string())?;
                identities.push(MspPrincipal {
                    principal_classification: Classification::Role as i32,
                    principal: MspRole {
                        msp_identifier: msp.clone(),
                        role: *role as i32,
                    }
                    .encode_to_vec(),
                });
                *slot = Some(SignaturePolicy {
                    r#type: Some(signature_policy::Type::SignedBy(index)),
                });
            }
            Arg::Text(t) => {
                return Err(format!(
                    "'{t}' is not a principal: expected '<MSP ID>.<member|admin|client|peer|orderer>'"
                ));
            }
            Arg::Number(x) => {
                return Err(format!(
                    "unexpected number {x}: only OutOf takes a number, as its first argument"
                ));
            }
        }
    }
    Ok(SignaturePolicy {
        r#type: Some(signature_policy::Type::NOutOf(signature_policy::NOutOf {
            n: i32::try_from(threshold).map_err(|_| "threshold too large".to_string())?,
            rules: rules.into_iter().flatten().collect(),
        })),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principals(env: &SignaturePolicyEnvelope) -> Vec<(String, i32)> {
        env.identities
            .iter()
            .map(|p| {
                let r = MspRole::decode(p.principal.as_slice()).unwrap();
                (r.msp_identifier, r.role)
            })
            .collect()
    }

    fn leaf(i: i32) -> SignaturePolicy {
        SignaturePolicy {
            r#type: Some(signature_policy::Type::SignedBy(i)),
        }
    }

    fn gate(n: i32, rules: Vec<SignaturePolicy>) -> SignaturePolicy {
        SignaturePolicy {
            r#type: Some(signature_policy::Type::NOutOf(signature_policy::NOutOf {
                n,
                rules,
            })),
        }
    }

    #[test]
    fn nested_gates_take_the_lower_indices_and_nothing_is_deduplicated() {
        // The same shape configtxgen v2.5.9 produced for this rule (checked by
        // the differential test against configtxgen as well).
        let env = parse_signature_policy(
            "OR('A.member', AND('B.member', 'C.member'), OutOf(2, 'A.member', 'D.admin', OR('E.peer','A.member')))",
        )
        .unwrap();
        let m = MspRoleType::Member as i32;
        assert_eq!(
            principals(&env),
            vec![
                ("B".into(), m),
                ("C".into(), m),
                ("E".into(), MspRoleType::Peer as i32),
                ("A".into(), m),
                ("A".into(), m),
                ("D".into(), MspRoleType::Admin as i32),
                ("A".into(), m),
            ]
        );
        assert_eq!(
            env.rule.unwrap(),
            gate(
                1,
                vec![
                    leaf(6),
                    gate(2, vec![leaf(0), leaf(1)]),
                    gate(2, vec![leaf(4), leaf(5), gate(1, vec![leaf(2), leaf(3)])]),
                ]
            )
        );
    }

    #[test]
    fn spellings_quotes_and_numbers_follow_fabric() {
        let a = parse_signature_policy("and('Org1MSP.peer', \"Org2MSP.peer\")").unwrap();
        let b = parse_signature_policy("AND('Org1MSP.peer','Org2MSP.peer')").unwrap();
        assert_eq!(a, b);
        let c = parse_signature_policy("OutOf(2.0, 'Org1MSP.peer', 'Org2MSP.peer')").unwrap();
        assert_eq!(c, b);
        let d = parse_signature_policy("OutOf('2', 'Org1MSP.peer', 'Org2MSP.peer')").unwrap();
        assert_eq!(d, b);
        // Greedy MSP ID with dots and dashes.
        let e = parse_signature_policy("OR('org-1.example.com.admin')").unwrap();
        assert_eq!(
            principals(&e),
            vec![("org-1.example.com".into(), MspRoleType::Admin as i32)]
        );
        // Threshold may exceed the count by one (an unsatisfiable policy), not by two.
        assert!(parse_signature_policy("OutOf(2, 'A.member')").is_ok());
        assert!(parse_signature_policy("OutOf(3, 'A.member')").is_err());
    }

    #[test]
    fn invalid_expressions_are_rejected_with_the_input_named() {
        for bad in [
            "",
            "'Org1MSP.member'",
            "OR('Org1MSP.owner')",
            "OR(Org1MSP.member)",
            "OR()",
            "OutOf(1)",
            "AND('A.member', 2)",
            "OR('A.member'",
            "OR('A.member')x",
            "Or('A.member) ",
            "XOR('A.member')",
            "OR('.member')",
            "OR('A B.member')",
        ] {
            let err = parse_signature_policy(bad).expect_err(bad);
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn rendering_reads_back_to_the_same_policy() {
        for text in [
            "OR('Org1MSP.admin')",
            "AND('Org1MSP.peer', 'Org2MSP.peer')",
            "OutOf(2, 'A.member', 'B.member', 'C.client')",
            "OR(AND('A.peer', 'B.peer'), AND('C.orderer', 'D.admin'))",
        ] {
            let env = parse_signature_policy(text).unwrap();
            assert_eq!(signature_policy_to_dsl(&env), text);
        }
    }

    #[test]
    fn implicit_meta_is_strict_like_configtxgen() {
        let p = parse_implicit_meta("MAJORITY Admins").unwrap();
        assert_eq!(p.sub_policy, "Admins");
        assert_eq!(p.rule, ImplicitMetaRule::Majority as i32);
        assert!(parse_implicit_meta("majority Admins").is_err());
        assert!(parse_implicit_meta("ANY  Readers").is_err());
        assert!(parse_implicit_meta("ANY").is_err());
    }
}
