//! Fabric policy expressions, parsed with a real parser.
//!
//! Two languages appear in a spec:
//! - signature policies in Fabric's DSL: `AND(...)`, `OR(...)`, `OutOf(n, ...)`
//!   (gates in `And`/`and`/`AND` spellings, as Fabric accepts) over principals
//!   `'Org1MSP.member'` with roles `member`, `admin`, `client`, `peer`, `orderer`;
//! - implicit meta policies: `ANY Readers`, `ALL Writers`, `MAJORITY Admins`.
//!
//! Errors carry the character offset into the expression so the validator can
//! point at the exact column of the YAML value.

use std::collections::BTreeSet;
use std::fmt;

/// A principal's role, as Fabric's DSL spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Member,
    Admin,
    Client,
    Peer,
    Orderer,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Member,
        Role::Admin,
        Role::Client,
        Role::Peer,
        Role::Orderer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Client => "client",
            Role::Peer => "peer",
            Role::Orderer => "orderer",
        }
    }

    fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// `'MSPID.role'`
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Principal {
    pub msp_id: String,
    pub role: Role,
    /// Character offset of the principal's opening quote in the expression.
    pub offset: usize,
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}.{}'", self.msp_id, self.role.as_str())
    }
}

/// A signature policy: AND and OR are `OutOf(len)` and `OutOf(1)`, as in Fabric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignaturePolicy {
    SignedBy(Principal),
    OutOf {
        n: usize,
        rules: Vec<SignaturePolicy>,
    },
}

impl SignaturePolicy {
    /// Every principal the policy names, in order of appearance.
    pub fn principals(&self) -> Vec<&Principal> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a Principal>) {
        match self {
            SignaturePolicy::SignedBy(p) => out.push(p),
            SignaturePolicy::OutOf { rules, .. } => rules.iter().for_each(|r| r.collect(out)),
        }
    }

    /// Whether signatures from these organizations (any role they need) satisfy it.
    /// Each organization counts once per principal it matches, like one identity
    /// per org signing with every role it has.
    pub fn satisfied_by(&self, orgs: &BTreeSet<String>) -> bool {
        match self {
            SignaturePolicy::SignedBy(p) => orgs.contains(&p.msp_id),
            SignaturePolicy::OutOf { n, rules } => {
                rules.iter().filter(|r| r.satisfied_by(orgs)).count() >= *n
            }
        }
    }

    /// Canonical text, e.g. `OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer')`.
    pub fn canonical(&self) -> String {
        match self {
            SignaturePolicy::SignedBy(p) => p.to_string(),
            SignaturePolicy::OutOf { n, rules } => {
                let inner: Vec<String> = rules.iter().map(|r| r.canonical()).collect();
                format!("OutOf({n}, {})", inner.join(", "))
            }
        }
    }
}

/// `ANY`, `ALL`, `MAJORITY` of a sub-policy of every sub-group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaRule {
    Any,
    All,
    Majority,
}

impl MetaRule {
    pub fn as_str(self) -> &'static str {
        match self {
            MetaRule::Any => "ANY",
            MetaRule::All => "ALL",
            MetaRule::Majority => "MAJORITY",
        }
    }
}

/// Any policy the spec may contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    ImplicitMeta {
        rule: MetaRule,
        sub_policy: String,
    },
    Signature(SignaturePolicy),
    /// A reference to a channel policy by path, e.g. `/Channel/Application/Endorsement`
    /// (only valid as a chaincode endorsement policy).
    Reference(String),
}

/// What is wrong with an expression, and where (character offset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub offset: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl PolicyError {
    fn new(offset: usize, message: impl Into<String>) -> Self {
        PolicyError {
            offset,
            message: message.into(),
            hint: None,
        }
    }
    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Parses any policy: implicit meta, signature, or (if `allow_reference`) a path.
pub fn parse_policy(text: &str, allow_reference: bool) -> Result<Policy, PolicyError> {
    let trimmed = text.trim_start();
    let lead = text.chars().count() - trimmed.chars().count();
    if trimmed.starts_with('/') {
        if !allow_reference {
            return Err(PolicyError::new(lead, "a policy reference is not allowed here")
                .hint("write a signature policy such as OR('Org1MSP.admin') or an implicit meta policy such as MAJORITY Admins"));
        }
        let path = trimmed.trim_end();
        if path.len() < 2 || path.ends_with('/') || path.contains("//") {
            return Err(
                PolicyError::new(lead, format!("malformed policy path {path:?}"))
                    .hint("use an absolute path like /Channel/Application/Endorsement"),
            );
        }
        return Ok(Policy::Reference(path.to_string()));
    }
    let first_word: String = trimmed
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    let upper = first_word.to_ascii_uppercase();
    if matches!(upper.as_str(), "ANY" | "ALL" | "MAJORITY")
        && (trimmed[first_word.len()..].starts_with(char::is_whitespace)
            || trimmed[first_word.len()..].is_empty())
    {
        return parse_implicit_meta(text, lead, &first_word);
    }
    parse_signature_policy(text).map(Policy::Signature)
}

fn parse_implicit_meta(text: &str, lead: usize, word: &str) -> Result<Policy, PolicyError> {
    let rule = match word {
        "ANY" => MetaRule::Any,
        "ALL" => MetaRule::All,
        "MAJORITY" => MetaRule::Majority,
        other => {
            return Err(PolicyError::new(
                lead,
                format!("implicit meta rule {other:?} must be upper case"),
            )
            .hint(format!("write {}", other.to_ascii_uppercase())));
        }
    };
    let rest = &text.trim_start()[word.len()..];
    let sub = rest.trim();
    let sub_offset =
        lead + word.chars().count() + (rest.chars().count() - rest.trim_start().chars().count());
    if sub.is_empty() {
        return Err(PolicyError::new(sub_offset, "missing sub-policy name")
            .hint(format!("write e.g. {} Admins", rule.as_str())));
    }
    if !sub
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(
            PolicyError::new(sub_offset, format!("invalid sub-policy name {sub:?}")).hint(
                "an implicit meta policy is `ANY|ALL|MAJORITY <PolicyName>`, e.g. MAJORITY Admins",
            ),
        );
    }
    Ok(Policy::ImplicitMeta {
        rule,
        sub_policy: sub.to_string(),
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Number(usize),
    Str(String),
    LParen,
    RParen,
    Comma,
    End,
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
}

impl Lexer {
    fn next(&mut self) -> Result<(usize, Tok), PolicyError> {
        while self.pos < self.chars.len() && self.chars[self.pos].is_whitespace() {
            self.pos += 1;
        }
        let start = self.pos;
        let Some(&c) = self.chars.get(self.pos) else {
            return Ok((start, Tok::End));
        };
        self.pos += 1;
        let tok = match c {
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            ',' => Tok::Comma,
            '\'' | '"' => {
                let mut s = String::new();
                loop {
                    match self.chars.get(self.pos) {
                        None => {
                            return Err(PolicyError::new(start, "unterminated string")
                                .hint(format!("close the principal with {c}")));
                        }
                        Some(&q) if q == c => {
                            self.pos += 1;
                            break;
                        }
                        Some(&other) => {
                            s.push(other);
                            self.pos += 1;
                        }
                    }
                }
                Tok::Str(s)
            }
            d if d.is_ascii_digit() => {
                let mut n = d.to_digit(10).unwrap_or(0) as usize;
                while let Some(d) = self.chars.get(self.pos).and_then(|c| c.to_digit(10)) {
                    n = n.saturating_mul(10).saturating_add(d as usize);
                    self.pos += 1;
                }
                Tok::Number(n)
            }
            a if a.is_ascii_alphabetic() => {
                let mut s = String::from(a);
                while let Some(&c) = self.chars.get(self.pos) {
                    if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' {
                        s.push(c);
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                Tok::Ident(s)
            }
            other => {
                return Err(PolicyError::new(start, format!("unexpected character {other:?}"))
                    .hint("a signature policy uses AND(...), OR(...), OutOf(n, ...) and quoted principals like 'Org1MSP.member'"));
            }
        };
        Ok((start, tok))
    }
}

struct Parser {
    lexer: Lexer,
    peeked: Option<(usize, Tok)>,
}

impl Parser {
    fn peek(&mut self) -> Result<&(usize, Tok), PolicyError> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lexer.next()?);
        }
        Ok(self.peeked.as_ref().expect("just filled"))
    }

    fn bump(&mut self) -> Result<(usize, Tok), PolicyError> {
        self.peek()?;
        Ok(self.peeked.take().expect("just peeked"))
    }

    fn expect(&mut self, want: Tok, what: &str) -> Result<usize, PolicyError> {
        let (at, tok) = self.bump()?;
        if tok == want {
            Ok(at)
        } else {
            Err(PolicyError::new(
                at,
                format!("expected {what}, found {}", describe(&tok)),
            ))
        }
    }

    fn rule(&mut self) -> Result<SignaturePolicy, PolicyError> {
        let (at, tok) = self.bump()?;
        match tok {
            Tok::Str(s) => principal(&s, at).map(SignaturePolicy::SignedBy),
            Tok::Ident(name) => {
                let gate = match name.as_str() {
                    "AND" | "And" | "and" => Gate::And,
                    "OR" | "Or" | "or" => Gate::Or,
                    "OutOf" | "outof" | "OUTOF" => Gate::OutOf,
                    _ => {
                        let hint = if name.contains('.') {
                            format!("principals are quoted: '{name}'")
                        } else {
                            "the gates are AND, OR and OutOf".to_string()
                        };
                        return Err(
                            PolicyError::new(at, format!("unknown gate {name:?}")).hint(hint)
                        );
                    }
                };
                self.expect(Tok::LParen, "'(' after the gate")?;
                let n = if gate == Gate::OutOf {
                    let (nat, ntok) = self.bump()?;
                    let Tok::Number(n) = ntok else {
                        return Err(PolicyError::new(nat, format!("expected a number, found {}", describe(&ntok)))
                            .hint("OutOf takes the required count first: OutOf(2, 'A.member', 'B.member')"));
                    };
                    self.expect(Tok::Comma, "',' after the count")?;
                    Some((n, nat))
                } else {
                    None
                };
                let mut rules = vec![self.rule()?];
                loop {
                    let (rat, rtok) = self.bump()?;
                    match rtok {
                        Tok::Comma => rules.push(self.rule()?),
                        Tok::RParen => break,
                        other => {
                            return Err(PolicyError::new(
                                rat,
                                format!("expected ',' or ')', found {}", describe(&other)),
                            ));
                        }
                    }
                }
                let n = match (gate, n) {
                    (Gate::And, _) => rules.len(),
                    (Gate::Or, _) => 1,
                    (Gate::OutOf, Some((n, nat))) => {
                        if n == 0 || n > rules.len() {
                            return Err(PolicyError::new(
                                nat,
                                format!("OutOf({n}, ...) with {} rule(s) can never be satisfied sensibly", rules.len()),
                            )
                            .hint(format!("the count must be between 1 and {}", rules.len())));
                        }
                        n
                    }
                    (Gate::OutOf, None) => unreachable!("OutOf always reads its count"),
                };
                Ok(SignaturePolicy::OutOf { n, rules })
            }
            other => Err(PolicyError::new(
                at,
                format!("expected a principal or a gate, found {}", describe(&other)),
            )
            .hint("e.g. OR('Org1MSP.member', 'Org2MSP.member')")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    And,
    Or,
    OutOf,
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Ident(s) => format!("{s:?}"),
        Tok::Number(n) => format!("number {n}"),
        Tok::Str(s) => format!("'{s}'"),
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::Comma => "','".into(),
        Tok::End => "end of policy".into(),
    }
}

fn principal(s: &str, at: usize) -> Result<Principal, PolicyError> {
    let Some((msp, role)) = s.rsplit_once('.') else {
        return Err(
            PolicyError::new(at, format!("principal '{s}' has no role")).hint(format!(
                "write '{s}.member', '{s}.admin', '{s}.peer' or '{s}.client'"
            )),
        );
    };
    if msp.is_empty()
        || !msp
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        return Err(
            PolicyError::new(at + 1, format!("invalid MSP ID {msp:?} in principal"))
                .hint("MSP IDs contain letters, digits, '.' and '-'"),
        );
    }
    let Some(role_parsed) = Role::parse(role) else {
        let hint = match role.to_ascii_lowercase().as_str() {
            r if Role::parse(r).is_some() => format!("roles are lower case: '{msp}.{r}'"),
            _ => "the roles are member, admin, client, peer and orderer".to_string(),
        };
        return Err(PolicyError::new(
            at + 1 + msp.chars().count() + 1,
            format!("unknown role {role:?}"),
        )
        .hint(hint));
    };
    Ok(Principal {
        msp_id: msp.to_string(),
        role: role_parsed,
        offset: at,
    })
}

/// Parses a signature policy in Fabric's DSL.
pub fn parse_signature_policy(text: &str) -> Result<SignaturePolicy, PolicyError> {
    let mut parser = Parser {
        lexer: Lexer {
            chars: text.chars().collect(),
            pos: 0,
        },
        peeked: None,
    };
    if matches!(parser.peek()?.1, Tok::End) {
        return Err(PolicyError::new(0, "empty policy").hint("e.g. OR('Org1MSP.member')"));
    }
    let rule = parser.rule()?;
    let (at, tok) = parser.bump()?;
    if tok != Tok::End {
        return Err(PolicyError::new(
            at,
            format!("unexpected {} after the end of the policy", describe(&tok)),
        )
        .hint("combine several rules with AND(...), OR(...) or OutOf(n, ...)"));
    }
    Ok(rule)
}

/// The ops channel's `Endorsement` policy as opssc writes it: a majority of
/// the members' peers, spelled out as a signature policy, e.g.
/// `OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')` (members
/// sorted; `None` without members).
///
/// Key decision: it means what Fabric's `MAJORITY Endorsement` means there
/// (each member's own `Endorsement` is `OR('<msp>.peer')`), but Fabric
/// checks an implicit meta policy by evaluating every member's sub-policy
/// against the whole signature set, verifying every endorsement once per
/// member: at ten members a vote of the OpsSC, endorsed by six peers, cost
/// each peer up to sixty signature checks instead of six, and the vote's
/// block took 180–480 ms to validate instead of 25–100 ms. The spelled-out
/// form names the members, so every config update that adds or removes a
/// member of the ops channel rewrites it in the same update
/// (`config_update::apply`).
pub fn members_majority_endorsement<'a>(
    members: impl IntoIterator<Item = &'a String>,
) -> Option<String> {
    let mut members: Vec<&String> = members.into_iter().collect();
    members.sort();
    members.dedup();
    if members.is_empty() {
        return None;
    }
    let principals: Vec<String> = members.iter().map(|m| format!("'{m}.peer'")).collect();
    Some(format!(
        "OutOf({}, {})",
        members.len() / 2 + 1,
        principals.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orgs(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_ops_endorsement_is_a_majority_of_the_members_peers() {
        let members: Vec<String> = ["Org3MSP", "Org1MSP", "Org2MSP", "Org1MSP"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let text = members_majority_endorsement(&members).unwrap();
        assert_eq!(
            text,
            "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')"
        );
        let Policy::Signature(p) = parse_policy(&text, false).unwrap() else {
            panic!("a signature policy");
        };
        assert!(p.satisfied_by(&orgs(&["Org1MSP", "Org3MSP"])));
        assert!(!p.satisfied_by(&orgs(&["Org2MSP"])));
        let ten: Vec<String> = (1..=10).map(|i| format!("Org{i}MSP")).collect();
        let Policy::Signature(p) =
            parse_policy(&members_majority_endorsement(&ten).unwrap(), false).unwrap()
        else {
            panic!("a signature policy");
        };
        assert!(p.satisfied_by(&ten[..6].iter().cloned().collect()));
        assert!(!p.satisfied_by(&ten[..5].iter().cloned().collect()));
        assert_eq!(members_majority_endorsement(&Vec::new()), None);
    }

    #[test]
    fn parses_gates_and_principals() {
        let p =
            parse_signature_policy("AND('Org1MSP.member', OR('Org2MSP.peer', \"Org3MSP.admin\"))")
                .unwrap();
        assert_eq!(
            p.canonical(),
            "OutOf(2, 'Org1MSP.member', OutOf(1, 'Org2MSP.peer', 'Org3MSP.admin'))"
        );
        let q = parse_signature_policy("outof(2, 'A.peer', 'B.peer', 'C.peer')").unwrap();
        assert!(q.satisfied_by(&orgs(&["A", "C"])));
        assert!(!q.satisfied_by(&orgs(&["A"])));
    }

    #[test]
    fn implicit_meta() {
        assert_eq!(
            parse_policy("MAJORITY Admins", false).unwrap(),
            Policy::ImplicitMeta {
                rule: MetaRule::Majority,
                sub_policy: "Admins".into()
            }
        );
        let e = parse_policy("MAJORITY", false).unwrap_err();
        assert_eq!(
            (e.offset, e.message.as_str()),
            (8, "missing sub-policy name")
        );
        let e = parse_policy("Majority Admins", false).unwrap_err();
        assert!(e.message.contains("upper case"), "{}", e.message);
    }

    #[test]
    fn errors_point_into_the_expression() {
        let e = parse_signature_policy("OR('Org1MSP.member', 'Org2MSP.boss')").unwrap_err();
        assert_eq!(e.offset, 30);
        assert_eq!(e.message, "unknown role \"boss\"");
        let e = parse_signature_policy("OR('Org1MSP.member' 'Org2MSP.peer')").unwrap_err();
        assert_eq!(e.offset, 20);
        let e = parse_signature_policy("OutOf(3, 'A.peer', 'B.peer')").unwrap_err();
        assert_eq!(e.offset, 6);
        let e = parse_signature_policy("XOR('A.peer')").unwrap_err();
        assert!(e.message.contains("unknown gate"));
        let e = parse_signature_policy("OR('A.peer'").unwrap_err();
        assert_eq!(e.message, "expected ',' or ')', found end of policy");
        let e = parse_signature_policy("OR(Org1MSP.peer)").unwrap_err();
        assert_eq!(
            e.hint.as_deref(),
            Some("principals are quoted: 'Org1MSP.peer'")
        );
    }

    #[test]
    fn references_only_where_allowed() {
        assert!(parse_policy("/Channel/Application/Endorsement", true).is_ok());
        assert!(parse_policy("/Channel/Application/Endorsement", false).is_err());
    }
}
