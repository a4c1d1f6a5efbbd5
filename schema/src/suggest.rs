//! "Did you mean" suggestions for misspelled names.

/// The closest candidate to `word`, if one is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            let exact_case_insensitive = c.to_ascii_lowercase() == lower;
            let distance = strsim::damerau_levenshtein(&lower, &c.to_ascii_lowercase());
            (c, if exact_case_insensitive { 0 } else { distance })
        })
        .filter(|(c, d)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(_, d)| *d)
        .map(|(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            did_you_mean("Org1MPS", ["Org1MSP", "Org2MSP"]),
            Some("Org1MSP")
        );
        assert_eq!(did_you_mean("mspid", ["mspId", "role"]), Some("mspId"));
        assert_eq!(did_you_mean("zzz", ["mspId", "role"]), None);
    }
}
