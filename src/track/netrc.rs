//! The API key from `~/.netrc` (or `$NETRC`): the `password` of the
//! `machine` entry for the API host, else of the `default` entry.

use std::path::{Path, PathBuf};

/// The netrc file to read: `$NETRC`, else `~/.netrc`.
pub fn default_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NETRC") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| Path::new(&h).join(".netrc"))
}

/// The password for `host` in netrc `text`.
pub fn password_for(text: &str, host: &str) -> Option<String> {
    // Entries: (machine, or None for `default`; password).
    let mut entries: Vec<(Option<String>, Option<String>)> = Vec::new();
    let mut tokens = text.split_whitespace();
    while let Some(t) = tokens.next() {
        match t {
            "machine" => entries.push((tokens.next().map(str::to_owned), None)),
            "default" => entries.push((None, None)),
            "password" => {
                let p = tokens.next().map(str::to_owned);
                if let Some(last) = entries.last_mut() {
                    last.1 = p;
                }
            }
            "login" | "account" => {
                tokens.next();
            }
            "macdef" => break,
            _ => {}
        }
    }
    let exact = entries.iter().find(|(m, _)| m.as_deref() == Some(host)).and_then(|(_, p)| p.clone());
    exact.or_else(|| entries.iter().find(|(m, _)| m.is_none()).and_then(|(_, p)| p.clone()))
}

#[cfg(test)]
mod tests {
    use super::password_for;

    #[test]
    fn the_entry_of_the_host_wins_over_default() {
        let text = "machine github.com login x password nope\nmachine api.wandb.ai\n  login user\n  password abc123\ndefault login u password fallback\n";
        assert_eq!(password_for(text, "api.wandb.ai").as_deref(), Some("abc123"));
        assert_eq!(password_for(text, "localhost").as_deref(), Some("fallback"));
        assert_eq!(password_for("machine a password b", "c"), None);
    }
}
